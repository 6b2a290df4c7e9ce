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

A recording may come from someone else (shared beside a paper's specs), so a replayed entry is
read like an endpoint's answer (:func:`read_recorded`): size and nesting bounded, strings
cleaned, every field of the expected type, token counts, cost and latency finite and not
negative. An entry that fails is a :class:`~aira_dsl.llm.errors.LLMConfigError` naming the
entry and the field, never a Python error and never a budget loosened by a negative count.
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
from aira_dsl.llm.untrusted import MAX_JSON_DEPTH, MAX_RESPONSE_BYTES, clean_json, json_depth

__all__ = ["CacheMode", "RecordingProblem", "ResponseCache", "read_recorded", "request_key"]

MAX_RECORDED_BYTES = 4 * MAX_RESPONSE_BYTES
"""The most bytes of one recorded outcome: an answer, its reasoning and the raw body (each within
the response bound when recorded) with room to spare."""
MAX_RECORDED_TOKENS = 1_000_000_000
"""The largest token count a recorded usage may state."""
MAX_RECORDED_COST_USD = 1_000_000.0
MAX_RECORDED_SECONDS = 7 * 24 * 3600.0
MAX_RECORDED_ATTEMPTS = 1000

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
        try:
            return read_recorded(row)
        except RecordingProblem as problem:
            raise LLMConfigError(
                f"the recording {self.path} holds a malformed answer for {info.describe()} "
                f"(request {key[:12]}…, occurrence {occurrence + 1}): {problem}",
                hint="the file was changed outside aira-dsl or was not written by it; record the run "
                     "again") from None

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


class RecordingProblem(ValueError):
    """What is wrong with one recorded outcome (the message names the field)."""


def _number(value: Any, field: str, top: float, *, whole: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
        raise RecordingProblem(f"{field} is {type(value).__name__}, not a {'whole ' if whole else ''}number")
    if not 0 <= value <= top:  # NaN fails this too
        raise RecordingProblem(f"{field} is {value!r}, outside 0..{top:g}")


def _text(value: Any, field: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise RecordingProblem(f"{field} is {type(value).__name__}, not text")


def _check_result(result: Any) -> None:
    if not isinstance(result, dict):
        raise RecordingProblem("result is not a mapping")
    _text(result.get("text", ""), "result.text")
    _text(result.get("reasoning", ""), "result.reasoning")
    for name in ("tool_arguments", "tool_name", "finish_reason"):
        _text(result.get(name), f"result.{name}", optional=True)
    usage = result.get("usage", {})
    if not isinstance(usage, dict):
        raise RecordingProblem("result.usage is not a mapping")
    for name in ("prompt_tokens", "completion_tokens", "reasoning_tokens"):
        _number(usage.get(name, 0), f"result.usage.{name}", MAX_RECORDED_TOKENS, whole=True)
    _number(result.get("latency", 0.0), "result.latency", MAX_RECORDED_SECONDS)
    _number(result.get("cost_usd", 0.0), "result.cost_usd", MAX_RECORDED_COST_USD)
    _number(result.get("attempts", 1), "result.attempts", MAX_RECORDED_ATTEMPTS, whole=True)
    if not isinstance(result.get("raw", {}), dict):
        raise RecordingProblem("result.raw is not a mapping")
    if not isinstance(result.get("usage_estimated", False), bool):
        raise RecordingProblem("result.usage_estimated is not true or false")


def _check_error(error: Any) -> None:
    if not isinstance(error, dict):
        raise RecordingProblem("error is not a mapping")
    _text(error.get("message", ""), "error.message")
    _text(error.get("hint"), "error.hint", optional=True)
    _text(error.get("type"), "error.type", optional=True)
    if error.get("status_code") is not None:
        _number(error["status_code"], "error.status_code", 999, whole=True)
    _number(error.get("attempts", 0), "error.attempts", MAX_RECORDED_ATTEMPTS, whole=True)
    _number(error.get("elapsed", 0.0), "error.elapsed", MAX_RECORDED_SECONDS)


def read_recorded(row: str) -> dict[str, Any]:
    """A stored outcome (``{"result": ...}`` or ``{"error": ...}``), checked as untrusted input
    and with its strings cleaned; raises :class:`RecordingProblem` naming what is wrong."""
    if len(row) > MAX_RECORDED_BYTES:
        raise RecordingProblem(f"it is larger than {MAX_RECORDED_BYTES // (1024 * 1024)} MiB")
    try:
        value = json.loads(row)
    except RecursionError:
        raise RecordingProblem("it is JSON nested too deeply") from None
    except ValueError as exc:
        raise RecordingProblem(f"it is not valid JSON ({str(exc).split(';')[0]})") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise RecordingProblem(f"it is JSON nested more than {MAX_JSON_DEPTH} levels deep")
    value = clean_json(value)
    if not isinstance(value, dict) or ("result" in value) == ("error" in value):
        raise RecordingProblem("it holds neither one result nor one error")
    if "result" in value:
        _check_result(value["result"])
    else:
        _check_error(value["error"])
    return value
