"""Sandbox uids: each orchestrator on a machine gets a block of its own.

When aira-dsl runs as root, node code runs as an unprivileged uid, a different one for every
workspace in use, so one node's code can neither write into another's workspace nor count
against its process limit. Several orchestrators on one machine (a sweep, two runs) must not
hand out the same uid either: code of one run could then signal or trace the other's, or reach
its workspace. So each process takes a **block** of :data:`BLOCK_SIZE` uids by an exclusive
``flock`` on a lock file named after the block's first uid, in :func:`lock_dir` (``/run/aira-dsl/
uids`` where writable, else a private folder in the temporary directory). The kernel drops the
lock when the process ends, however it ends, so a crashed orchestrator's block is free again at
once; nothing needs cleaning. Blocks are aligned to multiples of :data:`BLOCK_SIZE`, so
profiles with different ``local.uid`` values either share a block's lock or do not overlap.

Within its block a process hands out the uids round-robin, never two live workspaces the same.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
import threading
from pathlib import Path

from aira_dsl.sandbox.base import SandboxError

__all__ = ["BLOCK_SIZE", "UID_RANGE", "UidBlock", "lock_dir", "uid_block"]

BLOCK_SIZE = 256
"""Uids per orchestrator: the most workspaces one process may have at the same time."""
UID_RANGE = 50_000
"""How many uids from the profile's ``local.uid`` on are used for sandboxes (195 blocks)."""
_RUN_DIR = Path("/run/aira-dsl/uids")


def _usable_dir(path: Path, mode: int) -> bool:
    """Create ``path`` (parents too) owned by us and not a link; False when that is impossible."""
    try:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022


def lock_dir() -> Path:
    """Where the block locks live: shared by every orchestrator of this user on the machine."""
    if _usable_dir(_RUN_DIR, 0o755):
        return _RUN_DIR
    fallback = Path(tempfile.gettempdir()) / f"aira-dsl-uids-{os.geteuid()}"
    if _usable_dir(fallback, 0o700):
        return fallback
    raise SandboxError(f"cannot create a folder for sandbox uid locks ({_RUN_DIR} or {fallback})",
                       hint="make /run or the temporary directory writable for the user running aira-dsl")


class UidBlock:
    """A block of uids held by this process (through an open, locked file)."""

    def __init__(self, start: int, size: int, fd: int, path: Path):
        self.start = start
        self.size = size
        self.path = path
        self._fd = fd
        self._next = 0
        self._in_use: set[int] = set()
        self._lock = threading.Lock()

    @property
    def stop(self) -> int:
        return self.start + self.size

    def acquire(self) -> int:
        """A uid of the block that no live workspace of this process uses."""
        with self._lock:
            for step in range(self.size):
                uid = self.start + (self._next + step) % self.size
                if uid not in self._in_use:
                    self._in_use.add(uid)
                    self._next = (uid - self.start + 1) % self.size
                    return uid
        raise SandboxError(f"all {self.size} sandbox uids of this process ({self.start}-{self.stop - 1}) are "
                           "in use by live workspaces",
                           hint=f"run fewer than {self.size} workers per process")

    def release(self, uid: int | None) -> None:
        with self._lock:
            self._in_use.discard(uid)

    def close(self) -> None:
        """Give the block back (normally the process's exit does this)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


_BLOCKS: dict[int, UidBlock] = {}
_BLOCKS_LOCK = threading.Lock()


def _take(directory: Path, base: int) -> UidBlock:
    first = -(-base // BLOCK_SIZE) * BLOCK_SIZE
    count = max(1, (base + UID_RANGE - first) // BLOCK_SIZE)
    offset = os.getpid() % count  # spread the first attempts of concurrent orchestrators
    for step in range(count):
        start = first + ((offset + step) % count) * BLOCK_SIZE
        path = directory / f"uids-{start}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise SandboxError(f"cannot open the sandbox uid lock {path}: {exc.strerror}",
                               hint=f"remove {path} if it is not a regular file") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return UidBlock(start, BLOCK_SIZE, fd, path)
    raise SandboxError(f"every block of sandbox uids from {first} to {first + count * BLOCK_SIZE - 1} is held "
                       f"by another aira-dsl process on this machine ({count} blocks of {BLOCK_SIZE})",
                       hint="wait for some runs to end, or give this profile another local.uid range")


def uid_block(base: int) -> UidBlock:
    """This process's block of uids at or above ``base`` (taken on first use, kept until exit)."""
    with _BLOCKS_LOCK:
        block = _BLOCKS.get(base)
        if block is None or block._fd < 0:
            block = _BLOCKS[base] = _take(lock_dir(), base)
        return block
