"""Finding and killing every process an execution started, by reading ``/proc``.

A process group is not enough: code can ``setsid()`` or double-fork to leave it. Inside a PID
namespace orphans are re-parented to the namespace's init, which is our descendant, so walking
the parent links from the launched process finds them all. Without a namespace (isolation
``none``) orphans go to the host's init; they are found by a marker variable we put in their
environment (a trusted-code mode: hostile code could clear it, which is why that mode warns).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable

__all__ = ["descendants", "kill_pids", "kill_until_gone", "pids_with_env_marker", "process_exists", "read_ppids"]


def read_ppids() -> dict[int, int]:
    """pid → parent pid for every visible process (threads excluded)."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name is in parentheses and may itself contain ') '; split after the last.
        rest = stat[stat.rfind(b")") + 2:].split()
        if len(rest) > 1:
            parents[int(name)] = int(rest[1])
    return parents


def descendants(root: int, parents: dict[int, int] | None = None) -> set[int]:
    """``root`` and every process below it (by parent links), if still present."""
    parents = read_ppids() if parents is None else parents
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    stack = [root] if root in parents else []
    while stack:
        pid = stack.pop()
        if pid in found:
            continue
        found.add(pid)
        stack.extend(children.get(pid, ()))
    return found


def pids_with_env_marker(marker: bytes) -> set[int]:
    """Processes whose environment contains ``marker`` (e.g. ``b"AIRA_SANDBOX_RUN=abc"``)."""
    found: set[int] = set()
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.add(int(name))
    return found


def process_exists(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    state = stat[stat.rfind(b")") + 2:][:1]
    return state not in (b"Z", b"X")


def kill_pids(pids: Iterable[int], sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to each pid, ignoring ones that are gone or not ours."""
    for pid in pids:
        if pid <= 1 or pid == os.getpid():
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def kill_until_gone(members: Callable[[], set[int]], deadline: float, sig: int = signal.SIGKILL) -> set[int]:
    """Kill ``members()`` repeatedly until none is alive or ``deadline`` passes; the survivors."""
    delay = 0.002
    while True:
        alive = {pid for pid in members() if process_exists(pid)}
        if not alive:
            return alive
        kill_pids(alive, sig)
        if time.monotonic() >= deadline:
            return {pid for pid in members() if process_exists(pid)}
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
