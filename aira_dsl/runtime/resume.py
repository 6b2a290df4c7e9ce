"""Resuming a stopped run: its frozen plan, every option it was started with, what is left of its budget.

``aira-dsl run --resume DIR``, a sweep relaunching a job, and notebooks all come here, so a
resumed run is the same experiment whoever resumes it: the plan comes from ``DIR/plan.json``
(hash-checked), the options from ``DIR/run.json`` (hidden-validation split, seed, task, cache
mode, endpoint, GPUs...), and an override may change only how the run is carried out (more
workers, another endpoint URL, other GPUs), never what is being measured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aira_dsl.plan import Plan, load_plan
from aira_dsl.runtime.engine import Engine, EngineError
from aira_dsl.runtime.options import OptionChangeError, RunOptions
from aira_dsl.runtime.rundir import RunDir
from aira_dsl.runtime.scheduler import NodeEvent, RunSummary

__all__ = ["prepare_resume", "resume_run"]


def prepare_resume(run_dir: str | Path, **overrides: Any) -> tuple[Plan, RunOptions]:
    """The plan and options a resume of ``run_dir`` runs with.

    Raises :class:`EngineError` (message + hint) when ``run_dir`` is not a run directory, its
    plan was tampered with, or an override would change the experiment.
    """
    rundir = RunDir(Path(run_dir))
    if not rundir.exists():
        raise EngineError(f"{run_dir} is not a run directory (no run.json and journal.sqlite)",
                          "give the folder a run was started in (`aira-dsl runs` lists them)")
    from aira_dsl.diagnostics import DiagnosticError

    try:
        plan = load_plan(rundir.plan_json)
    except DiagnosticError as exc:
        first = exc.diagnostics[0]
        raise EngineError(f"{rundir.plan_json}: {first.message}", first.hint) from None
    recorded = RunOptions.from_run_info(rundir.read_run(), rundir.root)
    try:
        options = recorded.resumed(**overrides)
    except OptionChangeError as exc:
        raise EngineError(str(exc), exc.hint) from None
    if not options.task_ref:
        raise EngineError("the run directory does not say which task it ran", "pass the task (--task)")
    return plan, options


def resume_run(run_dir: str | Path, *, on_node: Callable[[NodeEvent], None] | None = None,
               on_message: Callable[[str], None] | None = None, **overrides: Any) -> RunSummary:
    """Continue the run in ``run_dir`` until its budget is spent; blocks, returns the summary."""
    plan, options = prepare_resume(run_dir, **overrides)
    engine = Engine(plan, options, on_node=on_node, on_message=on_message)
    return asyncio.run(engine.run(resume=True))
