"""What a job writes about itself: ``jobs/<key>/state.json`` and ``jobs/<key>/attempts.jsonl``.

The job (on a cluster node, in a Ray worker or a local process) is the only writer of its own
records, so they need no lock: ``state.json`` is replaced atomically and says where the job is
now; ``attempts.jsonl`` gains one line when an attempt starts and one when it ends (host, pid,
engine id, the GPUs it got, times, outcome). The controller reads both to work out states that
no engine can tell (a run that finished, a job killed before it could say so), and tests read
the attempts to check that concurrent jobs never shared a GPU.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aira_dsl.atomicfile import atomic_write

__all__ = ["append_attempt", "read_attempts", "read_state", "write_state"]

STATE_FILE = "state.json"
ATTEMPTS_FILE = "attempts.jsonl"


def write_state(job_dir: Path, data: dict[str, Any]) -> None:
    atomic_write(job_dir / STATE_FILE, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_state(job_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((job_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def append_attempt(job_dir: Path, event: dict[str, Any]) -> None:
    """One JSON line, written with a single ``write`` in append mode (whole lines only)."""
    job_dir.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(event, sort_keys=True, default=str) + "\n").encode("utf-8")
    fd = os.open(job_dir / ATTEMPTS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_attempts(job_dir: Path) -> list[dict[str, Any]]:
    """Every event (``start`` / ``end``), oldest first; a torn last line is skipped."""
    try:
        text = (job_dir / ATTEMPTS_FILE).read_text(encoding="utf-8")
    except OSError:
        return []
    events = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            events.append(item)
    return events
