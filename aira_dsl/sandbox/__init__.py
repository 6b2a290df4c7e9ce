"""Sandboxes: where LLM-written node code runs, isolated from the host and from the answers.

Code written by a model is treated as hostile: it must not see the task's private answers, the
user's files or API keys, must not reach the network, and must not outlive or outgrow its
limits. A profile in ``runtimes/`` picks a backend:

- ``local``: a process tree on this machine, isolated with bubblewrap or ``unshare``
  namespaces, limited with cgroups (v2 or v1) or rlimits;
- ``docker``: a fresh hardened container per execution, with GPUs by device id.

Typical use (the runtime does this per node)::

    profile = load_profile("local")
    sandbox = create_sandbox(profile, workdir_root=run_dir / "workspaces", gpus=[0])
    ws = sandbox.prepare("node-7", task.public_dir, {"solution.py": code.encode()})
    result = sandbox.run(ws, "solution.py", profile.limits.override(wall_time=3600))
    sandbox.cleanup(ws)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aira_dsl.sandbox.base import ExecResult, Limits, Sandbox, SandboxError, Workspace
from aira_dsl.sandbox.gpus import assign_gpus, detect_hardware, list_gpus
from aira_dsl.sandbox.profile import (
    SandboxProfile,
    check_profile_file,
    default_search_dirs,
    load_profile,
    parse_size,
)

__all__ = [
    "ExecResult",
    "Limits",
    "Sandbox",
    "SandboxError",
    "SandboxProfile",
    "Workspace",
    "assign_gpus",
    "check_profile_file",
    "create_sandbox",
    "default_search_dirs",
    "detect_hardware",
    "list_gpus",
    "load_profile",
    "parse_size",
]


def create_sandbox(profile: SandboxProfile, *, workdir_root: Path, gpus: Sequence[int] = ()) -> Sandbox:
    """The sandbox a profile describes, with workspaces under ``workdir_root`` and these GPUs.

    Raises :class:`SandboxError` when the profile cannot be honoured here (no isolation
    available, Docker unreachable, GPUs refused or required by the profile).
    """
    gpus = list(gpus)
    if gpus and profile.gpus == "none":
        raise SandboxError(f"sandbox profile {profile.name} does not allow GPUs (gpus: none), "
                           f"but GPUs {gpus} were assigned",
                           hint="set execution.gpus_per_worker: 0 or use a GPU profile")
    if not gpus and profile.gpus == "required":
        raise SandboxError(f"sandbox profile {profile.name} requires a GPU, but none was assigned",
                           hint="set execution.gpus_per_worker ≥ 1 (aira-dsl exec: --gpus 1)")
    if profile.backend == "docker":
        from aira_dsl.sandbox.docker_backend import DockerSandbox

        return DockerSandbox(profile, workdir_root=workdir_root, gpus=gpus)
    from aira_dsl.sandbox.local import LocalSandbox

    return LocalSandbox(profile, workdir_root=workdir_root, gpus=gpus)
