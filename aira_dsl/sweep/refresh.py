"""Working out each job's state from everything that knows something about it.

The manifest says what the controller last saw; the job's own records say how its latest
attempt went; the run's ``run.json`` says whether the run finished; the scheduler (SLURM) says
whether it still has the job. :func:`reconcile` combines them with fixed precedence (a recorded
finished run wins; a live scheduler job is queued or running; a job that ended without
recording an outcome has failed), and :func:`refresh` applies that to every job and writes the
changes to the manifest in one atomic update.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aira_dsl.sweep.executors.base import EngineState
from aira_dsl.sweep.records import read_attempts, read_state
from aira_dsl.sweep.states import ACTIVE
from aira_dsl.sweep.sweepdir import SweepDir

__all__ = ["reconcile", "refresh"]


def _run_info(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def reconcile(entry: dict[str, Any], record: dict[str, Any] | None, run: dict[str, Any],
              engine: EngineState | None, controller_alive: bool) -> dict[str, Any]:
    """The fields of ``entry`` that should change (empty when it is up to date).

    ``record`` is the job's ``state.json`` if it belongs to the entry's current launch.
    """
    state = entry.get("state")
    if state in ("pending", "finished"):
        return {}
    if state not in ACTIVE:  # failed / cancelled / preempted: only a scheduler requeue revives it
        if engine is not None and engine.live and engine.state and entry.get("executor") == "slurm":
            return {"state": engine.state, "reason": None}
        return {}
    recorded = record.get("state") if record else None
    if recorded == "finished":
        return {"state": "finished", "reason": None, "steps": record.get("steps") if record else None}
    if entry.get("executor") == "slurm":
        return _reconcile_slurm(entry, record, run, engine, controller_alive)
    if controller_alive:
        if state == "queued" and recorded == "running":
            return {"state": "running"}
        return {}
    # The process that drove this local or Ray job has gone: the job cannot still be running.
    if record is None and not entry.get("engine_id"):
        return {"state": "pending", "reason": "never started (the sweep process ended before launching it)"}
    if recorded == "failed":
        return {"state": "failed", "reason": record.get("reason") if record else None}
    if recorded == "interrupted":
        return {"state": "cancelled", "reason": record.get("reason") if record else None}
    if run.get("status") == "finished":
        return {"state": "finished", "reason": None}
    return {"state": "failed", "reason": "the sweep process that drove this job ended before the job did"}


def _reconcile_slurm(entry: dict[str, Any], record: dict[str, Any] | None, run: dict[str, Any],
                     engine: EngineState | None, controller_alive: bool) -> dict[str, Any]:
    state = entry.get("state")
    if not entry.get("engine_id"):
        if record and record.get("engine_id"):
            return {"engine_id": record["engine_id"], "state": "running" if record.get("state") == "running" else state}
        if not controller_alive:
            return {"state": "pending", "reason": "the submission was not confirmed (the submitting process ended)"}
        return {}
    if engine is None:
        return {}
    if engine.live:
        new = engine.state or state
        return {"state": new, "reason": None} if new != state else {}
    recorded = record.get("state") if record else None
    if recorded == "failed":
        return {"state": "failed", "reason": record.get("reason") if record else None}
    if recorded == "interrupted" and record and record.get("reason") == "preempted" \
            and engine.raw in ("COMPLETED", "PREEMPTED", "GONE"):
        return {"state": "preempted", "reason": "preempted (or at its time limit) and not requeued"}
    if engine.state is None:  # COMPLETED: the job's records decide
        if run.get("status") == "finished":
            return {"state": "finished", "reason": None}
        why = record.get("reason") if record else None
        return {"state": "failed", "reason": why or "the SLURM job ended without its run finishing"}
    return {"state": engine.state, "reason": engine.reason}


def refresh(sweep_dir: SweepDir, notes: list[str] | None = None) -> dict[str, Any]:
    """Update every job's state (and attempt count, steps) in the manifest; returns the manifest.

    ``notes`` receives what could not be checked (e.g. SLURM not reachable from here).
    """
    data = sweep_dir.read()
    alive = sweep_dir.controller_alive()
    slurm_ids = {key: e["engine_id"] for key, e in data["jobs"].items()
                 if e.get("executor") == "slurm" and e.get("engine_id") and e.get("state") != "finished"
                 and e.get("state") != "pending"}
    engines: dict[str, EngineState] = {}
    if slurm_ids:
        from aira_dsl.sweep.executors.slurm_query import SlurmUnavailable, query_states

        try:
            by_id = query_states(slurm_ids.values())
        except SlurmUnavailable as exc:
            by_id = {}
            if notes is not None:
                notes.append(f"SLURM cannot be asked from here ({exc}): the states of {len(slurm_ids)} "
                             "submitted job(s) were not brought up to date")
        engines = {key: by_id[job_id] for key, job_id in slurm_ids.items() if job_id in by_id}
    changes: dict[str, dict[str, Any]] = {}
    for key, entry in data["jobs"].items():
        job_dir = sweep_dir.job_dir(key)
        record = read_state(job_dir)
        if record is not None and record.get("launch") != entry.get("launch"):
            record = None
        run = _run_info(sweep_dir.run_dir(key))
        change = reconcile(entry, record, run, engines.get(key), alive)
        attempts = sum(1 for e in read_attempts(job_dir) if e.get("event") == "start")
        if attempts != entry.get("attempts", 0):
            change["attempts"] = attempts
        steps = run.get("steps")
        if steps is not None and steps != entry.get("steps"):
            change["steps"] = steps
        if key in engines:
            change["engine_state"] = engines[key].raw
        if record and record.get("gpus") is not None and record.get("gpus") != entry.get("gpus"):
            change["gpus"] = record.get("gpus")
        change = {k: v for k, v in change.items() if entry.get(k) != v}
        if change:
            changes[key] = change
    if not changes:
        return data
    return sweep_dir.update_jobs(changes, expect={key: data["jobs"][key].get("state") for key in changes})
