"""A run as pandas DataFrames: ``load_run(path).to_pandas()`` → nodes, calls, executions.

Notebook analysis (what did the debug operator cost, how does execution time relate to the
score) wants tables, not records. The frames are built from the same typed records the reports
use (:mod:`aira_dsl.runtime.records`, through :class:`~aira_dsl.report.model.RunData` and the
journal's ``llm_calls`` rows), so they agree with ``runs`` and ``report``. Each frame always has
its documented columns (see ``docs/reports.md``), even when empty, so code written against a
finished run also works on one that has just started. Missing values are ``NaN``/``<NA>``
("not recorded"), never zero; yes/no columns use pandas' nullable ``boolean`` dtype and
optional integers ``Int64``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aira_dsl.report.load import read_call_rows
from aira_dsl.report.selection import select_validation
from aira_dsl.runtime.records import CallRecord

if TYPE_CHECKING:
    import pandas as pd

    from aira_dsl.report.model import RunData

__all__ = ["CALL_COLUMNS", "EXECUTION_COLUMNS", "NODE_COLUMNS", "JournaledCall", "RunFrames", "read_calls",
           "run_frames"]

NODE_COLUMNS = (
    "node_id", "parent_ids", "operator", "kind", "role", "status", "outcome", "submitted", "buggy", "metric",
    "fitness", "value", "depth", "debug_depth", "generation", "island", "worker", "created_at", "finished_at",
    "exec_time", "valid_submission", "test_score", "hidden_score", "medal", "above_median", "calls",
    "prompt_tokens", "completion_tokens", "reasoning_tokens", "cost_usd", "plan", "code", "summary", "error",
    "meta")
"""One row per search node, in id order."""

CALL_COLUMNS = (
    "call_id", "node_id", "operator", "kind", "model", "attempt", "created_at", "latency", "prompt_tokens",
    "completion_tokens", "reasoning_tokens", "cost_usd", "cached", "error", "messages", "response", "reasoning")
"""One row per model call (retries included), oldest first."""

EXECUTION_COLUMNS = (
    "node_id", "exit_code", "timed_out", "oom_killed", "duration", "isolation", "submission_exists",
    "submission_valid", "submission_reason", "reported", "output")
"""One row per node whose code ran in the sandbox."""

_DTYPES: dict[str, dict[str, str]] = {
    "nodes": {"buggy": "boolean", "submitted": "bool", "generation": "Int64", "island": "Int64", "worker": "Int64",
              "valid_submission": "boolean", "above_median": "boolean", "metric": "float64",
              "fitness": "float64", "value": "float64", "finished_at": "float64", "exec_time": "float64",
              "test_score": "float64", "hidden_score": "float64", "created_at": "float64", "depth": "int64",
              "debug_depth": "int64", "calls": "int64", "prompt_tokens": "int64", "completion_tokens": "int64",
              "reasoning_tokens": "int64", "cost_usd": "float64", "node_id": "int64"},
    "calls": {"call_id": "int64", "node_id": "Int64", "attempt": "int64", "created_at": "float64",
              "latency": "float64", "prompt_tokens": "int64", "completion_tokens": "int64",
              "reasoning_tokens": "int64", "cost_usd": "float64", "cached": "bool"},
    "executions": {"node_id": "int64", "exit_code": "Int64", "timed_out": "bool", "oom_killed": "bool",
                   "duration": "float64", "submission_exists": "bool", "submission_valid": "bool"},
}


@dataclass(frozen=True)
class JournaledCall:
    """A model call with what the journal adds to the record: its row id and when it returned."""

    call_id: int
    created_at: float
    record: CallRecord


@dataclass(frozen=True)
class RunFrames:
    """The three tables of a run (columns: :data:`NODE_COLUMNS`, :data:`CALL_COLUMNS`,
    :data:`EXECUTION_COLUMNS`)."""

    nodes: pd.DataFrame
    calls: pd.DataFrame
    executions: pd.DataFrame


def _messages(text: Any) -> list[dict[str, str]]:
    try:
        value = json.loads(text) if text else []
    except (TypeError, ValueError):
        return []
    return value if isinstance(value, list) else []


def read_calls(run: RunData) -> list[JournaledCall]:
    """Every model call in ``run``'s journal, oldest first (none when there is no journal yet)."""
    rows = read_call_rows(run.path)
    out: list[JournaledCall] = []
    for row in rows:
        r = dict(zip(row.keys(), row, strict=True))  # older journals lack some columns: default them

        def get(name: str, default: Any, r: dict[str, Any] = r) -> Any:
            return default if r.get(name) is None else r[name]

        record = CallRecord(
            node_id=r["node_id"], operator=str(r["operator"]), kind=str(r["kind"]), model=str(r["model"]),
            attempt=int(get("attempt", 1)), messages=_messages(r.get("messages")), response=r.get("response"),
            reasoning=r.get("reasoning"), prompt_tokens=int(get("prompt_tokens", 0)),
            completion_tokens=int(get("completion_tokens", 0)), reasoning_tokens=int(get("reasoning_tokens", 0)),
            cost_usd=float(get("cost_usd", 0.0)), latency=float(get("latency", 0.0)),
            cached=bool(get("cached", 0)), error=r.get("error"))
        out.append(JournaledCall(int(r["id"]), float(get("created_at", 0.0)), record))
    return out


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...], table: str) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    return frame.astype(_DTYPES[table])


def run_frames(run: RunData) -> RunFrames:
    """``run``'s nodes, model calls and executions as DataFrames (see :class:`RunFrames`)."""
    submitted = select_validation(run.nodes)
    nodes: list[dict[str, Any]] = []
    executions: list[dict[str, Any]] = []
    for n in run.nodes:
        r, g, u = n.record, n.grade, n.usage
        nodes.append({
            "node_id": r.id, "parent_ids": list(r.parent_ids), "operator": r.operator, "kind": r.kind,
            "role": r.role, "status": r.status, "outcome": n.kind,
            "submitted": submitted is not None and n.id == submitted.id, "buggy": r.buggy, "metric": r.metric,
            "fitness": r.fitness, "value": r.value, "depth": r.depth, "debug_depth": r.debug_depth,
            "generation": r.generation, "island": r.island, "worker": r.worker, "created_at": r.created_at,
            "finished_at": r.finished_at, "exec_time": r.exec_time,
            "valid_submission": None if g is None else g.valid_submission,
            "test_score": None if g is None else g.test_score, "hidden_score": None if g is None else g.hidden_score,
            "medal": None if g is None else g.medal, "above_median": None if g is None else g.above_median,
            "calls": u.calls, "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
            "reasoning_tokens": u.reasoning_tokens, "cost_usd": u.cost_usd, "plan": r.plan, "code": r.code,
            "summary": r.summary, "error": r.error, "meta": r.meta})
        e = n.execution
        if e is not None:
            executions.append({
                "node_id": r.id, "exit_code": e.exit_code, "timed_out": e.timed_out, "oom_killed": e.oom_killed,
                "duration": e.duration, "isolation": e.isolation, "submission_exists": e.submission_exists,
                "submission_valid": e.submission_valid, "submission_reason": e.submission_reason,
                "reported": e.reported, "output": e.output})
    calls = [{"call_id": c.call_id, "created_at": c.created_at,
              **{k: getattr(c.record, k) for k in CALL_COLUMNS if k not in ("call_id", "created_at")}}
             for c in read_calls(run)]
    return RunFrames(nodes=_frame(nodes, NODE_COLUMNS, "nodes"), calls=_frame(calls, CALL_COLUMNS, "calls"),
                     executions=_frame(executions, EXECUTION_COLUMNS, "executions"))
