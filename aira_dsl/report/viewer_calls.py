"""A node's LLM calls (prompts and answers) for the viewer, read only when asked for.

Prompts dominate a run's journal (every call stores the rendered messages), so the viewer page
never embeds them: a served page fetches ``api/calls/ID`` when a node's calls are opened, and a
static page written with ``--calls`` loads ``report.calls/NNNNN.js``, one small script per
node, through a ``<script>`` element (browsers refuse ``fetch`` on ``file://`` but load
scripts). The journal is opened read-only; a run still being written is read beside its writer.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

from aira_dsl.report.load import read_call_rows

__all__ = ["CALLBACK", "call_file_name", "call_script", "finite", "node_calls", "write_call_files"]

CALLBACK = "__airaViewerCalls"
"""The global function a call script hands its node's calls to (defined by ``viewer.js``)."""

_FIELDS = ("id", "operator", "kind", "model", "attempt", "prompt_tokens", "completion_tokens",
           "reasoning_tokens", "cost_usd", "latency", "cached", "error", "created_at")


def _messages(text: Any) -> Any:
    """The chat messages as sent (a JSON list); text that is not JSON is kept as it is."""
    try:
        return json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError:
        return text


def finite(value: Any) -> Any:
    """NaN and infinities become ``None`` (``JSON.parse`` and strict JSON reject them), in nested
    mappings, lists and tuples too (the viewer's data uses this as well)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _call(row: sqlite3.Row) -> dict[str, Any]:
    keys = row.keys()
    call: dict[str, Any] = {k: row[k] for k in _FIELDS if k in keys}
    call["messages"] = _messages(row["messages"])
    call["response"] = row["response"]
    call["reasoning"] = row["reasoning"] if "reasoning" in keys else None
    return {k: finite(v) for k, v in call.items()}


def _rows(run_dir: Path, node_id: int | None) -> list[sqlite3.Row]:
    rows = read_call_rows(run_dir, node_id)
    return rows if node_id is not None else [r for r in rows if r["node_id"] is not None]


def node_calls(run_dir: Path, node_id: int) -> list[dict[str, Any]]:
    """The LLM calls made for node ``node_id``, oldest first, with messages and answers."""
    return [_call(r) for r in _rows(run_dir, node_id)]


def call_file_name(node_id: int) -> str:
    """The file holding a node's calls inside the calls folder (``00012.js``)."""
    return f"{node_id:05d}.js"


def call_script(node_id: int, calls: list[dict[str, Any]]) -> str:
    """A script that hands ``calls`` to the page: ``window.__airaViewerCalls(ID, [...]);``.

    Pure ASCII JSON (``\\u2028`` and friends escaped), so the file is valid JavaScript whatever
    the prompts hold; ``<``, ``>`` and ``&`` are escaped too, so even pasted into a page's
    ``<script>`` it could not close the element.
    """
    payload = json.dumps(calls, ensure_ascii=True, allow_nan=False, separators=(",", ":"), default=str)
    payload = payload.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return f"window.{CALLBACK} && window.{CALLBACK}({int(node_id)}, {payload});\n"


def write_call_files(run_dir: Path, folder: Path) -> int:
    """Write one call script per node that made calls into ``folder``; returns how many.

    Scripts of nodes that no longer exist in the journal (a resumed run drops the nodes that
    were in flight) are removed, so the folder always matches the page written beside it.
    """
    by_node: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in _rows(run_dir, None):
        by_node[int(row["node_id"])].append(_call(row))
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {call_file_name(node_id) for node_id in by_node}
    for entry in os.scandir(folder):
        if entry.name.endswith(".js") and entry.name not in wanted and entry.is_file(follow_symlinks=False):
            os.unlink(entry.path)
    for node_id, calls in by_node.items():
        # Renamed into place (a page never loads half a file) but not fsynced: the files are
        # derived from the journal and rewritten by the next ``view``, and 1,000 fsyncs cost seconds.
        target = folder / call_file_name(node_id)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(call_script(node_id, calls), encoding="ascii")
        os.replace(tmp, target)
    return len(by_node)
