"""Without a Docker engine, the docker-marked tests skip saying so and how to start one."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sandbox_support import docker_skip_reason
from tests_support import import_or_skip

from aira_dsl.sandbox import SandboxError
from aira_dsl.sandbox.docker_backend import docker_client


@pytest.fixture(autouse=True)
def _docker_sdk() -> None:
    import_or_skip("docker", "docker", "the docker Python package is not installed")


def test_missing_socket_says_no_engine_answers_and_how_to_start_one(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    """Issue 16: the skip reason was the SDK's raw
    ``('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))``."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    reason = docker_skip_reason()
    assert reason is not None
    assert reason.startswith(f"no Docker engine answers at unix://{tmp_path}/docker.sock: the socket does not exist")
    assert "bash .ci/docker.sh start" in reason and "DOCKER_HOST" in reason
    assert "Connection aborted" not in reason and "FileNotFoundError" not in reason


def test_refused_connection_is_said_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")
    with pytest.raises(SandboxError) as info:
        docker_client(timeout=5)
    assert info.value.message == f"no Docker engine answers at tcp://127.0.0.1:{port}: the connection was refused"
    assert info.value.hint is not None and "systemctl start docker" in info.value.hint
