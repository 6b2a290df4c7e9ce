"""The run directory: metadata, per-node files and the always-valid best submission.

Every file that readers may see is replaced atomically (written to a temporary name in the same
folder, flushed, then renamed), so a run killed at any instant leaves either the old or the new
version, never a torn one.

Files taken from a node's workspace arrive only as copies made by the safe reader
(:func:`aira_dsl.sandbox.readback.read_back`) into a private staging folder, and are moved from
there into ``nodes/NNNNN/``; ``best/`` is filled from the node folder the same way. So nothing in
the run directory can be a link, a FIFO or anything but a regular file with the bytes the node
wrote.

One orchestrator at a time owns a run directory: :meth:`RunDir.lock` takes an exclusive
``flock`` on ``run.lock`` (released by the kernel when the process ends, however it ends), and a
second ``run``/``run --resume`` of the same folder is refused with the holder's pid.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from aira_dsl.atomicfile import atomic_copy, atomic_write

__all__ = ["RunDir", "RunInUse", "RunLock", "atomic_copy", "atomic_write", "default_run_dir"]

LOCK_FILE = "run.lock"
WORK_DIR = "work"
"""Where node workspaces live while they run (removed after each node; leftovers on resume)."""
STAGING_DIR = ".incoming"
"""Private folder receiving host copies of a node's outputs before they are checked."""


class RunInUse(Exception):
    """Another live process holds the run directory's lock."""

    def __init__(self, root: Path, pid: int | None):
        self.root = root
        self.pid = pid
        holder = f"pid {pid}" if pid else "another process"
        super().__init__(f"run in use by {holder}: {root}")


class RunLock:
    """The held exclusive lock of a run directory (see :meth:`RunDir.lock`)."""

    def __init__(self, fd: int, path: Path):
        self.fd = fd
        self.path = path

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = -1

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def _holder(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    return None


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

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_FILE

    @property
    def work_dir(self) -> Path:
        return self.root / WORK_DIR

    def node_dir(self, node_id: int) -> Path:
        return self.root / "nodes" / f"{node_id:05d}"

    # -- ownership ----------------------------------------------------------------------------

    def lock(self) -> RunLock:
        """Take the run directory for this process, or raise :class:`RunInUse` (never waits).

        The lock file holds the owner's pid for the message; the lock itself is the ``flock``,
        so a crashed owner never leaves the directory locked. The descriptor is not inherited
        by sandboxes or the grading process.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(fd)
            os.close(fd)
            raise RunInUse(self.root, pid) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return RunLock(fd, self.lock_path)

    def holder(self) -> int | None:
        """The pid of the live process that holds the lock, or None when nobody does."""
        try:
            fd = os.open(self.lock_path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _holder(fd) or -1
            return None
        finally:
            os.close(fd)

    def remove_leftovers(self) -> list[str]:
        """Remove workspaces and staging folders left by nodes a killed run dropped (call it only
        while holding the lock: then no live process can be using them). Returns what went."""
        from aira_dsl.sandbox.workspace import remove_workspace

        removed: list[str] = []
        for folder in (self.work_dir, self.root / STAGING_DIR):
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue  # e.g. the sandbox's cached data copy (work/.data), kept across resumes
                with contextlib.suppress(OSError):
                    remove_workspace(Path(entry.path))
                    removed.append(f"{folder.name}/{entry.name}")
        return removed

    # -- node files ---------------------------------------------------------------------------

    def staging(self, node_id: int) -> Path:
        """A fresh private folder (mode 0700) for host copies of one node's outputs."""
        base = self.root / STAGING_DIR
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder = base / f"{node_id:05d}"
        if folder.exists() or folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o700)
        return folder

    def adopt_node_file(self, node_id: int, name: str, staged: Path) -> None:
        """Move a staged host copy (a regular file written by the safe reader) into the node's folder."""
        target = self.node_dir(node_id) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)

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

    def publish_best(self, node_id: int, info: dict[str, Any]) -> bool:
        """Copy a node's submission and solution to ``best/`` (submission last: readers poll it).

        The copies go through the safe reader, so ``best/`` only ever holds regular files; a
        node folder whose submission is not a regular file (never written so by the engine)
        publishes nothing and returns False.
        """
        from aira_dsl.sandbox.readback import MAX_SUBMISSION_BYTES, Refusal, read_back

        folder = self.node_dir(node_id)
        staged = self.best.with_name(".best-staging")
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir(mode=0o700, parents=True)
        try:
            submission = read_back(folder, "submission.csv", max_bytes=MAX_SUBMISSION_BYTES,
                                   dest=staged / "submission.csv")
            if isinstance(submission, Refusal):
                return False
            solution = read_back(folder, "solution.py", max_bytes=MAX_SUBMISSION_BYTES, dest=self.best / "solution.py")
            if isinstance(solution, Refusal):
                (self.best / "solution.py").unlink(missing_ok=True)
            atomic_write(self.best / "node.json", json.dumps(info, indent=2, sort_keys=True, default=str) + "\n")
            os.replace(staged / "submission.csv", self.best / "submission.csv")
            return True
        finally:
            shutil.rmtree(staged, ignore_errors=True)
