"""Atomic file replacement: readers see the old file or the new one, never a torn one.

Used wherever a file may be read while it is rewritten or survive a crash mid-write: plans,
run metadata, best submissions, sweep manifests, the HTML viewer.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["atomic_copy", "atomic_write"]


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write(path: Path, data: bytes | str, *, mode: int = 0o666) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, rename it over.

    ``mode`` is the new file's permissions before the umask (0o600: readable by this user only).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_copy(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` the same way."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(target)
    try:
        shutil.copyfile(source, tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
