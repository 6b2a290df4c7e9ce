"""The ``docker`` backend: a fresh, hardened container per execution.

Every container runs with no network (``network_mode=none``), a read-only root file system with
a size-limited ``/tmp`` tmpfs, all capabilities dropped, ``no-new-privileges``, a non-root user,
memory (without swap), CPU and process limits, the workspace as the only writable bind and the
public data bound read-only. GPUs are passed as explicit device ids, so a worker's container can
only use its own. Output is streamed through an attach socket into bounded buffers (the logging
driver is ``none``, so the engine does not store gigabytes of output either), and the container
is removed whatever happens — also when the orchestrator is killed: every container carries its
orchestrator's owner label, and a watcher process (:mod:`.docker_reaper`) removes them the moment
the orchestrator ends.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aira_dsl.sandbox.base import SANDBOX_WORKDIR, ExecResult, Limits, SandboxBase, SandboxError, Workspace
from aira_dsl.sandbox.dataview import Reader, readable_view
from aira_dsl.sandbox.docker_image import ensure_image
from aira_dsl.sandbox.docker_reaper import OWNER_LABEL, owner_id, start_reaper
from aira_dsl.sandbox.environment import SYSTEM_PATH, cache_binds, sandbox_env
from aira_dsl.sandbox.output import OutputCapture
from aira_dsl.sandbox.profile import DockerSettings, SandboxProfile
from aira_dsl.sandbox.workspace import create_workspace, list_produced_files, remove_workspace

__all__ = ["DockerSandbox", "docker_client"]

LABEL = "aira-dsl.sandbox"
_COUNTER = itertools.count()


def _stderr_progress(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def docker_client(timeout: float = 30.0) -> Any:
    """A client for the engine ``DOCKER_HOST`` (or the default socket) names, checked with a ping."""
    try:
        import docker
        import docker.errors
    except ImportError as exc:
        raise SandboxError("the docker backend needs the 'docker' Python package",
                           hint="pip install 'aira-dsl[docker]'") from exc
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock (the default; DOCKER_HOST is not set)"
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except Exception as exc:  # the SDK raises several unrelated types for "no engine"
        message, hint = _unreachable(where, exc, timeout)
        raise SandboxError(message, hint=hint) from exc
    return client


_START_HINT = ("start the Docker engine (`sudo systemctl start docker`, or Docker Desktop) or point DOCKER_HOST at "
               "a running one; or use a local sandbox profile (execution.sandbox: local)")


def _unreachable(where: str, exc: BaseException, timeout: float) -> tuple[str, str]:
    """What "no engine" means for ``exc``, in words, and what to do: the SDK wraps the socket's
    error in two or three layers (``('Connection aborted.', FileNotFoundError(2, ...))``)."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    text = " ".join(f"{type(e).__name__} {e!r}" for e in chain)
    if "FileNotFoundError" in text or "No such file or directory" in text:
        return f"no Docker engine answers at {where}: the socket does not exist", _START_HINT
    if "ConnectionRefusedError" in text or "Connection refused" in text:
        return f"no Docker engine answers at {where}: the connection was refused", _START_HINT
    if "PermissionError" in text or "Permission denied" in text:
        return (f"the Docker engine at {where} refused this user: permission denied on its socket",
                "add the user to the docker group (then log in again), or use rootless Docker via DOCKER_HOST")
    if "timed out" in text.lower() or "Timeout" in text:
        return f"no answer from the Docker engine at {where} within {timeout:g}s", _START_HINT
    return f"cannot reach the Docker engine at {where}: {exc}", _START_HINT


