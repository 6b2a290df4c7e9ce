"""Removes the Docker containers of an orchestrator the moment it ends, however it ends.

A container is a child of the Docker daemon, not of aira-dsl, so no parent-death signal or
namespace teardown ends it when the orchestrator is SIGKILLed: its code would run on until its
own timeout, or forever. The first Docker sandbox of a process therefore starts this watcher in a
session of its own, connected by a pipe whose only write end the orchestrator holds (the
descriptor is close-on-exec, so no sandbox or helper inherits it). The watcher connects to the
engine first, then blocks reading the pipe; end-of-file means the orchestrator is gone, and it
force-removes every container labelled with the orchestrator's owner id, then exits. After a
normal exit it finds none and exits at once.

Run as ``python -m aira_dsl.sandbox.docker_reaper OWNER`` (by :func:`start_reaper`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid

__all__ = ["OWNER_LABEL", "owner_id", "reap", "start_reaper"]

OWNER_LABEL = "aira-dsl.owner"
"""Label on every container: which orchestrator (host, pid, nonce) it belongs to."""

_OWNER = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
_REAPER: subprocess.Popen[bytes] | None = None
_LOCK = threading.Lock()


def owner_id() -> str:
    """This process's owner id (a forked child gets its own)."""
    global _OWNER
    if f"-{os.getpid()}-" not in _OWNER:
        _OWNER = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return _OWNER


def start_reaper() -> None:
    """Start this process's watcher once (no-op when it is already running)."""
    global _REAPER
    with _LOCK:
        if _REAPER is not None and _REAPER.poll() is None:
            return
        _REAPER = subprocess.Popen([sys.executable, "-m", "aira_dsl.sandbox.docker_reaper", owner_id()],
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True, close_fds=True)


def reap(client: object, owner: str) -> int:
    """Force-remove every container labelled ``owner``; how many were removed."""
    api = client.api  # type: ignore[attr-defined]
    removed = 0
    for container in api.containers(all=True, filters={"label": f"{OWNER_LABEL}={owner}"}):
        with contextlib.suppress(Exception):
            api.remove_container(container["Id"], force=True, v=True)
            removed += 1
    return removed


def main(argv: list[str]) -> int:
    owner = argv[1]
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # Ctrl-C of the orchestrator's terminal is not our end
    client = None
    with contextlib.suppress(Exception):
        import docker

        client = docker.from_env(timeout=30)
    with contextlib.suppress(OSError):
        while sys.stdin.buffer.read(65536):
            pass
    if client is None:
        return 1
    reap(client, owner)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
