"""Record/replay of model answers, keyed by a canonical hash of the request.

``record`` sends every request and stores the outcome; ``replay`` answers only from the store and
never touches the network, so a recorded run can be repeated offline, byte for byte; ``off``
does neither. The key is a sha256 over sorted-keys JSON of the model id, the messages as sent and
the generation parameters — not the endpoint, key, timeout or headers, which do not change what
the model was asked.

Identical requests are common (five drafts from the same prompt at temperature 1) and must get
their different answers back in the same order, so each key is stored with an occurrence number:
the n-th identical request in a run replays the n-th recorded answer. With one worker the order
is the run's own; with several, identical requests may trade answers between nodes.

Final failures (an unavailable endpoint, a rejected request) are recorded too, so a replayed run
fails where the recorded one failed. The store is one SQLite file in WAL mode.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from aira_dsl.llm.errors import LLMConfigError, ReplayMissError
from aira_dsl.llm.types import CallInfo, Message

__all__ = ["CacheMode", "ResponseCache", "request_key"]

CacheMode = Literal["record", "replay", "off"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT NOT NULL,
    occurrence INTEGER NOT NULL,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    outcome TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (key, occurrence)
)
"""


def canonical_request(model: str, messages: Sequence[Message], params: Mapping[str, Any]) -> str:
    """The request as canonical JSON (sorted keys, no whitespace): what the key hashes."""
    body = {"model": model, "messages": [dict(m) for m in messages], "params": dict(params)}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def request_key(model: str, messages: Sequence[Message], params: Mapping[str, Any]) -> str:
    """sha256 hex of :func:`canonical_request`."""
    return hashlib.sha256(canonical_request(model, messages, params).encode("utf-8")).hexdigest()


class ResponseCache:
    """A request-keyed store of answers in one SQLite file; safe across threads and event loops."""

    def __init__(self, path: str | Path | None = None, mode: CacheMode = "off") -> None:
        if mode not in get_args(CacheMode):
            raise LLMConfigError(f"unknown cache mode {mode!r}", hint="use record, replay or off")
        self.mode: CacheMode = mode
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        self._db: sqlite3.Connection | None = None
        if mode == "off":
            return
        if self.path is None:
            raise LLMConfigError(f"cache mode {mode!r} needs a file path", hint="pass the recording's path")
        if mode == "replay" and not self.path.exists():
            raise LLMConfigError(f"replay recording {self.path} does not exist",
                                 hint="record a run first (cache mode record), or check the path")
        if mode == "record":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise LLMConfigError(f"cannot open the recording {self.path}: {exc}",
                                 hint="the file must be a recording written by aira-dsl") from exc

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def claim(self, key: str) -> int:
        """The occurrence number of this request in the run (0 for the first identical one)."""
        with self._lock:
            occurrence = self._seen.get(key, 0)
            self._seen[key] = occurrence + 1
            return occurrence

    def lookup(self, key: str, occurrence: int, info: CallInfo) -> dict[str, Any]:
        """The stored outcome; in replay mode a miss raises :class:`ReplayMissError`."""
        row = self._fetch(key, occurrence)
        if row is None:
            raise ReplayMissError(
                f"replay: no recorded answer for {info.describe()} (request {key[:12]}…, "
                f"occurrence {occurrence + 1})",
                hint="the prompt, model or parameters differ from the recorded run; record again, "
                     "or replay the plan that was recorded",
                operator=info.operator, node_id=None if info.node_id is None else str(info.node_id), key=key)
        result: dict[str, Any] = json.loads(row)
        return result

    def _fetch(self, key: str, occurrence: int) -> str | None:
        assert self._db is not None
        with self._lock:
            row = self._db.execute("SELECT outcome FROM responses WHERE key = ? AND occurrence = ?",
                                   (key, occurrence)).fetchone()
        return None if row is None else str(row[0])

    def store(self, key: str, occurrence: int, model: str, canonical: str, outcome: Mapping[str, Any]) -> None:
        """Write one outcome (``{"result": ...}`` or ``{"error": ...}``); replaces an older one."""
        assert self._db is not None
        text = json.dumps(dict(outcome), sort_keys=True, ensure_ascii=False)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                             (key, occurrence, model, canonical, text, time.time()))

    def __len__(self) -> int:
        if self._db is None:
            return 0
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
