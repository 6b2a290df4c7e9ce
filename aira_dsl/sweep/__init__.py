"""Sweeps: grids of agent spec variants × tasks × seeds, run as ordinary runs on an executor.

A sweep file (``schema/sweep.schema.json``) names specs with optional variants (``--set``-style
overrides), tasks (bundled ids, task folders, ``mlebench:<id>``, ``mlebench:lite``), seeds, run
settings and an executor: ``local`` (a process pool with disjoint GPU sets), ``slurm`` (job
arrays through submitit) or ``ray`` (one task per job). Each job is one ``aira-dsl run`` of a
frozen plan in its own run directory under the sweep directory, so ``aira-dsl report`` and
``aira-dsl view`` work on sweeps unchanged. From Python::

    from aira_dsl.sweep import launch, resume, status
    result = launch("examples/sweeps/quick.yaml", Path("sweeps/quick"))
    print(status(Path("sweeps/quick"))["counts"])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aira_dsl.diagnostics import Diagnostic
from aira_dsl.sweep.controller import Prepared, SweepResult, launch, prepare, resume, wait_for
from aira_dsl.sweep.errors import SweepError
from aira_dsl.sweep.load import LoadResult, is_sweep_document, load_sweep
from aira_dsl.sweep.model import ExecutorConfig, Job, Sweep, Variant
from aira_dsl.sweep.states import ACTIVE, ALL_STATES, RELAUNCH, TERMINAL
from aira_dsl.sweep.sweepdir import SweepDir

__all__ = [
    "ACTIVE", "ALL_STATES", "RELAUNCH", "TERMINAL", "ExecutorConfig", "Job", "LoadResult", "Prepared", "Sweep",
    "SweepDir", "SweepError", "SweepResult", "Variant", "check_sweep_file", "is_sweep_document", "launch",
    "load_sweep", "prepare", "resume", "status", "wait_for",
]


def status(sweep_dir: Path) -> dict[str, Any]:
    """Every job's up-to-date state (the manifest is refreshed first), as ``sweep status --format json``."""
    from aira_dsl.sweep.refresh import refresh
    from aira_dsl.sweep.render import status_data

    sd = SweepDir(sweep_dir)
    notes: list[str] = []
    return status_data(sd.root, refresh(sd, notes), notes)


def check_sweep_file(path: Path, display: str) -> list[Diagnostic]:
    """``aira-dsl validate``'s checks of a sweep file: schema, specs (compiled), tasks, executor."""
    return load_sweep(path, display=display, env_mode="warn").diagnostics
