"""One line per run: what ``aira-dsl runs`` lists and what the statistics aggregate.

Figures are recomputed from the journal (the durable record) rather than copied from
``run.json``, which a killed run may have left stale; ``run.json`` supplies what only it knows
(task, seed, status, stop reason).

A run on a task without test answers (``mlebench-public:``, where MLE-bench grades the final
submission itself after the run; ``run.json`` says ``task.has_test_score: false``) has a
validity verdict but no test score, medal or oracle selection: its summary says so
(``has_test_score``) and those fields are ``None`` rather than zeros or "no medal".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from aira_dsl.report.model import RunData
from aira_dsl.report.selection import (
    Outcome,
    outcome,
    select_test,
    select_top_k,
    select_validation,
    top_k_by_validation,
)
from aira_dsl.report.series import ProgressPoint, best_so_far

__all__ = ["NO_TEST_ANSWERS", "RunSummary", "summarize_run"]

NO_TEST_ANSWERS = "n/a (no test answers)"
"""What tables print for a test score or medal of a run whose task has no test answers."""


@dataclass(frozen=True)
class RunSummary:
    """A run's identity, progress and result (V/V), plus the oracle selections' outcomes."""

    path: str
    run_id: str
    spec: str
    plan_hash: str | None
    task: str
    direction: str
    seed: int | None
    status: str
    stop_reason: str | None
    created_at: float | None
    steps: int
    """Nodes done (finished, buggy or not); pending and failed nodes are not steps."""
    nodes: int
    valid_nodes: int
    pending_nodes: int
    best_node: int | None
    best_validation: float | None
    best_test: float | None
    medal: str | None
    above_median: bool | None
    test_node: int | None
    test_selected_score: float | None
    cost_usd: float
    tokens: int
    vv: Outcome | None
    vt: Outcome | None
    top_k: Outcome | None
    k: int
    warnings: tuple[str, ...]
    metric: str | None = None
    """The task's metric name (``run.json``), so scores of different metrics are not averaged."""
    has_test_score: bool = True
    """False for a task without test answers: medals, test scores and V/T are then unknown."""
    test_note: str | None = None
    """Why there is no test score (the task's note), when ``has_test_score`` is false."""
    progress: tuple[ProgressPoint, ...] = field(default=(), repr=False, compare=False)
    """Best validation score so far (for plots); left out of :meth:`to_dict`."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("progress")
        data["warnings"] = list(self.warnings)
        if not self.has_test_score and self.vv is not None:
            # Only validity is known: the medal fields are not "no" but unknown.
            data["vv"] = {k: (v if k == "valid_submission" else None) for k, v in self.vv.to_dict().items()}
        return data


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def summarize_run(run: RunData, *, top_k: int = 3) -> RunSummary:
    """Summarise a loaded run; ``top_k`` sets the short list of the top-k oracle selection."""
    nodes = run.nodes
    has_test = run.task.get("has_test_score") is not False  # absent (older runs): the task had answers
    notes = [str(n) for n in run.task.get("notes") or () if "test score" in str(n)]
    best = select_validation(nodes)
    oracle = select_test(nodes, run.direction) if has_test else None
    shortlist = top_k_by_validation(nodes, top_k)
    top = select_top_k(nodes, top_k, run.direction) if has_test else None
    grade = best.grade if best is not None else None
    stop = run.info.get("stop_reason")
    usage = run.usage
    cost, tokens = usage.cost_usd, usage.tokens
    if usage.calls == 0:  # no llm_calls rows (journal cut short): fall back on run.json's totals
        cost = _number(run.info.get("cost_usd"), 0.0)
        tokens = int(_number(run.info.get("tokens"), 0))
    return RunSummary(
        path=str(run.path), run_id=str(run.info.get("run_id") or run.path.name), spec=run.spec,
        plan_hash=run.plan_hash, task=run.task_id, direction=run.direction, seed=run.seed,
        status=run.status, stop_reason=None if stop is None else str(stop), created_at=run.created_at,
        steps=sum(1 for n in nodes if n.record.status == "done"), nodes=len(nodes),
        valid_nodes=sum(1 for n in nodes if n.valid),
        pending_nodes=sum(1 for n in nodes if n.record.status == "pending"),
        best_node=best.id if best else None, best_validation=best.record.metric if best else None,
        best_test=grade.test_score if grade and has_test else None,
        medal=grade.medal if grade and has_test else None,
        above_median=grade.above_median if grade and has_test else None,
        test_node=oracle.id if oracle else None,
        test_selected_score=oracle.grade.test_score if oracle and oracle.grade else None,
        cost_usd=cost, tokens=tokens,
        vv=outcome(nodes, best), vt=outcome(nodes, oracle) if has_test else None,
        top_k=outcome(shortlist, top) if has_test else None, k=top_k,
        warnings=tuple(run.warnings), metric=str(run.task["metric"]) if run.task.get("metric") else None,
        has_test_score=has_test,
        test_note=None if has_test else (notes[0] if notes else "the task has no test answers"),
        progress=tuple(best_so_far(nodes, run.created_at)))
