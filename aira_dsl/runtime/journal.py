"""The run journal: one SQLite database (WAL) per run, the durable record of everything.

Every state change is committed before the engine acts on it, so a run killed at any moment
can be resumed from its journal with no completed node lost: nodes are inserted as
``pending`` when a worker starts them and become ``done`` in one transaction with their
execution, review and fitness. Reports read the same tables.

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
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["JOURNAL_FILE", "SCHEMA_VERSION", "Journal", "NodeRecord", "open_journal"]

JOURNAL_FILE = "journal.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
    id INTEGER PRIMARY KEY,
    parent_ids TEXT NOT NULL,          -- JSON list of node ids
    role TEXT NOT NULL,                -- draft | improve | debug | crossover
    operator TEXT NOT NULL,            -- the spec's operator name
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


@dataclass(frozen=True)
class NodeRecord:
    """A row of ``nodes`` as Python values."""

    id: int
    parent_ids: tuple[int, ...]
    role: str
    operator: str
    status: str
    buggy: bool | None
    metric: float | None
    fitness: float | None
    value: float | None
    plan: str | None
    code: str | None
    summary: str | None
    error: str | None
    depth: int
    debug_depth: int
    generation: int | None
    island: int | None
    worker: int | None
    meta: dict[str, Any]
    created_at: float
    finished_at: float | None


def _node(row: sqlite3.Row) -> NodeRecord:
    return NodeRecord(
        id=row["id"], parent_ids=tuple(json.loads(row["parent_ids"])), role=row["role"],
        operator=row["operator"], status=row["status"],
        buggy=None if row["buggy"] is None else bool(row["buggy"]), metric=row["metric"],
        fitness=row["fitness"], value=row["value"], plan=row["plan"], code=row["code"],
        summary=row["summary"], error=row["error"], depth=row["depth"], debug_depth=row["debug_depth"],
        generation=row["generation"], island=row["island"], worker=row["worker"],
        meta=json.loads(row["meta"] or "{}"), created_at=row["created_at"], finished_at=row["finished_at"])


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
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

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

    def event(self, kind: str, **data: Any) -> None:
        self.conn.execute("INSERT INTO events (time, kind, data) VALUES (?, ?, ?)",
                          (time.time(), kind, json.dumps(data, sort_keys=True, default=str)))

    def events(self) -> list[dict[str, Any]]:
        return [{"time": r["time"], "kind": r["kind"], "data": json.loads(r["data"])}
                for r in self.conn.execute("SELECT * FROM events ORDER BY id")]

    # -- nodes ----------------------------------------------------------------------------

    def add_pending(self, node_id: int, *, parent_ids: tuple[int, ...], role: str, operator: str,
                    depth: int, debug_depth: int, generation: int | None, island: int | None,
                    worker: int | None, meta: Mapping[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO nodes (id, parent_ids, role, operator, status, depth, debug_depth, generation, island,"
            " worker, meta, created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
            (node_id, json.dumps(list(parent_ids)), role, operator, depth, debug_depth, generation, island,
             worker, json.dumps(dict(meta), sort_keys=True, default=str), time.time()))

    def nodes(self, status: str | None = None) -> list[NodeRecord]:
        if status is None:
            rows = self.conn.execute("SELECT * FROM nodes ORDER BY id")
        else:
            rows = self.conn.execute("SELECT * FROM nodes WHERE status = ? ORDER BY id", (status,))
        return [_node(r) for r in rows]

    def node(self, node_id: int) -> NodeRecord | None:
        row = self.conn.execute("SELECT * FROM nodes WHERE id = ?", (node_id,)).fetchone()
        return None if row is None else _node(row)

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
