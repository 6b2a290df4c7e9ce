"""Reading files back from a workspace: the one way the host touches what node code wrote.

Node code is hostile, and its workspace is a folder on the host. Anything in it may be a
symbolic link to the task's private answers (their host path is readable in the sandbox's
``/proc/self/mountinfo``), a FIFO that blocks the reader forever, a sparse file of terabytes, a
directory or socket named like the expected file, or a hard link. The host therefore never opens a
workspace path by name with ordinary ``open()``; every read-back (submissions, hidden-validation
predictions, reported metrics, files copied into the run directory and ``best/``) goes through
:func:`read_back`, which:

1. resolves the path **relative to the workspace root without following any symbolic link**:
   ``openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)``
   where the kernel has it (Linux ≥ 5.6), else a walk that opens every component with
   ``O_NOFOLLOW`` relative to the previous one's descriptor (``..`` and absolute paths are
   refused before any system call);
2. opens the leaf with ``O_PATH`` first (which opens nothing: no FIFO can block, no device
   driver runs) and checks with ``fstat`` that it is a **regular file** with **one link** and at
   most ``max_bytes`` long, *before* any byte is read;
3. reopens that same inode (through ``/proc/self/fd``, or by name with the inode compared) with
   ``O_NONBLOCK`` and reads at most ``st_size`` bytes in bounded chunks under a deadline,
   either into memory or into a fresh file (``O_CREAT | O_EXCL | O_NOFOLLOW``, then renamed),
   so a copy in the run directory can only ever be a regular file with the workspace file's bytes.

A file that fails any check is a :class:`Refusal` with a one-line human reason; the caller turns
it into the node's verdict, never into an exception that ends a run.

Hard links: the kernel only lets node code link files it can see inside its own mounts, so a
link in a workspace can only name another workspace file — except where there is no sandbox
(``isolation: none``), where the code could link any file of its user on the same file system.
Workspaces are fresh, and nothing the runtime writes into them has a second name, so the rule
is simply: a file with ``st_nlink != 1`` is refused.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = [
    "MAX_METRICS_BYTES",
    "MAX_SUBMISSION_BYTES",
    "READ_SECONDS",
    "ReadBack",
    "Refusal",
    "openat2_available",
    "read_back",
]

MAX_SUBMISSION_BYTES = 1 << 30
"""Largest submission (or hidden-validation prediction file) the host reads back: 1 GiB."""
MAX_METRICS_BYTES = 1 << 20
"""Largest ``working/metrics.json`` the host reads back: 1 MiB."""
READ_SECONDS = 120.0
"""Time one read-back may take before it is given up (a local file is read far faster)."""

_CHUNK = 1 << 20
_SYS_OPENAT2 = 437  # the same number on every architecture (it postdates the unified table)
RESOLVE_NO_XDEV, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_BENEATH = 0x01, 0x02, 0x04, 0x08
_RESOLVE = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV
O_PATH = getattr(os, "O_PATH", 0o10000000)


@dataclass(frozen=True)
class ReadBack:
    """A file read back: its bytes (``data``), or where its copy was written (``dest``)."""

    path: str
    size: int
    data: bytes | None = None
    dest: Path | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a workspace file was not read. ``code``: ``missing``, ``bad-path``, ``symlink``,
    ``not-regular``, ``hard-link``, ``too-large``, ``changed``, ``timeout`` or ``unreadable``."""

    path: str
    code: str
    reason: str

    @property
    def exists(self) -> bool:
        """Whether something (of whatever kind) is at the path."""
        return self.code not in ("missing", "bad-path")


class _Refused(Exception):
    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


# --------------------------------------------------------------------------------------------
# Resolving a path beneath the root


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_openat2_state: list[bool | None] = [None]  # None: not tried yet


