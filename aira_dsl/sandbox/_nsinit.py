"""PID 1 of an ``unshare`` sandbox: builds the sandbox's file system view, then runs the code.

Used where bubblewrap is missing (the GPU machines) but util-linux's ``unshare`` exists. The
launcher runs ``unshare --mount --net --pid --ipc --uts --fork -- python -I -S _nsinit.py CONFIG``;
this script then, inside the new namespaces and still privileged:

1. mounts a tmpfs as the new root and binds into it only what the config lists (``/usr`` and the
   interpreter read-only, the workspace read-write, the data read-only, a minimal ``/dev`` with
   only the assigned GPUs' device nodes, a fresh ``/proc`` and ``/tmp``), then makes it read-only;
2. brings up the loopback interface of the empty network namespace;
3. forks the code's process, which chroots, empties its capability bounding set, drops to the
   sandbox uid with no capabilities and ``no_new_privs``, and executes the command;
4. stays as init: forwards termination signals, reaps orphans, and exits with the code's status,
   which makes the kernel kill whatever the code left behind in the namespace.

It never outlives its supervisor: it asks for SIGKILL when ``unshare`` (its parent) dies
(``PR_SET_PDEATHSIG``), and a watcher thread waits on a pidfd of the orchestrator (``lifeline_fd``
in the config) and kills the code and itself the moment the orchestrator ends — also when it
was SIGKILLed. With init gone, the kernel kills every process left in the namespace.

It reports setup success or failure on a status file descriptor so the launcher can tell a
broken sandbox (a ``SandboxError``) from code that failed. Standard library only; it runs with
``-I -S`` for a fast start, by the same interpreter that wrote its (marshal) config.
"""

from __future__ import annotations

import _thread  # not threading: its import alone costs this init several ms
import contextlib
import ctypes
import errno
import fcntl
import marshal
import os
import select
import signal
import socket
import struct
import sys
from typing import Any

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
SETUP_FAILED = 125

_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encoded = [None if s is None else s.encode() for s in (source, target, fstype, data)]
    if _libc.mount(encoded[0], encoded[1], encoded[2], ctypes.c_ulong(flags), encoded[3]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source or fstype} on {target}: {os.strerror(err)}")


def _prctl(option: int, value: int, arg3: int = 0) -> None:
    if _libc.prctl(option, ctypes.c_ulong(value), ctypes.c_ulong(arg3), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")


def _last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", "rb") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return 63


def drop_bounding_set() -> None:
    """Empty the capability bounding set and the ambient set: no later exec can gain a capability."""
    for cap in range(_last_cap() + 1):
        if _libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) != 0:
            err = ctypes.get_errno()
            if err != errno.EINVAL:  # EINVAL: a capability this kernel does not know
                raise OSError(err, f"cannot drop capability {cap} from the bounding set: {os.strerror(err)}")
    with contextlib.suppress(OSError):  # kernels before 4.3 have no ambient set
        _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def clear_capabilities() -> None:
    """Empty the effective, permitted and inheritable sets of this process."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if _libc.capset(ctypes.byref(header), data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset: {os.strerror(err)}")


def watch_lifeline(fd: int, child: int) -> None:
    """In a thread of init: when the orchestrator (whose pidfd ``fd`` is) ends, end the sandbox."""
    def watch() -> None:
        with contextlib.suppress(OSError, ValueError):
            select.select([fd], [], [])
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
        os._exit(128 + signal.SIGKILL)

    _thread.start_new_thread(watch, ())


def _locked_flags(path: str) -> int:
    """The nosuid/nodev/noexec flags a bind must keep (a remount may not clear them)."""
    flags = os.statvfs(path).f_flag
    return flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _make_target(source: str | None, target: str) -> None:
    if source is not None and not os.path.isdir(source):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            with open(target, "wb"):
                pass
    else:
        os.makedirs(target, exist_ok=True)


def _bind(source: str, target: str, read_only: bool, extra: int = MS_NOSUID | MS_NODEV) -> None:
    _make_target(source, target)
    _mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | _locked_flags(target) | extra | (MS_RDONLY if read_only else 0)
    _mount(None, target, None, flags)


def build_root(root: str, mounts: list[dict[str, Any]]) -> None:
    """Mount a tmpfs at ``root`` and populate it as ``mounts`` say, in order."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for item in mounts:
        kind, dst = item["kind"], root + item["dst"]
        src = item.get("src")
        if kind == "ro":  # system folders, the interpreter, the data: nosuid, nodev, read-only
            _bind(str(src), dst, read_only=True)
        elif kind == "rw":
            _bind(str(src), dst, read_only=False)
        elif kind == "dev":
            _make_target(src, dst)
            _mount(src, dst, None, MS_BIND)
        elif kind == "tmpfs":
            os.makedirs(dst, exist_ok=True)
            _mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV | item.get("flags", 0), item.get("options"))
        elif kind == "proc":
            os.makedirs(dst, exist_ok=True)
            _mount("proc", dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        elif kind == "symlink":
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.symlink(item["target"], dst)
        elif kind == "dir":
            os.makedirs(dst, exist_ok=True)
        else:
            raise ValueError(f"unknown mount kind {kind!r}")
    _mount(None, root, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def loopback_up() -> None:
    """Bring ``lo`` up so code can still talk to itself on 127.0.0.1 (nothing else exists)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _exec_child(config: dict[str, Any], report: int) -> None:
    """In the forked child: enter the new root, drop privileges, exec. Never returns."""
    try:
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        os.chroot(config["root"])
        os.chdir(config["chdir"])
        drop_bounding_set()
        uid = config.get("uid")
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        clear_capabilities()
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid, which clears it
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        os.umask(0o022)
        os.execvpe(config["argv"][0], config["argv"], config["env"])
    except BaseException as exc:  # report anything, the parent turns it into a SandboxError
        message = f"cannot start {config['argv'][0]!r}: {exc}"
        os.write(report, message.encode("utf-8", "replace"))
    os._exit(SETUP_FAILED)


def _status(fd: int | None, text: str) -> None:
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.write(fd, text.encode("utf-8", "replace") + b"\n")


def main(argv: list[str]) -> int:
    # marshal (built in) rather than json: the import alone would cost this init ~6 ms per run.
    config: dict[str, Any] = marshal.loads(bytes.fromhex(argv[1]))
    status_fd: int | None = config.get("status_fd")
    lifeline: int | None = config.get("lifeline_fd")
    for fd in (status_fd, lifeline):
        if fd is not None:
            os.set_inheritable(fd, False)
    # Die with unshare; and if the orchestrator is already gone, do not start at all.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if lifeline is not None and select.select([lifeline], [], [], 0)[0]:
        return 128 + signal.SIGKILL
    try:
        build_root(config["root"], config["mounts"])
        loopback_up()
        socket.sethostname(config.get("hostname", "sandbox"))
    except Exception as exc:
        _status(status_fd, f"error: sandbox setup failed: {exc}")
        return SETUP_FAILED
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        _exec_child(config, write_end)
    os.close(write_end)
    if lifeline is not None:
        watch_lifeline(lifeline, child)
    chunks = []
    while chunk := os.read(read_end, 4096):
        chunks.append(chunk)
    os.close(read_end)
    if chunks:
        _status(status_fd, "error: " + b"".join(chunks).decode("utf-8", "replace"))
        os.waitpid(child, 0)
        return SETUP_FAILED
    _status(status_fd, "started")
    if status_fd is not None:
        os.close(status_fd)

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, forward)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return SETUP_FAILED
        if pid == child:
            if os.WIFSIGNALED(status):
                return 128 + os.WTERMSIG(status)
            return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
