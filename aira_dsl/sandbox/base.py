"""The types every sandbox backend shares: limits, workspaces, results, the protocol, the error.

The runtime only talks to these: it prepares a workspace per node, runs the node's script in it
under :class:`Limits`, reads an :class:`ExecResult`, and cleans up. Backends (``local``,
``docker``) differ in how they isolate, not in what they return, so a node's result means the
same thing whichever backend produced it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "ExecResult",
    "Limits",
    "Sandbox",
    "SandboxError",
    "Workspace",
    "signal_exit_code",
]

SANDBOX_WORKDIR = "/workspace"
"""Where the workspace appears inside an isolated sandbox (local namespaces and Docker alike)."""


class SandboxError(Exception):
    """The sandbox itself failed or cannot be used (not the code it ran).

    Carries a one-line ``message`` and a ``hint`` saying what to do; the CLI prints both and
    exits 2. A script that crashes, times out or runs out of memory is *not* a SandboxError:
    that is a normal :class:`ExecResult`.
    """

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message + (f" (hint: {hint})" if hint else ""))


@dataclass(frozen=True)
class Limits:
    """Resource limits of one execution; ``None`` means "not limited".

    ``output_bytes`` bounds what is *kept* of stdout and stderr (the first and last halves);
    the rest is counted and dropped, so a script printing gigabytes costs no host memory.
    """

    wall_time: float
    memory_bytes: int | None = None
    cpus: float | None = None
    max_processes: int | None = None
    output_bytes: int = 1 << 20
    file_size_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.wall_time <= 0:
            raise ValueError("wall_time must be positive")
        if self.output_bytes < 64:
            raise ValueError("output_bytes must be at least 64")
        for name in ("memory_bytes", "max_processes", "file_size_bytes"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive or None")
        if self.cpus is not None and self.cpus <= 0:
            raise ValueError("cpus must be positive or None")

    def override(self, **changes: Any) -> Limits:
        """A copy with the given fields replaced; fields given as None are left as they were."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Workspace:
    """A node's fresh directory on the host and where its parts are.

    Inside the sandbox the script's working directory is the workspace root, so the code sees
    ``./data`` (read-only public data), ``./working`` (scratch) and ``./submission``.
    """

    root: Path
    data_dir: Path
    working_dir: Path
    submission_dir: Path
    node_id: str = ""
    source_data: Path | None = None
    """The host folder bound at ``./data`` (None: no data)."""
    owner_uid: int | None = None
    """The uid that owns the workspace and runs the code (None: the caller's own uid)."""
    prepared: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Files written by ``prepare`` → (size, mtime_ns), so they are not reported as produced."""

    @property
    def submission_path(self) -> Path:
        return self.submission_dir / "submission.csv"


def signal_exit_code(returncode: int) -> int:
    """Shell convention for a process killed by a signal: ``128 + signal``.

    Python reports ``-9`` for SIGKILL, bubblewrap and Docker report ``137``; one convention
    everywhere lets fitness expressions compare exit codes without knowing the backend.
    """
    return 128 - returncode if returncode < 0 else returncode


@dataclass
class ExecResult:
    """What one execution did, whatever the backend.

    ``exit_code`` is None only when the process could not be reaped; a process killed by a
    signal reports ``128 + signal`` (so a timeout kill reads 143 or 137). ``timed_out`` and
    ``oom_killed`` say *why* it was killed, independently of the code.
    """

    exit_code: int | None
    timed_out: bool
    oom_killed: bool
    duration: float
    stdout: str
    stderr: str
    output: str
    files: list[str]
    isolation: str
    limits_mode: str = ""
    output_truncated: bool = False
    output_total_bytes: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.oom_killed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Sandbox(Protocol):
    """A place to run untrusted node code: one workspace per node, limits per run."""

    def use_data(self, data_dir: Path) -> Path:
        """The host folder bound at ``./data`` for ``data_dir``: itself when the sandbox's user can
        read it, else a private readable copy; raises :class:`SandboxError` (naming the folder and
        the fix) when neither works. Done once per folder; ``prepare`` calls it too."""
        ...

    def prepare(self, node_id: str, data_dir: Path | None,
                extra_files: Mapping[str, bytes] = {}) -> Workspace:
        """Create a fresh workspace for ``node_id`` with ``extra_files`` (relative path → bytes)."""
        ...

    def run(self, workspace: Workspace, script_name_or_argv: str | Sequence[str], limits: Limits,
            env: Mapping[str, str] = {}) -> ExecResult:
        """Run a script (a path relative to the workspace) or an argv; block until it ends."""
        ...

    async def run_async(self, workspace: Workspace, script_name_or_argv: str | Sequence[str],
                        limits: Limits, env: Mapping[str, str] = {}) -> ExecResult:
        """:meth:`run` in a worker thread."""
        ...

    def cleanup(self, workspace: Workspace) -> None:
        """Remove the workspace; no process of it may survive."""
        ...

    def describe(self) -> dict[str, Any]:
        """What this sandbox is and which isolation and limits it achieves (for logs and journals)."""
        ...


class SandboxBase:
    """Shared behaviour of the concrete backends (the async wrapper)."""

    def run(self, workspace: Workspace, script_name_or_argv: str | Sequence[str], limits: Limits,
            env: Mapping[str, str] = {}) -> ExecResult:
        raise NotImplementedError

    async def run_async(self, workspace: Workspace, script_name_or_argv: str | Sequence[str],
                        limits: Limits, env: Mapping[str, str] = {}) -> ExecResult:
        return await asyncio.to_thread(self.run, workspace, script_name_or_argv, limits, env)