def _openat2(dir_fd: int, path: str, flags: int) -> int:
    how = _OpenHow(flags=flags, mode=0, resolve=_RESOLVE)
    fd = _libc.syscall(ctypes.c_long(_SYS_OPENAT2), ctypes.c_int(dir_fd), os.fsencode(path),
                       ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return int(fd)


def openat2_available() -> bool:
    """Whether this kernel (and any seccomp filter around us) lets us call ``openat2``."""
    if _openat2_state[0] is None:
        try:
            os.close(_openat2(-100, "/", O_PATH | os.O_CLOEXEC))  # AT_FDCWD
            _openat2_state[0] = True
        except OSError as exc:
            # ENOSYS: an old kernel; EPERM: a seccomp filter (older container runtimes).
            _openat2_state[0] = exc.errno not in (errno.ENOSYS, errno.EPERM, errno.E2BIG, errno.EINVAL)
    return bool(_openat2_state[0])


def _parts(relpath: str) -> tuple[str, ...]:
    rel = PurePosixPath(relpath)
    if rel.is_absolute() or not rel.parts or ".." in rel.parts or "\0" in relpath:
        raise _Refused("bad-path", "is not a plain relative path inside the workspace")
    return tuple(p for p in rel.parts if p != ".")


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "a regular file" if stat.S_ISREG(mode) else "of an unknown kind"


def _explain(root_fd: int, parts: tuple[str, ...], err: int) -> _Refused:
    """Turn a failed resolution into a reason, by looking (without following) at each part."""
    if err == errno.ENOENT:
        return _Refused("missing", "does not exist")
    fd = os.dup(root_fd)
    try:
        for index, name in enumerate(parts):
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                return _Refused("missing", "does not exist")
            folder = "/".join(parts[:index + 1])
            last = index == len(parts) - 1
            if stat.S_ISLNK(info.st_mode):
                if not last:
                    return _Refused("symlink", f"is behind a symbolic link ({folder}); the host does not "
                                               "follow links out of a workspace")
                return _Refused("symlink", "is a symbolic link; the host reads only regular files "
                                           "and never follows links out of a workspace")
            if not last:
                if not stat.S_ISDIR(info.st_mode):
                    return _Refused("missing", f"does not exist ({folder} is {_kind(info.st_mode)}, "
                                               "not a folder)")
                try:
                    nxt = os.open(name, O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except OSError as exc:
                    return _Refused("unreadable", f"cannot be opened: {exc.strerror}")
                os.close(fd)
                fd = nxt
    finally:
        os.close(fd)
    if err == errno.EXDEV:
        return _Refused("not-regular", "lies on another mount; the host does not cross mounts in a workspace")
    return _Refused("unreadable", f"cannot be opened: {os.strerror(err)}")


def _walk(root_fd: int, parts: tuple[str, ...]) -> int:
    """An ``O_PATH`` descriptor of ``parts`` under ``root_fd``, no component followed if a link."""
    fd = os.dup(root_fd)
    try:
        for name in parts[:-1]:
            nxt = os.open(name, O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = nxt
        # O_PATH | O_NOFOLLOW on a link opens the link itself, so fstat below sees S_IFLNK.
        return os.open(parts[-1], O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    finally:
        os.close(fd)


def _open_path(root_fd: int, parts: tuple[str, ...], use_openat2: bool) -> int:
    try:
        if use_openat2:
            return _openat2(root_fd, "/".join(parts), O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
        return _walk(root_fd, parts)
    except OSError as exc:
        raise _explain(root_fd, parts, exc.errno or errno.EIO) from None


def _reopen(path_fd: int, root_fd: int, parts: tuple[str, ...], use_openat2: bool,
            expected: os.stat_result) -> int:
    """A readable descriptor of the very inode ``path_fd`` refers to (never blocking)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(f"/proc/self/fd/{path_fd}", flags)
    except OSError:  # no /proc: open by name again, beneath the root, and compare inodes
        try:
            if use_openat2:
                fd = _openat2(root_fd, "/".join(parts), flags | os.O_NOFOLLOW)
            else:
                dir_fd = _walk(root_fd, parts[:-1]) if len(parts) > 1 else os.dup(root_fd)
                try:
                    fd = os.open(parts[-1], flags | os.O_NOFOLLOW, dir_fd=dir_fd)
                finally:
                    os.close(dir_fd)
        except OSError as exc:
            raise _Refused("unreadable", f"cannot be opened: {exc.strerror}") from None
    info = os.fstat(fd)
    if (info.st_dev, info.st_ino) != (expected.st_dev, expected.st_ino) or not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _Refused("changed", "was replaced while it was being read")
    return fd


# --------------------------------------------------------------------------------------------
# Reading


def _check(info: os.stat_result, max_bytes: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = _kind(info.st_mode)
        code = "symlink" if stat.S_ISLNK(info.st_mode) else "not-regular"
        if code == "symlink":
            raise _Refused(code, "is a symbolic link; the host reads only regular files and never "
                                 "follows links out of a workspace")
        raise _Refused(code, f"is {kind}, not a regular file")
    if info.st_nlink != 1:
        raise _Refused("hard-link", f"has {info.st_nlink} hard links; the host reads only files with a "
                                    "single name (a hard link may name a file outside the workspace)")
    if info.st_size > max_bytes:
        raise _Refused("too-large", f"is {info.st_size:,} bytes, over the {max_bytes:,}-byte limit")


def _copy(fd: int, size: int, out: int | None, deadline: float) -> bytes:
    """At most ``size`` bytes of ``fd``: into ``out`` (returns b"") or into memory."""
    chunks: list[bytes] = []
    done = 0
    while done < size:
        if time.monotonic() > deadline:
            raise _Refused("timeout", f"could not be read within {READ_SECONDS:g}s")
        want = min(_CHUNK, size - done)
        if out is not None:
            try:
                moved = os.copy_file_range(fd, out, want)
            except OSError:
                moved = -1
            if moved > 0:
                done += moved
                continue
            if moved == 0:
                break
        try:
            chunk = os.read(fd, want)
        except BlockingIOError:
            raise _Refused("unreadable", "would block while being read") from None
        if not chunk:
            break
        if out is not None:
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view):]
        else:
            chunks.append(chunk)
        done += len(chunk)
    # A file that grew after fstat is read only up to the size that was checked.
    if done != size:
        raise _Refused("changed", "changed size while it was being read")
    return b"".join(chunks)


def _write_copy(fd: int, size: int, dest: Path, deadline: float) -> None:
    """Copy into a new file beside ``dest`` (created exclusively, never through a link), then rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{time.monotonic_ns()}.part")
    out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        try:
            _copy(fd, size, out, deadline)
            os.fsync(out)
        finally:
            os.close(out)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_back(root: Path | str, relpath: str, *, max_bytes: int, dest: Path | None = None,
              use_openat2: bool | None = None) -> ReadBack | Refusal:
    """Read ``relpath`` of the workspace (or other untrusted folder) ``root``, or say why not.

    Returns a :class:`ReadBack` with the bytes, or — with ``dest`` — after writing a regular-file
    copy to ``dest`` (atomically: readers never see a partial copy). Returns a
    :class:`Refusal` for a missing file, a symbolic link anywhere on the path, anything but a
    regular file, a file with several hard links, a file over ``max_bytes``, or one that could
    not be read in :data:`READ_SECONDS`. Never blocks on a FIFO, never follows a link, never
    reads more than ``max_bytes``. ``root`` is the host's own folder (its last component must not be a link).
    ``use_openat2`` forces (True) or avoids (False) ``openat2``; default: where available.
    """
    if use_openat2 is None:
        use_openat2 = openat2_available()
    deadline = time.monotonic() + READ_SECONDS
    try:
        parts = _parts(relpath)
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except _Refused as exc:
        return Refusal(relpath, exc.code, f"{relpath} {exc.reason}")
    except OSError as exc:
        return Refusal(relpath, "missing", f"{relpath}: the workspace {root} cannot be opened: {exc.strerror}")
    try:
        path_fd = _open_path(root_fd, parts, use_openat2)
        try:
            info = os.fstat(path_fd)
            _check(info, max_bytes)
            fd = _reopen(path_fd, root_fd, parts, use_openat2, info)
        finally:
            os.close(path_fd)
        try:
            if dest is not None:
                _write_copy(fd, info.st_size, Path(dest), deadline)
                return ReadBack(relpath, info.st_size, dest=Path(dest))
            return ReadBack(relpath, info.st_size, data=_copy(fd, info.st_size, None, deadline))
        finally:
            os.close(fd)
    except _Refused as exc:
        return Refusal(relpath, exc.code, f"{relpath} {exc.reason}")
    except OSError as exc:
        return Refusal(relpath, "unreadable", f"{relpath} could not be read: {exc.strerror or exc}")
    finally:
        os.close(root_fd)
