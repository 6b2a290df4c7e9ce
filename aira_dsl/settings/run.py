"""The budget and execution sections: the same type in a spec (after defaults) and in a plan.

Durations are seconds once built; in YAML they may be written as text (``4h``, ``1h30m``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aira_dsl.settings.fields import Duration, setting

__all__ = ["BudgetSettings", "ExecutionSettings"]


@dataclass(frozen=True)
class BudgetSettings:
    """When the run stops. Every limit is optional; the first one reached ends the run."""

    __schema_doc__: ClassVar[str] = "When the run stops; any subset."

    time: Duration | None = setting(24 * 3600.0, gt=0, doc="Wall-clock time for the whole run (LLM time "
                                                          "included).")
    steps: int | None = setting(None, ge=1, doc="Number of nodes to create.")
    exec_timeout: Duration = setting(4 * 3600.0, gt=0, doc="Time limit of one execution; the effective limit "
                                                           "is min(exec_timeout, time left).")
    cost_usd: float | None = setting(None, gt=0, doc="Stop when LLM spend reaches this many US dollars.")
    tokens: int | None = setting(None, ge=1, doc="Stop when this many LLM tokens (prompt + completion) have "
                                                 "been used.")


@dataclass(frozen=True)
class ExecutionSettings:
    """Where solutions run and how many at once."""

    __schema_doc__: ClassVar[str] = "Where and how solutions run."

    sandbox: str = setting("local", min_length=1, doc="Sandbox profile name (a file in runtimes/) or path.")
    workers: int = setting(1, ge=1, doc="Nodes developed in parallel.")
    gpus_per_worker: int = setting(0, ge=0, doc="GPUs given to each worker (disjoint sets).")
