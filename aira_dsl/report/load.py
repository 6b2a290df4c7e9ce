"""Reading a run directory into :class:`RunData`, tolerating whatever a stopped run left behind.

The journal is opened read-only (a report must never change a run, and may read one that is
still being written: SQLite's WAL lets readers in beside the writer). Tables or rows that are
missing, a missing ``run.json`` or ``plan.json``: each becomes a warning on the result rather
than an error, because "what happened before it stopped" is exactly what a user wants to see
in an interrupted run. Only a journal that is not an SQLite database at all is an error.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from aira_dsl.report.discover import RUN_FILE, require_run_dir
from aira_dsl.report.errors import ReportError
from aira_dsl.report.model import Execution, Grade, NodeView, Review, RunData, Usage
from aira_dsl.runtime.journal import JOURNAL_FILE, Journal, NodeRecord

__all__ = ["PLAN_FILE", "load_run", "read_json_file"]

PLAN_FILE = "plan.json"


def read_json_file(path: Path, warnings: list[str]) -> dict[str, Any] | None:
    """A JSON object from ``path``, or ``None`` with a warning saying why not."""
    if not path.is_file():
        warnings.append(f"{path.name} is missing")
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        warnings.append(f"{path.name} is unreadable ({exc.__class__.__name__}: {exc})")
        return None
    if not isinstance(data, dict):
        warnings.append(f"{path.name} does not hold a JSON object")
        return None
    return data


class _Reader:
    """The journal queries, each skipped (with a warning) when its table is absent."""

    def __init__(self, journal: Journal, warnings: list[str]) -> None:
        self.journal = journal
        self.warnings = warnings
        self.tables = journal.tables()

    def has(self, table: str) -> bool:
        if table in self.tables:
            return True
        self.warnings.append(f"the journal has no '{table}' table (the run stopped before creating it?)")
        return False

    def meta(self) -> dict[str, Any]:
        return self.journal.all_meta() if self.has("meta") else {}

    def nodes(self) -> list[NodeRecord]:
        return self.journal.nodes() if self.has("nodes") else []

    def executions(self) -> dict[int, Execution]:
        return self.journal.executions() if self.has("executions") else {}

    def reviews(self) -> dict[int, Review]:
        return self.journal.reviews() if self.has("reviews") else {}

    def grades(self) -> dict[int, Grade]:
        return self.journal.grades() if self.has("grades") else {}

    def usage(self, column: str) -> dict[Any, Usage]:
        """LLM usage grouped by ``node_id`` or ``operator``."""
        return self.journal.usage_by(column) if self.has("llm_calls") else {}

    def events(self) -> list[dict[str, Any]]:
        return self.journal.events() if self.has("events") else []


def _direction(info: dict[str, Any], plan: dict[str, Any] | None, nodes: list[NodeView],
               warnings: list[str]) -> str:
    """The task's direction: from ``run.json``, else the plan, else the nodes' orientation."""
    task = info.get("task")
    if isinstance(task, dict) and task.get("direction") in ("maximize", "minimize"):
        return str(task["direction"])
    fitness = (plan or {}).get("fitness")
    if isinstance(fitness, dict) and fitness.get("direction") in ("maximize", "minimize"):
        return str(fitness["direction"])
    # fitness is the spec's value oriented so that higher is better: fitness == -value means minimize.
    for node in nodes:
        value, fit = node.record.value, node.record.fitness
        if value is not None and fit is not None and value != 0:
            return "minimize" if fit == -value else "maximize"
    warnings.append("the task's metric direction is not recorded; assuming higher is better")
    return "maximize"


def load_run(run_dir: Path) -> RunData:
    """Read a run directory: ``run.json``, ``plan.json`` and the journal, whatever is there.

    Raises :class:`ReportError` when ``run_dir`` is not a run directory or its journal is not a
    readable SQLite database; everything else missing becomes an entry of ``warnings``.
    """
    run_dir = require_run_dir(Path(run_dir))
    warnings: list[str] = []
    info = read_json_file(run_dir / RUN_FILE, warnings) or {}
    plan = read_json_file(run_dir / PLAN_FILE, []) if (run_dir / PLAN_FILE).is_file() else None
    journal_path = run_dir / JOURNAL_FILE
    meta: dict[str, Any] = {}
    nodes: list[NodeView] = []
    events: list[dict[str, Any]] = []
    operator_usage: dict[str, Usage] = {}
    if not journal_path.is_file():
        warnings.append(f"{JOURNAL_FILE} is missing: no nodes to show")
    else:
        try:
            journal = Journal(journal_path, readonly=True)
        except sqlite3.Error as exc:
            raise ReportError(f"{journal_path}: cannot open the journal ({exc})",
                              "check the file's permissions; a run writes it as SQLite") from None
        try:
            reader = _Reader(journal, warnings)
            meta = reader.meta()
            records = reader.nodes()
            executions, reviews, grades = reader.executions(), reader.reviews(), reader.grades()
            by_node = reader.usage("node_id")
            operator_usage = {str(k): v for k, v in reader.usage("operator").items()}
            events = reader.events()
        except sqlite3.DatabaseError as exc:
            raise ReportError(f"{journal_path}: not a readable run journal ({exc})",
                              "the file is damaged or is not an aira-dsl journal") from None
        finally:
            journal.close()
        nodes = [NodeView(record=r, execution=executions.get(r.id), review=reviews.get(r.id),
                          grade=grades.get(r.id), usage=by_node.get(r.id, Usage())) for r in records]
    if plan is None and isinstance(meta.get("plan"), dict):
        plan = meta["plan"]
    direction = _direction(info, plan, nodes, warnings)
    return RunData(path=run_dir, info=info, plan=plan, meta=meta, nodes=nodes, events=events,
                   operator_usage=operator_usage, direction=direction, warnings=warnings)


def read_call_rows(run_dir: Path, node_id: int | None = None) -> list[sqlite3.Row]:
    """The raw ``llm_calls`` rows of a run (of one node when ``node_id`` is given), oldest first;
    none when the run has no journal yet or the journal predates that table.

    One reader for the DataFrame view and the viewer's prompts, with the same errors as
    :func:`load_run`."""
    path = Path(run_dir) / JOURNAL_FILE
    if not path.is_file():
        return []
    try:
        journal = Journal(path, readonly=True)
    except sqlite3.Error as exc:
        raise ReportError(f"{path}: cannot open the journal ({exc})", "check the file's permissions") from None
    try:
        if "llm_calls" not in journal.tables():
            return []
        return list(journal.calls(node_id) if node_id is not None else journal.calls())
    except sqlite3.DatabaseError as exc:
        raise ReportError(f"{path}: not a readable run journal ({exc})",
                          "the file is damaged or is not an aira-dsl journal") from None
    finally:
        journal.close()
