"""The run directory: metadata, per-node files and the always-valid best submission.

Every file that readers may see is replaced atomically (written to a temporary name in the same
folder, flushed, then renamed), so a run killed at any instant leaves either the old or the new
version, never a torn one.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

from aira_dsl.atomicfile import atomic_copy, atomic_write

__all__ = ["RunDir", "atomic_copy", "atomic_write", "default_run_dir"]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "x"


def default_run_dir(spec_name: str, task_id: str, root: Path = Path("runs")) -> Path:
    """``runs/<timestamp>_<spec>_<task>_<id>/``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return root / f"{stamp}_{_slug(spec_name)}_{_slug(task_id)}_{secrets.token_hex(3)}"


class RunDir:
    """Paths inside a run directory and the atomic writers for them."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def plan_json(self) -> Path:
        return self.root / "plan.json"

    @property
    def best(self) -> Path:
        return self.root / "best"

    def node_dir(self, node_id: int) -> Path:
        return self.root / "nodes" / f"{node_id:05d}"

    @property
    def work(self) -> Path:
        """Where sandbox workspaces are created (one folder per node in flight)."""
        return self.root / "work"

    def scratch_root(self) -> Path:
        """A host-only folder for what the host reads back from workspaces (never mounted)."""
        folder = self.root / "readback"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return folder

    def exists(self) -> bool:
        return self.run_json.is_file() and (self.root / "journal.sqlite").is_file()

    def read_run(self) -> dict[str, Any]:
        try:
            data = json.loads(self.run_json.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def write_run(self, data: dict[str, Any]) -> None:
        atomic_write(self.run_json, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")

    def update_run(self, **changes: Any) -> dict[str, Any]:
        data = {**self.read_run(), **changes}
        self.write_run(data)
        return data

    def write_node_file(self, node_id: int, name: str, data: bytes | str) -> None:
        atomic_write(self.node_dir(node_id) / name, data)

    def publish_best(self, node_id: int, info: dict[str, Any]) -> None:
        """Copy a node's submission and solution to ``best/`` (submission last: readers poll it)."""
        folder = self.node_dir(node_id)
        if (folder / "solution.py").is_file():
            atomic_copy(folder / "solution.py", self.best / "solution.py")
        atomic_write(self.best / "node.json", json.dumps(info, indent=2, sort_keys=True, default=str) + "\n")
        atomic_copy(folder / "submission.csv", self.best / "submission.csv")
