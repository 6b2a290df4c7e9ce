"""What the reports know about a run: a node joined with its execution, review, grade and usage.

The journal spreads a node over five tables; every report (viewer, run list, statistics) wants
them together, and must cope with rows that are missing because the run stopped half-way
(a pending node has no execution; an ungraded node has no grade). These read-only values keep
``None`` for "not recorded" so nothing downstream confuses "missing" with "zero".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aira_dsl.runtime.records import MEDALS, Execution, Grade, NodeRecord, Review, Usage

if TYPE_CHECKING:
    from aira_dsl.report.frames import RunFrames

__all__ = ["MEDALS", "Execution", "Grade", "NodeView", "Review", "RunData", "Usage"]

@dataclass(frozen=True)
class NodeView:
    """A search node with everything recorded about it."""

    record: NodeRecord
    execution: Execution | None
    review: Review | None
    grade: Grade | None
    usage: Usage

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def valid(self) -> bool:
        """Done, not buggy, and with a fitness: a candidate for the final answer."""
        r = self.record
        return r.status == "done" and r.buggy is False and r.fitness is not None

    @property
    def kind(self) -> str:
        """``pending``, ``failed`` (the pipeline broke), ``buggy`` or ``valid``."""
        r = self.record
        if r.status == "pending":
            return "pending"
        if r.status == "failed":
            return "failed"
        return "valid" if self.valid else "buggy"


@dataclass
class RunData:
    """A run as the reports see it: metadata, plan, nodes, events and LLM usage.

    ``info`` is ``run.json`` (empty when missing); ``plan`` is ``plan.json`` or the journal's
    ``plan`` meta entry (``None`` when neither is readable); ``warnings`` says what was missing
    or damaged, so a report can show it instead of failing.
    """

    path: Path
    info: dict[str, Any]
    plan: dict[str, Any] | None
    meta: dict[str, Any]
    nodes: list[NodeView]
    events: list[dict[str, Any]]
    operator_usage: dict[str, Usage]
    """LLM usage per operator name, including calls not tied to a node."""
    direction: str = "maximize"
    """The task's metric direction (``maximize`` or ``minimize``): orients test scores."""
    warnings: list[str] = field(default_factory=list)

    @property
    def usage(self) -> Usage:
        total = Usage()
        for usage in self.operator_usage.values():
            total = total + usage
        return total

    @property
    def spec(self) -> str:
        name = self.info.get("spec") or (self.plan or {}).get("name")
        return str(name) if name else "unknown"

    @property
    def plan_hash(self) -> str | None:
        value = self.info.get("plan_hash") or self.meta.get("plan_hash") or (self.plan or {}).get("plan_hash")
        return str(value) if value else None

    @property
    def task(self) -> dict[str, Any]:
        task = self.info.get("task")
        return task if isinstance(task, dict) else {}

    @property
    def task_id(self) -> str:
        value = self.task.get("id")
        return str(value) if value else "unknown"

    @property
    def seed(self) -> int | None:
        value = self.info.get("seed")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def status(self) -> str:
        value = self.info.get("status")
        return str(value) if value else "unknown"

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @property
    def created_at(self) -> float | None:
        value = self.info.get("created_at")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        times = [n.record.created_at for n in self.nodes]
        return min(times) if times else None

    def to_pandas(self) -> RunFrames:
        """The run as DataFrames: ``.nodes``, ``.calls``, ``.executions`` (columns in docs/reports.md).

        Model calls are read from the journal now (``RunData`` keeps only their totals, so a
        report over many runs does not hold every prompt in memory).
        """
        from aira_dsl.report.frames import run_frames

        return run_frames(self)
