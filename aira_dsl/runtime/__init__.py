"""The runtime: executes a plan (search policy + operators + sandbox + grading) into a run."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

__all__ = ["resume_run", "run_plan"]


def run_plan(plan: Any, *, task: str, out: str | Path, resume: bool = False, **options: Any) -> Any:
    """Run ``plan`` on ``task`` into the run directory ``out`` and return the run's summary.

    ``options`` are the fields of :class:`aira_dsl.runtime.engine.RunOptions` (``workers``,
    ``seed``, ``base_url``, ``llm_cache``, ``hidden_validation``...). Blocks until the budget is
    spent; the run directory can be resumed with ``resume=True``.
    """
    from aira_dsl.runtime.engine import Engine, RunOptions

    engine = Engine(plan, RunOptions(task_ref=task, out=Path(out), **options))
    return asyncio.run(engine.run(resume=resume))


def resume_run(run_dir: str | Path, **overrides: Any) -> Any:
    """Continue the stopped run in ``run_dir`` with its own plan and recorded options.

    ``overrides`` may change how the run is carried out (``workers``, ``base_url``, ``gpus``...),
    not what it measures (``seed``, ``task_ref``, ``hidden_validation`` are refused).
    """
    from aira_dsl.runtime.resume import resume_run as _resume

    return _resume(run_dir, **overrides)
