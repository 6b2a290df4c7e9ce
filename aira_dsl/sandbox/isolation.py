"""Local isolation: what the sandboxed code sees, and the commands that build that view.

One description of the view (:class:`Mount` list) is turned into either bubblewrap arguments
or the config of our ``unshare`` init (:mod:`aira_dsl.sandbox._nsinit`), so both paths expose
exactly the same things: system directories and the interpreter read-only, the workspace
writable, the public data read-only, a private ``/tmp``, a fresh ``/proc``, a minimal ``/dev``
with only the assigned GPUs, and no network. Nothing else of the host (the user's home, the run
directory, the task's private answers) exists inside.

When aira-dsl runs as root, the code runs as a dedicated unprivileged uid with no capabilities
and ``no_new_privs``: root inside a mount namespace could otherwise undo the read-only binds,
and ``RLIMIT_NPROC`` does not apply to root.
"""

from __future__ import annotations

import marshal
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from aira_dsl.sandbox.base import SANDBOX_WORKDIR, SandboxError

__all__ = [
    "Mount",
    "bwrap_command",
    "choose_isolation",
    "python_prefixes",
    "sandbox_view",
    "unshare_command",
]

SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
NSINIT = Path(__file__).with_name("_nsinit.py")


@dataclass(frozen=True)
class Mount:
    """One element of the sandbox's file system view.

    ``kind``: ``ro``/``rw`` (bind a host path), ``dev`` (bind a device node), ``tmpfs``, ``proc``,
    ``devfs`` (a minimal /dev), ``symlink`` (``target`` is the link text).
    """

    kind: str
    dst: str
    src: str | None = None
    target: str | None = None
    size: int | None = None
    mode: int | None = None


def python_prefixes(python: str) -> list[str]:
    """Folders the interpreter needs (its prefix and, for a venv, the base prefix)."""
    # Compare unresolved paths: a venv's python is a link to the base interpreter, but its
    # prefix (and site-packages) is the venv's own folder.
    if os.path.abspath(python) == os.path.abspath(sys.executable):
        candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    else:
        real = os.path.realpath(python)
        candidates = [os.path.dirname(os.path.dirname(os.path.abspath(python))), os.path.dirname(os.path.dirname(real))]
    found: list[str] = []
    for prefix in candidates:
        path = os.path.realpath(prefix)
        if path not in found and path != "/":
            found.append(path)
    return found


