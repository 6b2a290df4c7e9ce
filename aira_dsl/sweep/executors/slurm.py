"""The SLURM executor: one job array per launch, submitted through submitit.

Each job asks for its GPUs as ``--gres=gpu:N`` (SLURM sets its ``CUDA_VISIBLE_DEVICES``), its
CPUs, memory, time limit, partition, account and QoS, plus any extra sbatch options; the array
runs at most ``array_parallelism`` jobs at once. submitit makes SLURM signal a job
``signal_delay`` before its time limit; the job then stops its run cleanly, records itself as
preempted and requeues itself (up to ``max_requeues`` times), and the requeued job continues
the same run with ``--resume``. A job preempted by the scheduler is requeued by SLURM and
continues the same way.

The executor is detached: ``aira-dsl sweep`` returns once the array is submitted (unless
``--wait``), and ``sweep status`` asks SLURM what became of the jobs (see
:mod:`~aira_dsl.sweep.executors.slurm_query`, which works without accounting).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from typing import Any

from aira_dsl.sweep.errors import SweepError
from aira_dsl.sweep.executors.base import EngineState, Executor, LaunchContext, require_module
from aira_dsl.sweep.model import SlurmSettings

__all__ = ["SlurmExecutor"]

CHECK_TIMEOUT_S = 20


class SlurmExecutor(Executor):
    kind = "slurm"
    attached = False

    def __init__(self, settings: SlurmSettings):
        self.settings = settings

    # ------------------------------------------------------------------ checks

    def preflight(self) -> None:
        require_module("submitit", "slurm", "slurm")
        missing = [tool for tool in ("sbatch", "squeue", "scontrol", "srun") if shutil.which(tool) is None]
        if missing:
            raise SweepError(f"SLURM is not reachable from here: {', '.join(missing)} not found on PATH",
                             "run the sweep on a SLURM login node (or install the SLURM client tools and "
                             "set SLURM_CONF), or use --executor local|ray")
        partitions = self._partitions()
        wanted = self.settings.partition
        if wanted and wanted not in partitions:
            raise SweepError(f"SLURM has no partition '{wanted}'",
                             f"partitions here: {', '.join(sorted(partitions)) or 'none'}; "
                             "set executor.slurm.partition")

    def _partitions(self) -> set[str]:
        try:
            done = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True,
                                  timeout=CHECK_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise SweepError(f"SLURM is not reachable: sinfo did not answer in {CHECK_TIMEOUT_S} s",
                             "check that slurmctld is running and SLURM_CONF points at its slurm.conf") from None
        except OSError as exc:
            raise SweepError(f"SLURM is not reachable: {exc}", "check the SLURM client installation") from None
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["no answer"])[-1]
            raise SweepError(f"SLURM is not reachable: {first}",
                             "check that slurmctld is running and SLURM_CONF points at its slurm.conf, "
                             "or use --executor local|ray")
        return {p.strip().rstrip("*") for p in done.stdout.split() if p.strip()}

    def resources(self) -> dict[str, Any]:
        s = self.settings
        return {"executor": "slurm", "partition": s.partition, "gres": s.gres, "gpus_per_job": s.gpus_per_job,
                "cpus_per_job": s.cpus_per_job, "mem_gb": s.mem_gb, "time_s": s.time,
                "signal_delay_s": s.signal_delay, "max_requeues": s.max_requeues,
                "array_parallelism": s.array_parallelism, "account": s.account, "qos": s.qos,
                "sbatch": dict(s.sbatch), "jobs_at_once": s.array_parallelism}

    # ------------------------------------------------------------------ launching

    def parameters(self, name: str) -> dict[str, Any]:
        """submitit's SlurmExecutor parameters for these settings."""
        s = self.settings
        params: dict[str, Any] = {
            "job_name": f"aira-sweep-{name}"[:60], "time": max(1, math.ceil(s.time / 60)),
            "cpus_per_task": s.cpus_per_job, "signal_delay_s": int(s.signal_delay),
            "array_parallelism": s.array_parallelism, "stderr_to_stdout": True,
        }
        # sbatch reads a bare --mem number as megabytes, and refuses a fraction: say MB explicitly.
        mem = f"{max(1, round(s.mem_gb * 1024))}M" if s.mem_gb is not None else None
        optional = {"partition": s.partition, "gres": s.gres, "mem": mem, "account": s.account, "qos": s.qos}
        params.update({k: v for k, v in optional.items() if v is not None})
        if s.sbatch:
            params["additional_parameters"] = {k.replace("_", "-"): v for k, v in s.sbatch.items()}
        return params

    def launch(self, ctx: LaunchContext) -> None:
        import submitit

        from aira_dsl.sweep.executors.slurm_job import SlurmSweepJob

        folder = ctx.sweep_dir.engine_dir / "slurm" / "%j"
        executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=self.settings.max_requeues)
        try:
            executor.update_parameters(**self.parameters(ctx.name))
        except ValueError as exc:
            raise SweepError(f"bad SLURM settings: {str(exc).splitlines()[0]}",
                             "check executor.slurm (sbatch options take their sbatch long names)") from None
        grace = max(5.0, min(300.0, self.settings.signal_delay * 0.6))
        try:
            with executor.batch():
                jobs = [executor.submit(SlurmSweepJob(spec.to_dict(), grace)) for spec in ctx.specs]
        except Exception as exc:  # sbatch refused: nothing was queued
            detail = str(exc).strip().splitlines()
            ctx.on_change({s.key: {"state": "pending", "reason": f"submission failed: {detail[-1] if detail else exc}"}
                           for s in ctx.specs})
            raise SweepError(f"SLURM refused the job array: {detail[-1] if detail else exc}",
                             "check the partition, account, QoS and resources in executor.slurm") from None
        now = time.time()
        ctx.on_change({spec.key: {"state": "queued", "engine_id": job.job_id, "submitted_at": now, "reason": None}
                       for spec, job in zip(ctx.specs, jobs, strict=True)})
        first = jobs[0].job_id.split("_")[0] if jobs else "?"
        ctx.say(f"submitted {len(jobs)} job(s) to SLURM as array {first}")

    def engine_states(self, engine_ids: dict[str, str]) -> dict[str, EngineState]:
        from aira_dsl.sweep.executors.slurm_query import query_states

        states = query_states(engine_ids.values())
        return {key: states[job_id] for key, job_id in engine_ids.items() if job_id in states}
