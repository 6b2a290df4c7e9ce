"""What a node left in its workspace, taken back by the host without trusting any of it.

After a node's execution the engine needs three things from the workspace: the submission, the
hidden-validation predictions (when the task holds rows back) and the metrics the solution
reported in ``working/metrics.json``. All three are read through
:func:`aira_dsl.sandbox.readback.read_back` (no link followed, regular single-link files only,
size-capped before reading, never blocking), the two CSV files as copies into a private host
staging folder: the grader and the hidden-validation scorer only ever see those copies, never a
workspace path. A file that is refused makes the node's submission invalid with the refusal as
the reason (a solution that leaves a FIFO or a link to the answers is broken or hostile).

Reported metrics are untrusted values too: only finite numbers within ±:data:`REPORTED_MAX_ABS`
are kept; NaN, infinities, huge integers, booleans, strings and nested values are ignored, each
with a note that the engine shows in the node's output (so the agent learns why).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_dsl.sandbox.readback import MAX_METRICS_BYTES, MAX_SUBMISSION_BYTES, ReadBack, Refusal, read_back

__all__ = [
    "HIDDEN_PREDICTIONS",
    "MAX_REPORTED_METRICS",
    "METRICS_FILE",
    "REPORTED_MAX_ABS",
    "SUBMISSION_FILE",
    "NodeOutputs",
    "collect_outputs",
    "parse_reported",
]

SUBMISSION_FILE = "submission/submission.csv"
METRICS_FILE = "working/metrics.json"
HIDDEN_PREDICTIONS = "submission/hidden_val_predictions.csv"
REPORTED_MAX_ABS = 1e12
"""Reported metric values must be finite and within ±1e12; anything else is ignored with a note."""
MAX_REPORTED_METRICS = 50
"""At most this many reported metrics are kept (the first ones, in file order)."""
_MAX_NAME = 100
_MAX_NOTES = 8
_DIGITS = 30  # integers with more digits are certainly out of range; they are never converted


class _Unusable:
    """A parsed JSON value that is not a usable number (NaN, ±Infinity, a huge integer)."""

    def __init__(self, what: str):
        self.what = what


def _constant(name: str) -> _Unusable:
    return _Unusable(f"{name} is not a finite number")


def _integer(text: str) -> int | _Unusable:
    digits = len(text.lstrip("-"))
    if digits > _DIGITS:
        return _Unusable(f"a {digits}-digit integer is outside ±{REPORTED_MAX_ABS:g}")
    return int(text)


def _why_not(value: Any) -> str | None:
    """None when ``value`` is a usable metric, else why it is ignored."""
    if isinstance(value, _Unusable):
        return value.what
    if isinstance(value, bool):
        return f"{str(value).lower()} is not a number"
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return f"{value} is not a finite number"
        if abs(value) > REPORTED_MAX_ABS:
            return f"{value:g} is outside ±{REPORTED_MAX_ABS:g}"
        return None
    if isinstance(value, dict):
        return "a nested object is not a number"
    if isinstance(value, list):
        return "a list is not a number"
    if isinstance(value, str):
        return "a string is not a number"
    return "null is not a number" if value is None else "not a number"


def parse_reported(data: bytes) -> tuple[dict[str, float], list[str]]:
    """The usable metrics in a ``metrics.json`` payload, and notes about everything ignored."""
    notes: list[str] = []
    try:
        parsed = json.loads(data.decode("utf-8"), parse_constant=_constant, parse_int=_integer)
    except UnicodeDecodeError:
        return {}, [f"{METRICS_FILE} is not UTF-8 text; no metric was read"]
    except RecursionError:
        return {}, [f"{METRICS_FILE} is nested too deeply; no metric was read"]
    except ValueError as exc:
        return {}, [f"{METRICS_FILE} is not valid JSON ({str(exc)[:120]}); no metric was read"]
    if not isinstance(parsed, dict):
        return {}, [f"{METRICS_FILE} must hold a JSON object of name: number; no metric was read"]
    out: dict[str, float] = {}
    items = list(parsed.items())
    if len(items) > MAX_REPORTED_METRICS:
        notes.append(f"{METRICS_FILE} holds {len(items)} entries; only the first {MAX_REPORTED_METRICS} are read")
    for key, value in items[:MAX_REPORTED_METRICS]:
        name = str(key)
        if len(name) > _MAX_NAME:
            notes.append(f"{METRICS_FILE}: a metric name of {len(name)} characters is ignored (at most {_MAX_NAME})")
            continue
        problem = _why_not(value)
        if problem is None:
            out[name] = float(value)
        else:
            notes.append(f"{METRICS_FILE}: {json.dumps(name)[:60]} ignored: {problem}")
    if len(notes) > _MAX_NOTES:
        notes = [*notes[:_MAX_NOTES], f"... and {len(notes) - _MAX_NOTES} more ignored entries"]
    return out, notes


@dataclass
class NodeOutputs:
    """The host's view of a node's outputs after its execution."""

    submission: Path | None = None
    """Host copy of the submission (None: absent or refused)."""
    submission_exists: bool = False
    hidden: Path | None = None
    """Host copy of the hidden-validation predictions (None: absent, refused or not asked for)."""
    reported: dict[str, float] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)
    """Files that were present but refused, each with its reason (they make the node buggy)."""
    notes: list[str] = field(default_factory=list)
    """Values that were ignored (they only make the node buggy if its fitness needs them)."""

    @property
    def refusal(self) -> str | None:
        return "; ".join(self.refusals) if self.refusals else None


def _copy(root: Path, relpath: str, staging: Path, out: NodeOutputs) -> tuple[bool, Path | None]:
    """(something is there, host copy or None)."""
    result = read_back(root, relpath, max_bytes=MAX_SUBMISSION_BYTES, dest=staging / Path(relpath).name)
    if isinstance(result, Refusal):
        if result.exists:
            out.refusals.append(result.reason)
        return result.exists, None
    return True, result.dest


def collect_outputs(workspace_root: Path, staging: Path, *, hidden: bool) -> NodeOutputs:
    """Read back a finished node's submission, hidden predictions and metrics (blocking; call it in a
    worker thread). ``staging`` is a fresh private folder on the host that receives the copies."""
    out = NodeOutputs()
    out.submission_exists, out.submission = _copy(workspace_root, SUBMISSION_FILE, staging, out)
    if hidden:
        _, out.hidden = _copy(workspace_root, HIDDEN_PREDICTIONS, staging, out)
    metrics = read_back(workspace_root, METRICS_FILE, max_bytes=MAX_METRICS_BYTES)
    if isinstance(metrics, ReadBack):
        out.reported, out.notes = parse_reported(metrics.data or b"")
    elif metrics.exists:
        out.refusals.append(metrics.reason)
    return out
