"""Executors: where a sweep's jobs run (``local`` process pool, ``slurm`` via submitit, ``ray``).

The optional engines are imported only when used, so a sweep on the local executor needs
neither ``submitit`` nor ``ray``; using one that is missing is a :class:`SweepError` that names
the extra to install.
"""

from __future__ import annotations

from aira_dsl.sweep.executors.base import EngineState, Executor, LaunchContext
from aira_dsl.sweep.model import ExecutorConfig

__all__ = ["EngineState", "Executor", "LaunchContext", "make_executor"]


def make_executor(config: ExecutorConfig) -> Executor:
    """The executor for ``config.kind`` with its settings (no check made yet: see ``preflight``)."""
    if config.kind == "slurm":
        from aira_dsl.sweep.executors.slurm import SlurmExecutor

        return SlurmExecutor(config.slurm)
    if config.kind == "ray":
        from aira_dsl.sweep.executors.ray import RayExecutor

        return RayExecutor(config.ray)
    from aira_dsl.sweep.executors.local import LocalExecutor

    return LocalExecutor(config.local)
