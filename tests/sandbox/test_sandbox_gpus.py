"""GPU assignment, device nodes per sandbox, the hardware block, and the environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aira_dsl.sandbox import SandboxError, assign_gpus, detect_hardware, list_gpus
from aira_dsl.sandbox.environment import sandbox_env
from aira_dsl.sandbox.gpus import nvidia_device_nodes
from aira_dsl.sandbox.isolation import Mount, bwrap_command
from aira_dsl.sandbox.profile import profile_from_data


def test_assignment_is_disjoint_and_ordered() -> None:
    assert assign_gpus(2, 2, [0, 1, 2, 3]) == [[0, 1], [2, 3]]
    assert assign_gpus(3, 1, [4, 5, 6, 7]) == [[4], [5], [6]]
    assert assign_gpus(4, 0, []) == [[], [], [], []]
    sets = assign_gpus(4, 2, list(range(8)))
    flat = [g for s in sets for g in s]
    assert len(flat) == len(set(flat)) == 8


def test_not_enough_gpus_is_a_clear_error() -> None:
    with pytest.raises(SandboxError) as info:
        assign_gpus(3, 2, [0, 1, 2, 3])
    assert "need 6 GPU(s), but 4 are available" in info.value.message
    assert "at most 2 worker(s)" in (info.value.hint or "")
    with pytest.raises(SandboxError) as info:
        assign_gpus(1, 1, [])
    assert "gpus_per_worker: 0" in (info.value.hint or "")
    with pytest.raises(SandboxError):
        assign_gpus(0, 1, [0])


def test_device_nodes_only_for_assigned_gpus(tmp_path: Path) -> None:
    for name in ("nvidia0", "nvidia1", "nvidia2", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools"):
        (tmp_path / name).touch()
    (tmp_path / "nvidia-caps").mkdir()
    nodes = {p.name for p in nvidia_device_nodes([1], dev=tmp_path)}
    assert nodes == {"nvidia1", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-caps"}
    assert nvidia_device_nodes([], dev=tmp_path) == []
    with pytest.raises(SandboxError, match="nvidia7"):
        nvidia_device_nodes([7], dev=tmp_path)


def test_bwrap_binds_exactly_the_given_device_nodes() -> None:
    mounts = [Mount("dev", "/dev/nvidia1", "/dev/nvidia1"), Mount("dev", "/dev/nvidiactl", "/dev/nvidiactl")]
    argv = bwrap_command("bwrap", mounts, ["python3", "x.py"], uid=None, status_fd=3)
    binds = [argv[i + 1] for i, a in enumerate(argv) if a == "--dev-bind"]
    assert binds == ["/dev/nvidia1", "/dev/nvidiactl"]
    assert argv[-2:] == ["python3", "x.py"]


def test_hardware_block_shape() -> None:
    info = detect_hardware(gpus=[], memory_limit=2 << 30, cpus=1.5)
    assert info == {"gpus": [], "cpus": 1, "memory_gb": 2.0}
    whole = detect_hardware()
    assert whole["cpus"] == len(os.sched_getaffinity(0))
    assert whole["memory_gb"] and whole["memory_gb"] > 0
    assert [g["name"] for g in whole["gpus"]] == [g["name"] for g in list_gpus()]
    unknown = detect_hardware(gpus=[99])
    assert unknown["gpus"] == [{"name": "GPU 99", "memory_gb": None}]


@pytest.mark.gpu
def test_real_gpus_are_listed() -> None:
    gpus = list_gpus()
    if not gpus:
        pytest.skip("no NVIDIA GPU (nvidia-smi lists none)")
    info = detect_hardware(gpus=[gpus[0]["index"]])
    assert info["gpus"][0]["memory_gb"] > 1


def test_environment_drops_credentials_and_sets_gpus() -> None:
    profile = profile_from_data({"backend": "local", "env": {"allow": ["LANG", "OPENAI_API_KEY", "MY_FLAG"],
                                                             "set": {"FIXED": 1, "GH_TOKEN": "x"}}}, "p")
    host = {"LANG": "de_DE.UTF-8", "OPENAI_API_KEY": "sk-1", "MY_FLAG": "yes", "SECRET_SAUCE": "s", "OTHER": "o"}
    env = sandbox_env(profile, {"ANTHROPIC_API_KEY": "k", "EXTRA": "e"}, python="/opt/py/bin/python3",
                      gpus=[2, 3], cpus=2.5, home="/tmp", run_id="r1", host=host)
    assert env["LANG"] == "de_DE.UTF-8" and env["MY_FLAG"] == "yes" and env["FIXED"] == "1" and env["EXTRA"] == "e"
    for name in ("OPENAI_API_KEY", "GH_TOKEN", "ANTHROPIC_API_KEY", "SECRET_SAUCE", "OTHER"):
        assert name not in env
    assert env["CUDA_VISIBLE_DEVICES"] == "2,3" and env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert env["OMP_NUM_THREADS"] == "3" and env["PATH"].startswith("/opt/py/bin:")
    assert env["AIRA_SANDBOX_RUN"] == "r1" and env["HOME"] == "/tmp"
    none = sandbox_env(profile, {"CUDA_VISIBLE_DEVICES": "0"}, python="python3", gpus=[], cpus=None,
                       home="/tmp", run_id="r2", host={})
    assert none["CUDA_VISIBLE_DEVICES"] == ""  # cannot be overridden to reach unassigned GPUs