def _covered(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def sandbox_view(*, workspace_root: Path, data_dir: Path | None, python: str, extra_ro: Sequence[str],
                 gpu_nodes: Sequence[Path], tmp_size: int | None,
                 extra_binds: Sequence[tuple[str, str]] = ()) -> list[Mount]:
    """The mounts of an isolated local sandbox, in the order they must be made.

    ``extra_binds`` are (host folder, path inside) pairs bound read-only last (model caches).
    """
    mounts = [Mount("ro", "/usr", "/usr")]
    for name in SYSTEM_DIRS:
        if os.path.islink(name):
            mounts.append(Mount("symlink", name, target=os.readlink(name)))
        elif os.path.isdir(name):
            mounts.append(Mount("ro", name, name))
    mounts.append(Mount("ro", "/etc", "/etc"))
    # A private /tmp comes before the interpreter's folders: a virtual environment may live
    # under /tmp, and a tmpfs mounted later would hide it.
    mounts.append(Mount("tmpfs", "/tmp", size=tmp_size, mode=0o1777))
    bound = ["/usr", "/etc", *[m.dst for m in mounts if m.kind == "ro"]]
    for path in [*extra_ro, *python_prefixes(python)]:
        real = os.path.realpath(path)
        if os.path.exists(real) and not _covered(real, bound):
            mounts.append(Mount("ro", real, real))
            bound.append(real)
    mounts.append(Mount("proc", "/proc"))
    mounts.append(Mount("devfs", "/dev"))
    mounts.extend(Mount("dev", str(node), str(node)) for node in gpu_nodes)
    mounts.append(Mount("rw", SANDBOX_WORKDIR, str(workspace_root)))
    if data_dir is not None:
        mounts.append(Mount("ro", f"{SANDBOX_WORKDIR}/data", str(data_dir)))
    mounts.extend(Mount("ro", inside, host) for host, inside in extra_binds)
    return mounts


def _drop_privileges(uid: int) -> list[str]:
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    return [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--bounding-set=-all",
            "--inh-caps=-all", "--no-new-privs", "--"]


def bwrap_command(bwrap: str, mounts: Sequence[Mount], argv: Sequence[str], *, uid: int | None,
                  status_fd: int) -> list[str]:
    """The bubblewrap command line for ``mounts`` running ``argv`` (as ``uid`` when root)."""
    args = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "sandbox",
            "--json-status-fd", str(status_fd)]
    if os.geteuid() != 0:
        args.append("--unshare-user")
    created: set[str] = {"/"}
    bound: list[str] = []
    for m in mounts:
        # bubblewrap would copy the host's modes onto missing parents (e.g. /root is 0700), making
        # a bound interpreter under them unreachable for the sandbox uid; create them 0755 first.
        if m.kind in ("ro", "rw", "dev", "symlink"):
            for parent in map(str, reversed(Path(m.dst).parents)):
                if parent not in created and not _covered(parent, bound):
                    args += ["--perms", "0755", "--dir", parent]
                    created.add(parent)
        if m.kind in ("ro", "rw"):
            bound.append(m.dst)
        if m.kind == "ro":
            args += ["--ro-bind", str(m.src), m.dst]
        elif m.kind == "rw":
            args += ["--bind", str(m.src), m.dst]
        elif m.kind == "dev":
            args += ["--dev-bind", str(m.src), m.dst]
        elif m.kind == "symlink":
            args += ["--symlink", str(m.target), m.dst]
        elif m.kind == "proc":
            args += ["--proc", m.dst]
        elif m.kind == "devfs":
            args += ["--dev", m.dst, "--perms", "1777", "--tmpfs", f"{m.dst}/shm"]
        elif m.kind == "tmpfs":
            if m.mode is not None:
                args += ["--perms", f"{m.mode:o}"]
            if m.size:
                args += ["--size", str(m.size)]
            args += ["--tmpfs", m.dst]
    args += ["--remount-ro", "/", "--chdir", SANDBOX_WORKDIR]
    if uid is not None:
        # bwrap enters the (0700, sandbox-owned) workspace after dropping to these capabilities;
        # setpriv then gives them all up when it switches to the sandbox uid.
        caps = ["CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_DAC_OVERRIDE"]
        args += ["--cap-drop", "ALL", *[a for cap in caps for a in ("--cap-add", cap)], "--",
                 *_drop_privileges(uid)]
    else:
        args.append("--")
    return [*args, *argv]


