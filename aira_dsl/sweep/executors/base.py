"""What every executor does: check it can work, describe what it asks for, launch jobs.

Two shapes exist. *Attached* executors (local, ray) drive their jobs from the ``aira-dsl
sweep`` process and return when every job has ended; *detached* ones (slurm) hand the jobs to
a scheduler and return at once, and :meth:`Executor.engine_states` later tells what the
scheduler knows about them. Either way the executor reports state changes through
:attr:`LaunchContext.on_change`, which the controller writes to the manifest.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aira_dsl.sweep.errors import SweepError
from aira_dsl.sweep.job import JobSpec
from aira_dsl.sweep.sweepdir import SweepDir

__all__ = ["EngineState", "Executor", "LaunchContext", "require_module"]

Changes = dict[str, dict[str, Any]]


@dataclass
class LaunchContext:
    sweep_dir: SweepDir
    name: str
    specs: list[JobSpec]
    on_change: Callable[[Changes], None]
    env_names: set[str] = field(default_factory=set)
    """Environment variables the runs need (endpoints, keys, caches): passed to remote workers."""
    say: Callable[[str], None] = lambda text: None


@dataclass(frozen=True)
class EngineState:
    """What the scheduler says about one job: its raw state and its meaning for the sweep."""

    raw: str
    """e.g. PENDING, RUNNING, CANCELLED, or GONE when the scheduler no longer knows the job."""
    live: bool
    state: str | None
    """queued / running while live; for an ended job what it means when the job's own records
    do not say (failed, preempted), or None for COMPLETED (the records decide)."""
    reason: str | None = None


class Executor(abc.ABC):
    kind: str = ""
    attached: bool = True

    @abc.abstractmethod
    def preflight(self) -> None:
        """Raise :class:`SweepError` (what is missing, how to fix it) unless jobs can be launched."""

    @abc.abstractmethod
    def resources(self) -> dict[str, Any]:
        """What each job asks for, and how many run at once, for the dry run and the manifest."""

    @abc.abstractmethod
    def launch(self, ctx: LaunchContext) -> None:
        """Launch ``ctx.specs`` (attached executors: and wait for them)."""

    def engine_states(self, engine_ids: dict[str, str]) -> dict[str, EngineState]:
        """Job key -> what the scheduler knows (detached executors only)."""
        return {}

    def notes(self) -> list[str]:
        """Problems a dry run should mention (a missing extra, no cluster), without failing."""
        try:
            self.preflight()
        except SweepError as exc:
            return [exc.message + (f" ({exc.hint})" if exc.hint else "")]
        return []


def require_module(module: str, extra: str, what: str) -> None:
    """A clear message naming the fix when an optional extra is not installed (or cannot load)."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise SweepError(f"the {what} executor needs the '{module}' package, which is not installed "
                         f"({exc.__class__.__name__}: {exc})", f"pip install 'aira-dsl[{extra}]'") from None
