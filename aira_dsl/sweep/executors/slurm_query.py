"""Asking SLURM what became of jobs: ``squeue`` for live ones, then ``sacct`` or ``scontrol``.

submitit finds job states with ``sacct`` only, which needs SLURM's accounting database
(slurmdbd); without it, cancelled or killed jobs would never resolve. So aira-dsl asks in
this order and never depends on accounting:

1. ``squeue -r -j IDS`` — every job the controller still schedules (array tasks one per line);
2. ``sacct -X -P -j IDS`` — ended jobs, when accounting is enabled;
3. ``scontrol show job -o ID`` — ended jobs the controller still remembers (``MinJobAge``);
4. otherwise the job is GONE, and the job's own records decide (a job that ended without
   recording an outcome has failed).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable

from aira_dsl.sweep.executors.base import EngineState

__all__ = ["SlurmUnavailable", "engine_state", "query_states"]

TIMEOUT_S = 30

_LIVE_QUEUED = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD",
                "SPECIAL_EXIT", "POWER_UP_NODE"}
_LIVE_RUNNING = {"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESIZING", "SUSPENDED", "STOPPED"}
_ENDED = {
    "COMPLETED": (None, None),
    "CANCELLED": ("failed", "cancelled in SLURM (scancel or an administrator)"),
    "FAILED": ("failed", "the SLURM job failed"),
    "TIMEOUT": ("failed", "the SLURM job reached its time limit and was not requeued"),
    "NODE_FAIL": ("failed", "the node running the job failed"),
    "OUT_OF_MEMORY": ("failed", "the SLURM job ran out of memory"),
    "BOOT_FAIL": ("failed", "the node could not boot for the job"),
    "DEADLINE": ("failed", "the job missed its deadline"),
    "PREEMPTED": ("preempted", "preempted by SLURM"),
    "REVOKED": ("failed", "the job was revoked"),
}


def engine_state(raw: str) -> EngineState:
    """The meaning of a SLURM state word (``CANCELLED by 0`` counts as CANCELLED)."""
    word = raw.split()[0].rstrip("+").upper() if raw.strip() else "GONE"
    if word in _LIVE_QUEUED:
        return EngineState(word, True, "queued")
    if word in _LIVE_RUNNING:
        return EngineState(word, True, "running")
    if word in _ENDED:
        state, reason = _ENDED[word]
        return EngineState(word, False, state, reason)
    if word == "GONE":
        return EngineState("GONE", False, "failed", "SLURM no longer knows the job, and it recorded no outcome")
    return EngineState(word, False, "failed", f"SLURM state {word}")


def _run(args: list[str]) -> str | None:
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _base(job_id: str) -> str:
    return job_id.split("_", 1)[0]


class SlurmUnavailable(Exception):
    """squeue cannot be run or does not answer: job states cannot be known from here."""


def _squeue(ids: set[str]) -> dict[str, str]:
    out = _run(["squeue", "-h", "-r", "-j", ",".join(sorted({_base(i) for i in ids})), "-o", "%i|%T"])
    if out is None:
        raise SlurmUnavailable("squeue is not available or did not answer")
    found: dict[str, str] = {}
    for line in out.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 2 and parts[0] in ids:
            found[parts[0]] = parts[1]
    return found


def _sacct(ids: set[str]) -> dict[str, str]:
    out = _run(["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", ",".join(sorted({_base(i) for i in ids}))])
    found: dict[str, str] = {}
    for line in (out or "").splitlines():
        parts = line.strip().split("|")
        if len(parts) == 2 and parts[0] in ids:
            found[parts[0]] = parts[1]
    return found


def _scontrol(ids: set[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for base in sorted({_base(i) for i in ids}):
        out = _run(["scontrol", "show", "job", "-o", base])
        for line in (out or "").splitlines():
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            array, task = fields.get("ArrayJobId"), fields.get("ArrayTaskId")
            job_id = f"{array}_{task}" if array and task and task.isdigit() else fields.get("JobId", "")
            if job_id in ids and "JobState" in fields:
                found[job_id] = fields["JobState"]
    return found


def query_states(job_ids: Iterable[str]) -> dict[str, EngineState]:
    """SLURM job id (``123`` or ``123_4``) -> its state; ids nobody knows come back as GONE.

    Raises :class:`SlurmUnavailable` when squeue cannot be asked (then nothing can be said:
    a job must not be declared gone because this machine cannot see the cluster).
    """
    wanted = {i for i in job_ids if i}
    raw = _squeue(wanted) if wanted else {}
    rest = wanted - set(raw)
    if rest:
        raw.update(_sacct(rest))
        rest = wanted - set(raw)
    if rest:
        raw.update(_scontrol(rest))
    return {job_id: engine_state(raw.get(job_id, "GONE")) for job_id in wanted}
