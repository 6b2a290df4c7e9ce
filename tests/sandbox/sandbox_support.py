"""Helpers for the sandbox tests: real backends, each skipped with the reason it is unavailable.

Backend ids name an isolation and a limit mechanism: ``bwrap-cgroup``, ``bwrap-rlimit``,
``unshare-cgroup``, ``unshare-rlimit``, ``none-cgroup`` and ``docker``. The Docker engine is the
one ``DOCKER_HOST`` names, or the one ``.ci/docker.sh start`` left an env file for.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import time
from pathlib import Path
from typing import Any

import pytest

from aira_dsl.sandbox import Sandbox, SandboxError, create_sandbox
from aira_dsl.sandbox.cgroups import detect_cgroups
from aira_dsl.sandbox.isolation import probe_bwrap, probe_unshare
from aira_dsl.sandbox.profile import SandboxProfile, load_profile, profile_from_data

REPO = Path(__file__).resolve().parents[2]
CI_DOCKER_ENV = Path(os.environ.get("AIRA_CI_DOCKER_DIR", "/tmp/aira-ci-docker")) / "env"

LOCAL_BACKENDS = ["bwrap-cgroup", "bwrap-rlimit", "unshare-cgroup", "unshare-rlimit"]
ALL_BACKENDS: list[Any] = [*LOCAL_BACKENDS, pytest.param("docker", marks=pytest.mark.docker)]


def _load_ci_docker_env() -> None:
    """Adopt the engine started by ``.ci/docker.sh start`` unless DOCKER_HOST is already set."""
    if "DOCKER_HOST" in os.environ or not CI_DOCKER_ENV.is_file():
        return
    for line in CI_DOCKER_ENV.read_text().splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            os.environ.setdefault(name, value)


_load_ci_docker_env()


def local_profile(isolation: str, resource_control: str, **extra: Any) -> SandboxProfile:
    data: dict[str, Any] = {"backend": "local", "isolation": isolation, "resource_control": resource_control,
                            "kill_grace": 0.5}
    data.update(extra)
    return profile_from_data(data, f"test-{isolation}-{resource_control}")


def skip_reason(backend: str) -> str | None:
    """Why ``backend`` cannot run here (None: it can)."""
    if backend == "docker":
        return docker_skip_reason()
    isolation, limits = backend.split("-")
    if isolation == "bwrap":
        path, reason = probe_bwrap("bwrap")
        if path is None:
            return reason
    elif isolation == "unshare":
        path, reason = probe_unshare()
        if path is None:
            return reason
    if limits == "cgroup" and not detect_cgroups("auto").available:
        return "no writable cgroups: " + detect_cgroups("auto").reason
    return None


def backend_component(backend: str) -> str:
    """The component `.ci/run` installs for a backend (see ``tests_support.skip_unless_provided``)."""
    return "docker" if backend == "docker" else "bubblewrap" if backend.startswith("bwrap") else "unshare"


def skip_backend(backend: str, reason: str) -> None:
    """Skip a test of ``backend`` — or fail in CI, which installed the backend's tool. A missing
    cgroup hierarchy is a property of the machine, not an install, so it only ever skips."""
    from tests_support import skip_unless_provided

    if reason.startswith("no writable cgroups"):
        pytest.skip(f"{backend}: {reason}")
    skip_unless_provided(backend_component(backend), f"{backend}: {reason}")


def docker_skip_reason() -> str | None:
    """Why the docker-marked tests cannot run here (None: they can), saying how to start an engine."""
    from aira_dsl.sandbox.docker_backend import docker_client

    try:
        client = docker_client(timeout=10)
    except SandboxError as exc:
        return (f"{exc.message}; start one for the tests with `bash .ci/docker.sh start` (they adopt the engine "
                f"it leaves in {CI_DOCKER_ENV}) or set DOCKER_HOST")
    base = os.environ.get("AIRA_DSL_DOCKER_BASE_IMAGE")
    if base is None:
        try:
            client.images.get("python:3.11-slim")
        except Exception:
            return ("Docker is reachable but has no base image: set AIRA_DSL_DOCKER_BASE_IMAGE "
                    "(CI: .ci/docker.sh start) or pull python:3.11-slim")
    return None


def make_sandbox(backend: str, workdir_root: Path, gpus: list[int] | None = None, **extra: Any) -> Sandbox:
    reason = skip_reason(backend)
    if reason is not None:
        skip_backend(backend, reason)
    if backend == "docker":
        profile = load_profile(REPO / "runtimes" / "docker-cpu.yaml")
        profile = dataclasses.replace(profile, kill_grace=0.5, **extra)
        return create_sandbox(profile, workdir_root=workdir_root, gpus=gpus or [])
    isolation, limits = backend.split("-")
    isolation = {"bwrap": "bubblewrap"}.get(isolation, isolation)
    rc = {"cgroup": "cgroup", "rlimit": "rlimit"}[limits]
    return create_sandbox(local_profile(isolation, rc, **extra), workdir_root=workdir_root, gpus=gpus or [])


def processes_matching(token: str) -> list[int]:
    """Pids whose command line contains ``token`` (the marker in every hostile script's name)."""
    found = []
    needle = token.encode()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                if needle in handle.read():
                    found.append(int(name))
        except OSError:
            continue
    return found


def wait_no_processes(token: str, timeout: float = 3.0) -> list[int]:
    """Processes with ``token`` still alive after up to ``timeout`` seconds (should be none)."""
    deadline = time.monotonic() + timeout
    while True:
        left = processes_matching(token)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
