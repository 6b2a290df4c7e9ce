"""A task's public data as the sandbox's user can read it, without loosening the host's modes.

The data folder is bound read-only at ``./data``, and inside the sandbox the code runs as an
unprivileged uid (as root) or as a fixed container user (Docker). A folder that user cannot
read — ``mkdtemp`` makes folders 0700, a download may leave files 0600 — would make every node
fail with a ``PermissionError`` that the agent then tries to "debug". Changing the modes on the
host would expose the data to every local user, and a tree of hard links cannot help (links
share their inode's mode). So, once per run, before any node:

* if every folder and file is readable by the sandbox's user, the folder is used as it is;
* else, if it holds at most :data:`DATA_COPY_MAX_BYTES`, a private copy is made under the run's
  ``work/.data/`` — files 0644 and folders 0755 inside a 0700 folder, so the sandbox (which sees
  only the bound copy) can read it and no other host user can reach it; the copy is reused on
  resume while the source is unchanged (same files, sizes and modification times);
* else the run stops before it starts, with a message naming the folder, an unreadable entry and
  the fix (``chmod -R a+rX``, or pointing the task at a readable copy).

Symbolic links in the data are copied as links (resolved, as before, inside the sandbox's own
view); FIFOs, sockets and devices are not copied.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aira_dsl.sandbox.base import SandboxError

__all__ = ["DATA_COPY_MAX_BYTES", "Reader", "readable_view", "unreadable_entries"]

DATA_COPY_MAX_BYTES = 4 << 30
"""Largest data folder copied to make it readable (4 GiB); larger ones stop the run with the fix."""
_MARKER = ".complete"


@dataclass(frozen=True)
class Reader:
    """Who reads the data inside the sandbox.

    ``uid``/``gid`` None: an unprivileged uid that owns nothing on the host and is in no group
    (only the "other" permission bits count). ``as_self``: the calling user (``os.access``).
    """

    uid: int | None = None
    gid: int | None = None
    as_self: bool = False

    def can(self, info: os.stat_result, path: str, need: int) -> bool:
        """Whether this reader has the ``need`` bits (4 read, 1 search) on the entry."""
        if self.as_self:
            mask = (os.R_OK if need & 4 else 0) | (os.X_OK if need & 1 else 0)
            return os.access(path, mask, follow_symlinks=False)
        mode = info.st_mode
        if self.uid is not None and info.st_uid == self.uid:
            bits = (mode >> 6) & 7
        elif self.gid is not None and info.st_gid == self.gid:
            bits = (mode >> 3) & 7
        else:
            bits = mode & 7
        return bits & need == need


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(path, lstat) of ``root`` and everything below it, never following a link."""
    stack = [str(root)]
    while stack:
        directory = stack.pop()
        yield directory, os.lstat(directory)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            else:
                yield entry.path, entry.stat(follow_symlinks=False)


def unreadable_entries(root: Path, reader: Reader, limit: int = 3) -> tuple[list[str], int, str]:
    """(up to ``limit`` entries ``reader`` cannot use, total bytes of regular files, signature)."""
    problems: list[str] = []
    total = 0
    digest = hashlib.sha256()
    for path, info in _walk(root):
        rel = os.path.relpath(path, root)
        digest.update(f"{rel}\0{info.st_mode}\0{info.st_size}\0{info.st_mtime_ns}\n".encode("utf-8", "replace"))
        if stat.S_ISDIR(info.st_mode):
            ok = reader.can(info, path, 5)
        elif stat.S_ISREG(info.st_mode):
            total += info.st_size
            ok = reader.can(info, path, 4)
        else:
            ok = True
        if not ok and len(problems) < limit:
            kind = "folder" if stat.S_ISDIR(info.st_mode) else "file"
            problems.append(f"{path} ({kind}, mode {stat.S_IMODE(info.st_mode):04o}, owner uid {info.st_uid})")
    return problems, total, digest.hexdigest()


def _copy_tree(source: Path, dest: Path) -> None:
    for path, info in _walk(source):
        rel = os.path.relpath(path, source)
        target = dest if rel == "." else dest / rel
        if stat.S_ISDIR(info.st_mode):
            target.mkdir(mode=0o755, exist_ok=rel == ".")
            os.chmod(target, 0o755)
        elif stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(path), target)
        elif stat.S_ISREG(info.st_mode):
            shutil.copyfile(path, target, follow_symlinks=False)
            os.chmod(target, 0o644)
            os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)


_LOCK = threading.Lock()
_VIEWS: dict[tuple[str, Reader, str], Path] = {}


def _private_folder(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def readable_view(data_dir: Path, reader: Reader, cache_root: Path) -> Path:
    """``data_dir`` itself when ``reader`` can read all of it, else a private readable copy under
    ``cache_root`` (see the module docstring); raises :class:`SandboxError` when it is too large."""
    data_dir = Path(data_dir).resolve()
    if not data_dir.is_dir():
        raise SandboxError(f"data folder {data_dir} does not exist or is not a folder",
                           hint="pass the task's public data folder")
    key = (str(data_dir), reader, str(cache_root))
    with _LOCK:  # one walk (and at most one copy) per folder and reader in this process
        known = _VIEWS.get(key)
        if known is not None and known.is_dir():
            return known
        problems, total, signature = unreadable_entries(data_dir, reader)
        if not problems:
            _VIEWS[key] = data_dir
            return data_dir
        if total > DATA_COPY_MAX_BYTES:
            raise SandboxError(
                f"the data folder {data_dir} is not readable by the sandbox's user: {problems[0]}; it holds "
                f"{total / 2**30:.1f} GiB, more than the {DATA_COPY_MAX_BYTES / 2**30:.0f} GiB aira-dsl copies "
                "to make data readable",
                hint=f"make it readable (chmod -R a+rX {data_dir}, or a group the sandbox user is in), or point "
                     "the task at a readable copy")
        _private_folder(cache_root)
        folder = cache_root / hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
        copy = folder / "data"
        marker = folder / _MARKER
        try:
            recorded = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            recorded = None
        if recorded != {"source": str(data_dir), "signature": signature}:
            shutil.rmtree(folder, ignore_errors=True)
            _private_folder(folder)
            try:
                _copy_tree(data_dir, copy)
            except OSError as exc:
                shutil.rmtree(folder, ignore_errors=True)
                raise SandboxError(f"the data folder {data_dir} is not readable by the sandbox's user "
                                   f"({problems[0]}), and copying it failed: {exc}",
                                   hint=f"make it readable: chmod -R a+rX {data_dir}") from exc
            marker.write_text(json.dumps({"source": str(data_dir), "signature": signature}), encoding="utf-8")
        _VIEWS[key] = copy
        return copy