def _nsinit_mounts(mounts: Sequence[Mount]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in mounts:
        if m.kind in ("ro", "rw", "dev"):
            out.append({"kind": m.kind, "src": m.src, "dst": m.dst})
        elif m.kind == "symlink":
            out.append({"kind": "symlink", "dst": m.dst, "target": m.target})
        elif m.kind == "proc":
            out.append({"kind": "proc", "dst": m.dst})
        elif m.kind == "tmpfs":
            options = ",".join(filter(None, [f"mode={m.mode:o}" if m.mode is not None else "",
                                             f"size={m.size}" if m.size else ""]))
            out.append({"kind": "tmpfs", "dst": m.dst, "options": options or None})
        elif m.kind == "devfs":
            out.append({"kind": "tmpfs", "dst": m.dst, "options": "mode=755"})
            out += [{"kind": "dev", "src": f"/dev/{n}", "dst": f"{m.dst}/{n}"} for n in DEV_NODES
                    if os.path.exists(f"/dev/{n}")]
            out += [{"kind": "symlink", "dst": f"{m.dst}/{name}", "target": target} for name, target in
                    (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                     ("stderr", "/proc/self/fd/2"))]
            out.append({"kind": "tmpfs", "dst": f"{m.dst}/shm", "options": "mode=1777"})
    return out


def unshare_command(unshare: str, python: str, mounts: Sequence[Mount], argv: Sequence[str],
                    env: dict[str, str], *, root_dir: Path, uid: int | None, status_fd: int,
                    lifeline_fd: int | None = None) -> list[str]:
    """``unshare`` + our init (:mod:`._nsinit`) building ``mounts`` under ``root_dir`` and running ``argv``.

    ``lifeline_fd`` is an inherited pidfd of the orchestrator: the init ends the sandbox when it
    becomes readable (the orchestrator ended).
    """
    config = {"root": str(root_dir), "mounts": _nsinit_mounts(mounts), "chdir": SANDBOX_WORKDIR,
              "uid": uid, "argv": list(argv), "env": env, "status_fd": status_fd, "hostname": "sandbox",
              "lifeline_fd": lifeline_fd}
    flags = ["--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child", "--propagation", "private"]
    if os.geteuid() != 0:
        flags = ["--user", "--map-root-user", *flags]
    return [unshare, *flags, "--", python, "-I", "-S", str(NSINIT), marshal.dumps(config).hex()]


# --------------------------------------------------------------------------------------------
# Choosing what is available


def _run_probe(argv: list[str]) -> str | None:
    """None when ``argv`` runs and exits 0, else a one-line reason."""
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return (message[-1] if message else f"exit status {done.returncode}")[:300]
    return None


@cache
def probe_bwrap(bwrap: str) -> tuple[str | None, str]:
    """(resolved path or None, reason) for a bubblewrap binary that can build our sandbox here."""
    path = shutil.which(bwrap)
    if path is None:
        return None, f"bubblewrap ({bwrap}) is not installed"
    true = shutil.which("true") or "/bin/true"
    flags = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    if os.geteuid() != 0:
        flags.append("--unshare-user")
    problem = _run_probe([path, *flags, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", true])
    if problem:
        return None, f"bubblewrap at {path} cannot create namespaces here: {problem}"
    return path, f"bubblewrap at {path}"


@cache
def probe_unshare() -> tuple[str | None, str]:
    """(resolved path or None, reason) for util-linux ``unshare`` with the namespaces we need."""
    path = shutil.which("unshare")
    if path is None:
        return None, "unshare (util-linux) is not installed"
    true = shutil.which("true") or "/bin/true"
    flags = ["--mount", "--net", "--pid", "--ipc", "--uts", "--fork"]
    if os.geteuid() != 0:
        flags = ["--user", "--map-root-user", *flags]
    problem = _run_probe([path, *flags, true])
    if problem:
        return None, f"unshare cannot create namespaces here: {problem}"
    return path, f"unshare at {path}"


def choose_isolation(requested: str, bwrap: str) -> tuple[str, str | None, list[str]]:
    """(mode, binary, notes) for the profile's ``isolation``; refuses rather than run unisolated.

    ``auto`` takes bubblewrap, else ``unshare``; asking for one that is unavailable is an error,
    as is ``auto`` with neither. ``none`` is only ever chosen when the profile says so.
    """
    if requested == "none":
        return "none", None, ["isolation: none: node code runs with this user's rights and sees the "
                              "whole machine (trusted code only)"]
    notes: list[str] = []
    if requested in ("auto", "bubblewrap"):
        path, reason = probe_bwrap(bwrap)
        if path is not None:
            return "bubblewrap", path, notes
        notes.append(reason)
        if requested == "bubblewrap":
            raise SandboxError(f"the profile asks for bubblewrap isolation, but {reason}",
                               hint="install it (apt-get install bubblewrap), point local.bwrap at an "
                                    "unpacked binary, or use isolation: auto")
    path, reason = probe_unshare()
    if path is not None:
        return "unshare", path, notes
    notes.append(reason)
    raise SandboxError("no isolation is available: " + "; ".join(notes),
                       hint="install bubblewrap (apt-get install bubblewrap) or util-linux's unshare; "
                            "for trusted code only, use a profile with isolation: none (e.g. local-unsafe)")
