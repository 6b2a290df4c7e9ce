"""The local executor: a pool of job processes on this machine, with disjoint GPU sets.

At most ``parallel`` jobs run at once, and a job starts only when ``gpus_per_job`` GPUs are
free; it gets exactly those (``CUDA_VISIBLE_DEVICES`` and ``aira-dsl run --gpus``) and gives
them back when it ends, so concurrent jobs never share a GPU. Each job is ``python -m
aira_dsl.sweep.job`` in its own session; Ctrl-C (or SIGTERM) stops launching, asks running jobs
to stop cleanly (they are recorded as cancelled; ``sweep resume`` continues them), and a
second Ctrl-C aborts their in-flight nodes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import replace
from typing import Any

from aira_dsl.sweep.errors import SweepError
from aira_dsl.sweep.executors.base import Changes, Executor, LaunchContext
from aira_dsl.sweep.job import JobSpec
from aira_dsl.sweep.model import LocalSettings
from aira_dsl.sweep.records import read_state

__all__ = ["LocalExecutor", "outcome_changes"]

POLL_S = 0.1


def outcome_changes(record: dict[str, Any] | None, exit_desc: str, *, interrupted_as: str) -> dict[str, Any]:
    """Manifest fields for a job whose process ended, from the record it left (if any)."""
    now = time.time()
    if record is None or record.get("state") == "running":
        return {"state": "failed", "reason": f"the job process ended ({exit_desc}) before it recorded an outcome",
                "ended_at": now}
    outcome = record.get("outcome") or record.get("state")
    if outcome == "finished":
        return {"state": "finished", "reason": None, "ended_at": now, "steps": record.get("steps")}
    if outcome == "interrupted":
        return {"state": interrupted_as, "reason": record.get("reason"), "ended_at": now, "steps": record.get("steps")}
    return {"state": "failed", "reason": record.get("reason") or f"the job failed ({exit_desc})", "ended_at": now,
            "steps": record.get("steps")}


class LocalExecutor(Executor):
    kind = "local"
    attached = True

    def __init__(self, settings: LocalSettings):
        self.settings = settings

    def gpu_pool(self) -> list[int]:
        if self.settings.gpus is not None:
            return list(self.settings.gpus)
        if self.settings.gpus_per_job == 0:
            return []
        from aira_dsl.sandbox.gpus import available_gpu_indices

        return available_gpu_indices()

    def slots(self) -> int:
        per = self.settings.gpus_per_job
        if per == 0:
            return self.settings.parallel
        return min(self.settings.parallel, len(self.gpu_pool()) // per)

    def preflight(self) -> None:
        per = self.settings.gpus_per_job
        if per and len(self.gpu_pool()) < per:
            pool = self.gpu_pool()
            raise SweepError(f"each job asks for {per} GPU(s) but this machine has {len(pool)} to hand out"
                             + (f" ({', '.join(map(str, pool))})" if pool else ""),
                             "lower executor.local.gpus_per_job, list the GPUs in executor.local.gpus, "
                             "or use --executor slurm|ray")

    def resources(self) -> dict[str, Any]:
        return {"executor": "local", "parallel": self.settings.parallel, "gpus_per_job": self.settings.gpus_per_job,
                "gpus": self.gpu_pool() if self.settings.gpus_per_job else [],
                "jobs_at_once": max(self.slots(), 0)}

    def launch(self, ctx: LaunchContext) -> None:
        per = self.settings.gpus_per_job
        free = self.gpu_pool() if per else []
        slots = self.slots()
        queue = deque(ctx.specs)
        running: dict[str, tuple[subprocess.Popen[bytes], list[int]]] = {}
        stops = 0

        def on_signal(signum: int, frame: object) -> None:
            nonlocal stops
            stops += 1
            ctx.say("stopping the sweep: running jobs stop cleanly (Ctrl-C again to abort their nodes in flight)"
                    if stops == 1 else "aborting the running jobs' nodes in flight")
            for proc, _ in running.values():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGINT)

        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        with contextlib.suppress(ValueError):  # not the main thread: no signal handling
            for sig in previous:
                signal.signal(sig, on_signal)
        try:
            while queue or running:
                while queue and not stops and len(running) < slots and len(free) >= per:
                    spec = queue.popleft()
                    gpus, free = free[:per], free[per:]
                    running[spec.key] = (self._start(ctx, spec, gpus), gpus)
                if stops and queue:
                    ctx.on_change({s.key: {"state": "pending", "reason": "not started: the sweep was stopped"}
                                   for s in queue})
                    queue.clear()
                ended: Changes = {}
                for key, (proc, gpus) in list(running.items()):
                    rc = proc.poll()
                    if rc is None:
                        continue
                    del running[key]
                    free = sorted(free + gpus)
                    desc = f"exit code {rc}" if rc >= 0 else f"killed by signal {-rc}"
                    ended[key] = outcome_changes(read_state(ctx.sweep_dir.job_dir(key)), desc,
                                                 interrupted_as="cancelled")
                    why = ended[key].get("reason")
                    ctx.say(f"{key}: {ended[key]['state']}" + (f" ({why})" if why else ""))
                if ended:
                    ctx.on_change(ended)
                time.sleep(POLL_S)
        finally:
            for sig, handler in previous.items():
                with contextlib.suppress(ValueError, TypeError):
                    signal.signal(sig, handler)

    def _start(self, ctx: LaunchContext, spec: JobSpec, gpus: list[int]) -> subprocess.Popen[bytes]:
        job = replace(spec, gpus=gpus if self.settings.gpus_per_job else None)
        job_dir = ctx.sweep_dir.job_dir(spec.key)
        job_dir.mkdir(parents=True, exist_ok=True)
        spec_file = job_dir / "job.json"
        spec_file.write_text(json.dumps(job.to_dict(), indent=2) + "\n", encoding="utf-8")
        with open(job_dir / "job.log", "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "aira_dsl.sweep.job", str(spec_file)],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        ctx.on_change({spec.key: {"state": "running", "engine_id": f"local:{proc.pid}", "gpus": gpus,
                                  "started_at": time.time(), "reason": None}})
        ctx.say(f"started {spec.key}" + (f" on GPU {','.join(map(str, gpus))}" if gpus else ""))
        return proc
