"""The run journal: one SQLite database (WAL) per run, the durable record of everything.

Every state change is committed before the engine acts on it, so a run killed at any moment
can be resumed from its journal with no completed node lost: nodes are inserted as
``pending`` when a worker starts them; each model call is committed the moment it returns (so
money spent survives a crash and still counts against the budget on resume); a node becomes
``done`` in one transaction with its execution, review and grade. All SQL of the project lives
here: the engine writes and the reports read through these methods, with the typed records of
:mod:`aira_dsl.runtime.records`.

Tables (all times are UNIX seconds):
- ``meta(key, value)``: ``plan_hash``, ``plan`` (JSON), ``run`` (JSON settings), ``schema_version``.
- ``nodes``: one row per search node (``id`` = step number, creation order).
- ``llm_calls``: every model call (rendered messages, answer, tokens, cost, latency).
- ``executions``: the sandbox result of a node.
- ``reviews``: the analyze operator's structured review of a node.
- ``grades``: host-side grading on private answers (hidden validation and test); never read by
  policies or prompts unless the spec sets ``fitness.oracle``.
- ``events``: run lifecycle (start, resume, stop, interrupt) with JSON details.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aira_dsl.runtime.records import CallRecord, Execution, Grade, NodeOutcome, NodeRecord, Review, Usage

__all__ = ["JOURNAL_FILE", "SCHEMA_VERSION", "Journal", "NodeRecord", "open_journal"]

JOURNAL_FILE = "journal.sqlite"
SCHEMA_VERSION = 2
"""2: ``nodes.kind`` (the operator's kind) was added; older journals gain it when opened."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
    id INTEGER PRIMARY KEY,
    parent_ids TEXT NOT NULL,          -- JSON list of node ids
    role TEXT NOT NULL,                -- the policy role played (draft, improve...); '' if none
    operator TEXT NOT NULL,            -- the spec's operator name
    kind TEXT NOT NULL DEFAULT '',     -- the operator's kind (draft, improve, debug, crossover...)
    status TEXT NOT NULL,              -- pending | done | failed
    buggy INTEGER,                     -- 0/1, NULL while pending
    metric REAL,                       -- raw validation metric
    fitness REAL,                      -- oriented so that higher is better; NULL if buggy
    value REAL,                        -- the spec's fitness.value (unoriented)
    plan TEXT,
    code TEXT,
    summary TEXT,
    error TEXT,                        -- why the pipeline failed (no code, LLM error...)
    depth INTEGER NOT NULL DEFAULT 0,
    debug_depth INTEGER NOT NULL DEFAULT 0,
    generation INTEGER,
    island INTEGER,
    worker INTEGER,
    meta TEXT NOT NULL DEFAULT '{}',   -- JSON: policy action meta, complexity cue...
    created_at REAL NOT NULL,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS llm_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id INTEGER,
    operator TEXT NOT NULL,
    kind TEXT NOT NULL,
    model TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    messages TEXT NOT NULL,            -- JSON chat messages as sent
    response TEXT,                     -- answer text (reasoning stripped)
    reasoning TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    latency REAL NOT NULL DEFAULT 0,
    cached INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    node_id INTEGER PRIMARY KEY,
    exit_code INTEGER,
    timed_out INTEGER NOT NULL,
    oom_killed INTEGER NOT NULL,
    duration REAL NOT NULL,
    output TEXT NOT NULL,              -- combined output, head + tail
    isolation TEXT,
    submission_exists INTEGER NOT NULL DEFAULT 0,
    submission_valid INTEGER NOT NULL DEFAULT 0,
    submission_reason TEXT,
    reported TEXT NOT NULL DEFAULT '{}' -- JSON metrics the solution wrote to working/metrics.json
);
CREATE TABLE IF NOT EXISTS reviews (
    node_id INTEGER PRIMARY KEY,
    is_bug INTEGER NOT NULL,
    summary TEXT NOT NULL,
    metric REAL,
    method TEXT
);
CREATE TABLE IF NOT EXISTS grades (
    node_id INTEGER PRIMARY KEY,
    hidden_score REAL,                 -- framework-held validation split, if the task has one
    test_score REAL,                   -- the task's private test answers
    valid_submission INTEGER NOT NULL,
    gold INTEGER NOT NULL DEFAULT 0,
    silver INTEGER NOT NULL DEFAULT 0,
    bronze INTEGER NOT NULL DEFAULT 0,
    above_median INTEGER NOT NULL DEFAULT 0,
    report TEXT NOT NULL DEFAULT '{}'  -- the full grade report (JSON)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS llm_calls_node ON llm_calls(node_id);
"""


def _node(row: sqlite3.Row) -> NodeRecord:
    keys = row.keys()
    return NodeRecord(
        id=row["id"], parent_ids=tuple(json.loads(row["parent_ids"])), role=row["role"],
        operator=row["operator"], kind=(row["kind"] if "kind" in keys else "") or row["role"], status=row["status"],
        buggy=None if row["buggy"] is None else bool(row["buggy"]), metric=row["metric"],
        fitness=row["fitness"], value=row["value"], plan=row["plan"], code=row["code"],
        summary=row["summary"], error=row["error"], depth=row["depth"], debug_depth=row["debug_depth"],
        generation=row["generation"], island=row["island"], worker=row["worker"],
        meta=json.loads(row["meta"] or "{}"), created_at=row["created_at"], finished_at=row["finished_at"],
        exec_time=_float(row["exec_time"]) if "exec_time" in keys else None)


_NODES = ("SELECT n.*, e.duration AS exec_time FROM nodes n LEFT JOIN executions e ON e.node_id = n.id")


def _float(value: Any) -> float | None:
    """A finite float, or None (a damaged or hand-edited journal may hold anything)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _json_object(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _execution(r: sqlite3.Row) -> Execution:
    return Execution(
        exit_code=r["exit_code"], timed_out=bool(r["timed_out"]), oom_killed=bool(r["oom_killed"]),
        duration=float(r["duration"] or 0.0), output=str(r["output"] or ""), isolation=r["isolation"],
        submission_exists=bool(r["submission_exists"]), submission_valid=bool(r["submission_valid"]),
        submission_reason=r["submission_reason"], reported=_json_object(r["reported"]))


def _review(r: sqlite3.Row) -> Review:
    return Review(is_bug=bool(r["is_bug"]), summary=str(r["summary"] or ""), metric=_float(r["metric"]),
                  method=r["method"])


def _grade(r: sqlite3.Row) -> Grade:
    return Grade(hidden_score=_float(r["hidden_score"]), test_score=_float(r["test_score"]),
                 valid_submission=bool(r["valid_submission"]), gold=bool(r["gold"]), silver=bool(r["silver"]),
                 bronze=bool(r["bronze"]), above_median=bool(r["above_median"]), report=_json_object(r["report"]))


class Journal:
    """A run's SQLite journal. Thread-compatible: one connection, used from the event loop."""

    def __init__(self, path: Path, *, readonly: bool = False):
        self.path = Path(path)
        uri = f"file:{self.path}?mode=ro" if readonly else f"file:{self.path}"
        self.conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False,
                                    timeout=30)
        self.conn.row_factory = sqlite3.Row
        if not readonly:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(_SCHEMA)
            self._migrate()
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def _migrate(self) -> None:
        """Bring a journal written by an older aira-dsl up to this schema (columns only ever added)."""
        columns = {r["name"] for r in self.conn.execute("PRAGMA table_info(nodes)")}
        if "kind" not in columns:
            self.conn.execute("ALTER TABLE nodes ADD COLUMN kind TEXT NOT NULL DEFAULT ''")
            self.conn.execute("UPDATE nodes SET kind = role WHERE kind = ''")

    def tables(self) -> set[str]:
        return {r["name"] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All statements inside commit together or not at all."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    # -- meta and events ------------------------------------------------------------------

    def set_meta(self, key: str, value: Any) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            return default
        try:
            return json.loads(row["value"])
        except json.JSONDecodeError:
            return row["value"]

    def all_meta(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for row in self.conn.execute("SELECT key, value FROM meta"):
            try:
                result[str(row["key"])] = json.loads(row["value"])
            except json.JSONDecodeError:
                result[str(row["key"])] = row["value"]
        return result

    def event(self, kind: str, **data: Any) -> None:
        self.conn.execute("INSERT INTO events (time, kind, data) VALUES (?, ?, ?)",
                          (time.time(), kind, json.dumps(data, sort_keys=True, default=str)))

    def events(self) -> list[dict[str, Any]]:
        return [{"time": r["time"], "kind": r["kind"], "data": json.loads(r["data"])}
                for r in self.conn.execute("SELECT * FROM events ORDER BY id")]

    # -- nodes ----------------------------------------------------------------------------

    def add_pending(self, node_id: int, *, parent_ids: tuple[int, ...], role: str, operator: str,
                    depth: int, debug_depth: int, generation: int | None, island: int | None,
                    worker: int | None, meta: Mapping[str, Any], kind: str = "") -> None:
        self.conn.execute(
            "INSERT INTO nodes (id, parent_ids, role, operator, kind, status, depth, debug_depth, generation,"
            " island, worker, meta, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
            (node_id, json.dumps(list(parent_ids)), role, operator, kind or role, depth, debug_depth, generation,
             island, worker, json.dumps(dict(meta), sort_keys=True, default=str), time.time()))

    def nodes(self, status: str | None = None) -> list[NodeRecord]:
        if status is None:
            rows = self.conn.execute(f"{_NODES} ORDER BY n.id")
        else:
            rows = self.conn.execute(f"{_NODES} WHERE n.status = ? ORDER BY n.id", (status,))
        return [_node(r) for r in rows]

    def node(self, node_id: int) -> NodeRecord | None:
        row = self.conn.execute(f"{_NODES} WHERE n.id = ?", (node_id,)).fetchone()
        return None if row is None else _node(row)

    # -- what a node produced ---------------------------------------------------------------

    def record_call(self, call: CallRecord) -> None:
        """Journal one model call now (committed at once: spend survives a crash)."""
        self.conn.execute(
            "INSERT INTO llm_calls (node_id, operator, kind, model, attempt, messages, response, reasoning,"
            " prompt_tokens, completion_tokens, reasoning_tokens, cost_usd, latency, cached, error, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (call.node_id, call.operator, call.kind, call.model, call.attempt,
             json.dumps(call.messages, ensure_ascii=False), call.response, call.reasoning, call.prompt_tokens,
             call.completion_tokens, call.reasoning_tokens, call.cost_usd, call.latency, int(call.cached),
             call.error, time.time()))

    def commit_outcome(self, outcome: NodeOutcome, *, elapsed: float) -> None:
        """A finished node: its row, execution, review and grade, and the run's elapsed time, in
        one transaction (a crash leaves either all of it or the node still pending)."""
        with self.transaction() as conn:
            execution = outcome.execution
            if execution is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO executions (node_id, exit_code, timed_out, oom_killed, duration, output,"
                    " isolation, submission_exists, submission_valid, submission_reason, reported)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (outcome.node_id, execution.exit_code, int(execution.timed_out), int(execution.oom_killed),
                     execution.duration, execution.output, execution.isolation, int(execution.submission_exists),
                     int(execution.submission_valid), execution.submission_reason,
                     json.dumps(execution.reported, sort_keys=True)))
            review = outcome.review
            if review is not None:
                conn.execute("INSERT OR REPLACE INTO reviews (node_id, is_bug, summary, metric, method)"
                             " VALUES (?, ?, ?, ?, ?)",
                             (outcome.node_id, int(review.is_bug), review.summary, review.metric, review.method))
            grade = outcome.grade
            if grade is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO grades (node_id, hidden_score, test_score, valid_submission, gold,"
                    " silver, bronze, above_median, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (outcome.node_id, grade.hidden_score, grade.test_score, int(grade.valid_submission),
                     int(grade.gold), int(grade.silver), int(grade.bronze), int(grade.above_median),
                     json.dumps(grade.report, sort_keys=True, default=str)))
            conn.execute(
                "UPDATE nodes SET status='done', buggy=?, metric=?, fitness=?, value=?, plan=?, code=?, summary=?,"
                " error=?, finished_at=? WHERE id=?",
                (int(outcome.buggy), outcome.metric, None if outcome.buggy else outcome.fitness, outcome.value,
                 outcome.plan, outcome.code, outcome.summary, outcome.error, time.time(), outcome.node_id))
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('elapsed', ?)", (json.dumps(elapsed),))

    def execution(self, node_id: int) -> Execution | None:
        row = self.conn.execute("SELECT * FROM executions WHERE node_id = ?", (node_id,)).fetchone()
        return None if row is None else _execution(row)

    def review(self, node_id: int) -> Review | None:
        row = self.conn.execute("SELECT * FROM reviews WHERE node_id = ?", (node_id,)).fetchone()
        return None if row is None else _review(row)

    def grade(self, node_id: int) -> Grade | None:
        row = self.conn.execute("SELECT * FROM grades WHERE node_id = ?", (node_id,)).fetchone()
        return None if row is None else _grade(row)

    def executions(self) -> dict[int, Execution]:
        return {int(r["node_id"]): _execution(r) for r in self.conn.execute("SELECT * FROM executions")}

    def reviews(self) -> dict[int, Review]:
        return {int(r["node_id"]): _review(r) for r in self.conn.execute("SELECT * FROM reviews")}

    def grades(self) -> dict[int, Grade]:
        return {int(r["node_id"]): _grade(r) for r in self.conn.execute("SELECT * FROM grades")}

    def usage_by(self, column: str) -> dict[Any, Usage]:
        """LLM usage summed per ``node_id``, ``operator``, ``kind`` or ``model``."""
        if column not in ("node_id", "operator", "kind", "model"):
            raise ValueError(f"cannot group model calls by {column!r}")
        rows = self.conn.execute(
            f"SELECT {column} AS k, COUNT(*) AS calls, SUM(prompt_tokens) AS p, SUM(completion_tokens) AS c,"
            " SUM(reasoning_tokens) AS r, SUM(cost_usd) AS cost, SUM(error IS NOT NULL) AS errors,"
            f" SUM(latency) AS latency FROM llm_calls GROUP BY {column}")
        return {r["k"]: Usage(calls=int(r["calls"]), prompt_tokens=int(r["p"] or 0),
                              completion_tokens=int(r["c"] or 0), reasoning_tokens=int(r["r"] or 0),
                              cost_usd=float(r["cost"] or 0.0), errors=int(r["errors"] or 0),
                              latency=float(r["latency"] or 0.0)) for r in rows}

    def spent(self) -> tuple[float, int]:
        """Dollars and tokens (prompt + completion) of every model call so far, dropped nodes included."""
        row = self.conn.execute("SELECT COALESCE(SUM(cost_usd), 0) AS c,"
                                " COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS t FROM llm_calls").fetchone()
        return float(row["c"]), int(row["t"])

    def calls(self, node_id: int | None = None) -> list[sqlite3.Row]:
        """Model calls, oldest first (of one node when ``node_id`` is given)."""
        if node_id is None:
            return list(self.conn.execute("SELECT * FROM llm_calls ORDER BY id"))
        return list(self.conn.execute("SELECT * FROM llm_calls WHERE node_id = ? ORDER BY id", (node_id,)))

    def delete_pending(self) -> list[int]:
        """Remove nodes that were in flight when the run stopped (resume re-runs their step)."""
        with self.transaction() as conn:
            ids = [r["id"] for r in conn.execute("SELECT id FROM nodes WHERE status = 'pending'")]
            pending = "SELECT id FROM nodes WHERE status = 'pending'"
            # Calls already paid for stay (cost and token budgets count them), detached from the
            # dropped node so a re-run under the same id does not inherit them.
            conn.execute(f"UPDATE llm_calls SET node_id = NULL WHERE node_id IN ({pending})")
            for table in ("executions", "reviews", "grades"):
                conn.execute(f"DELETE FROM {table} WHERE node_id IN ({pending})")
            conn.execute("DELETE FROM nodes WHERE status = 'pending'")
        return ids

    def count(self, table: str, where: str = "1=1", args: tuple[Any, ...] = ()) -> int:
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", args).fetchone()[0])

    def rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return list(self.conn.execute(sql, args))

    def integrity_ok(self) -> bool:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0]) == "ok"


def open_journal(run_dir: Path, *, readonly: bool = False) -> Journal:
    return Journal(Path(run_dir) / JOURNAL_FILE, readonly=readonly)
