"""The runtime: executes a plan (search policy + operators + sandbox + grading) into a run."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

__all__ = ["run_plan"]


def run_plan(plan: Any, *, task: str, out: str | Path, resume: bool = False, **options: Any) -> Any:
    """Run ``plan`` on ``task`` into the run directory ``out`` and return the run's summary.

    ``options`` are the fields of :class:`aira_dsl.runtime.engine.RunOptions` (``workers``,
    ``seed``, ``base_url``, ``llm_cache``, ``hidden_validation``...). Blocks until the budget is
    spent; the run directory can be resumed with ``resume=True``.
    """
    from aira_dsl.runtime.engine import Engine, RunOptions

    engine = Engine(plan, RunOptions(task_ref=task, out=Path(out), **options))
    return asyncio.run(engine.run(resume=resume))