class DockerSandbox(SandboxBase):
    """Runs node code in a new container per execution (see the module docstring)."""

    def __init__(self, profile: SandboxProfile, *, workdir_root: Path, gpus: Sequence[int] = (),
                 progress: Callable[[str], None] = _stderr_progress):
        if profile.docker is None:
            raise SandboxError(f"sandbox profile {profile.name} has no docker section")
        self.profile = profile
        self.settings: DockerSettings = profile.docker
        self.workdir_root = Path(workdir_root)
        self.gpus = list(gpus)
        self.client = docker_client()
        self.image = ensure_image(self.client, self.settings, profile.name, progress)
        self.user = self.settings.user if os.geteuid() == 0 else f"{os.getuid()}:{os.getgid()}"
        start_reaper()

    # -- the protocol --------------------------------------------------------------------------

    def use_data(self, data_dir: Path) -> Path:
        """The folder to bind at ``./data``: itself, or a private copy the container user can read."""
        if os.geteuid() == 0:
            uid, _, gid = self.user.partition(":")
            reader = Reader(uid=int(uid), gid=int(gid or uid))
        else:
            reader = Reader(as_self=True)
        return readable_view(Path(data_dir), reader, self.workdir_root / ".data")

    def prepare(self, node_id: str, data_dir: Path | None,
                extra_files: Mapping[str, bytes] = {}) -> Workspace:
        uid = int(self.user.split(":")[0])
        source = self.use_data(data_dir) if data_dir is not None else None
        return create_workspace(self.workdir_root, node_id, source, extra_files,
                                uid if os.geteuid() == 0 else None)

    def cleanup(self, workspace: Workspace) -> None:
        remove_workspace(workspace.root)

    def describe(self) -> dict[str, Any]:
        try:
            version = self.client.version().get("Version")
        except Exception:
            version = None
        return {"backend": "docker", "profile": self.profile.name, "isolation": "docker",
                "limits_mode": "docker", "image": self.image, "engine": version, "user": self.user,
                "gpus": self.gpus, "caches": [c.mount for c in self.profile.present_caches()], "warnings": []}

    def run(self, workspace: Workspace, script_name_or_argv: str | Sequence[str], limits: Limits,
            env: Mapping[str, str] = {}) -> ExecResult:
        import docker.errors

        argv = self._command(script_name_or_argv)
        capture = OutputCapture(limits.output_bytes)
        api = self.client.api
        try:
            container = api.create_container(**self._create_args(workspace, argv, limits, env))
        except docker.errors.APIError as exc:
            raise SandboxError(f"cannot create the container: {exc.explanation or exc}",
                               hint="check the image and the engine's GPU support") from exc
        cid = container["Id"]
        timed_out = False
        try:
            stream = api.attach(cid, stdout=True, stderr=True, stream=True, logs=False, demux=True)
            reader = threading.Thread(target=_read_stream, args=(stream, capture), daemon=True)
            reader.start()
            start = time.monotonic()
            try:
                api.start(cid)
            except docker.errors.APIError as exc:
                raise SandboxError(f"cannot start the container: {exc.explanation or exc}",
                                   hint="check the image and the engine's GPU support") from exc
            status = self._wait(cid, limits.wall_time)
            if status is None:
                timed_out = True
                status = self._stop(cid)
            duration = time.monotonic() - start
            reader.join(timeout=5)
            state = api.inspect_container(cid)["State"]
        finally:
            with contextlib.suppress(docker.errors.APIError):
                api.remove_container(cid, force=True, v=True)
        exit_code = status if status is not None else state.get("ExitCode")
        return ExecResult(
            exit_code=exit_code, timed_out=timed_out, oom_killed=bool(state.get("OOMKilled")),
            duration=duration, stdout=capture.stdout.text(), stderr=capture.stderr.text(),
            output=capture.combined.text(), files=list_produced_files(workspace), isolation="docker",
            limits_mode="docker", output_truncated=capture.truncated, output_total_bytes=capture.total,
        )

    # -- helpers -------------------------------------------------------------------------------

    def _command(self, script_name_or_argv: str | Sequence[str]) -> list[str]:
        if isinstance(script_name_or_argv, str):
            return [self.settings.python, script_name_or_argv]
        argv = list(script_name_or_argv)
        if not argv:
            raise SandboxError("empty command")
        if argv[0] in ("python", "python3"):
            argv[0] = self.settings.python
        return argv

    def _create_args(self, workspace: Workspace, argv: list[str], limits: Limits,
                     env: Mapping[str, str]) -> dict[str, Any]:
        from docker.types import DeviceRequest, LogConfig, Ulimit

        api = self.client.api
        environment = sandbox_env(self.profile, env, python="", gpus=list(range(len(self.gpus))),
                                  cpus=limits.cpus, home="/tmp", run_id=uuid.uuid4().hex[:16])
        environment["PATH"] = SYSTEM_PATH
        binds = {str(workspace.root): {"bind": SANDBOX_WORKDIR, "mode": "rw"}}
        if workspace.source_data is not None:
            binds[str(workspace.source_data)] = {"bind": f"{SANDBOX_WORKDIR}/data", "mode": "ro"}
        for host, inside in cache_binds(self.profile):
            binds[host] = {"bind": inside, "mode": "ro"}
        ulimits = [Ulimit(name="core", soft=0, hard=0)]
        if limits.file_size_bytes is not None:
            ulimits.append(Ulimit(name="fsize", soft=limits.file_size_bytes, hard=limits.file_size_bytes))
        host_config = api.create_host_config(
            binds=binds,
            network_mode="none",
            read_only=True,
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={self.settings.tmp_size},mode=1777"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            init=self.settings.init,
            mem_limit=limits.memory_bytes,
            memswap_limit=limits.memory_bytes,
            nano_cpus=int(min(limits.cpus, os.cpu_count() or 1) * 1e9) if limits.cpus else None,
            pids_limit=limits.max_processes,
            ulimits=ulimits,
            shm_size=self.settings.shm_size,
            log_config=LogConfig(type="none"),
            device_requests=[DeviceRequest(device_ids=[str(g) for g in self.gpus], capabilities=[["gpu"]])]
            if self.gpus else None,
        )
        name = f"aira-{workspace.node_id or 'run'}-{os.getpid()}-{next(_COUNTER)}"
        return {"image": self.image, "command": argv, "user": self.user, "environment": environment,
                "working_dir": SANDBOX_WORKDIR, "hostname": "sandbox", "network_disabled": True,
                "labels": {LABEL: "1", "aira-dsl.node": workspace.node_id, OWNER_LABEL: owner_id()},
                "host_config": host_config,
                "name": name, "stdin_open": False, "tty": False}

    def _wait(self, cid: str, timeout: float) -> int | None:
        """The exit status, or None when ``timeout`` passed first."""
        import requests

        try:
            result = self.client.api.wait(cid, timeout=max(0.1, timeout))
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            return None
        return int(result.get("StatusCode", -1))

    def _stop(self, cid: str) -> int | None:
        """Timeout: SIGTERM, the profile's grace period, then SIGKILL; the final status."""
        import docker.errors

        with contextlib.suppress(docker.errors.APIError):
            self.client.api.kill(cid, signal="SIGTERM")
        status = self._wait(cid, self.profile.kill_grace) if self.profile.kill_grace > 0 else None
        if status is None:
            with contextlib.suppress(docker.errors.APIError):
                self.client.api.kill(cid, signal="SIGKILL")
            status = self._wait(cid, 30)
        return status


def _read_stream(stream: Any, capture: OutputCapture) -> None:
    """Feed the attach stream's demultiplexed (stdout, stderr) chunks into ``capture``."""
    try:
        for out, err in stream:
            if out:
                capture.feed("stdout", out)
            if err:
                capture.feed("stderr", err)
    except Exception:  # the engine closes the socket when the container is removed
        return
