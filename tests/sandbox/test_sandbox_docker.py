"""The docker backend against a real engine: hardening seen from inside, cleanup, image tags.

Skipped with the reason when no engine answers (CI starts one with ``.ci/docker.sh start``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sandbox_support import REPO, make_sandbox

from aira_dsl.sandbox import Limits
from aira_dsl.sandbox.docker_backend import LABEL, DockerSandbox
from aira_dsl.sandbox.docker_image import image_tag
from aira_dsl.sandbox.profile import DockerSettings

pytestmark = pytest.mark.docker

LIMITS = Limits(wall_time=30, memory_bytes=256 << 20, cpus=1, max_processes=64, output_bytes=64 * 1024,
                file_size_bytes=16 << 20)

INSIDE = """
import os, socket
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
print("uid", os.getuid(), "gid", os.getgid())
print("caps", status["CapEff"].strip(), status["CapBnd"].strip())
print("nnp", status["NoNewPrivs"].strip())
print("ifaces", sorted(line.split(":")[0].strip() for line in open("/proc/net/dev").read().splitlines()[2:]))
print("host", socket.gethostname())
for path in ("/x", "/usr/x", "/tmp/x", "working/x"):
    try:
        open(path, "w").write("1")
        print("wrote", path)
    except OSError as exc:
        print("refused", path, exc.errno)
print("data", os.listdir("data"))
print("cuda", repr(os.environ.get("CUDA_VISIBLE_DEVICES")), "key", os.environ.get("OPENAI_API_KEY"))
"""


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> DockerSandbox:
    box = make_sandbox("docker", tmp_path_factory.mktemp("docker") / "workspaces")
    assert isinstance(box, DockerSandbox)
    return box


def test_container_is_hardened(sandbox: DockerSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-pass")
    data = tmp_path / "public"
    data.mkdir()
    (data / "train.csv").write_text("a\n")
    ws = sandbox.prepare("hardened", data, {"inside.py": INSIDE.encode()})
    result = sandbox.run(ws, "inside.py", LIMITS, {"OPENAI_API_KEY": "sk-should-not-pass"})
    sandbox.cleanup(ws)
    out = result.stdout
    assert result.exit_code == 0, result.output
    assert "uid 1000 gid 1000" in out
    assert "caps 0000000000000000 0000000000000000" in out
    assert "nnp 1" in out
    assert "ifaces ['lo']" in out
    assert "host sandbox" in out
    assert "refused /x 30" in out and "refused /usr/x 30" in out  # EROFS: read-only root
    assert "wrote /tmp/x" in out and "wrote working/x" in out
    assert "data ['train.csv']" in out
    assert "cuda '' key None" in out
    assert result.isolation == "docker" and result.files == ["working/x"]


def test_containers_are_always_removed(sandbox: DockerSandbox) -> None:
    ws = sandbox.prepare("removed", None, {"s.py": b"import time\ntime.sleep(60)\n"})
    result = sandbox.run(ws, "s.py", LIMITS.override(wall_time=1.0))
    sandbox.cleanup(ws)
    assert result.timed_out and result.exit_code in (137, 143)
    left = sandbox.client.containers.list(all=True, filters={"label": LABEL})
    assert left == []


def test_create_arguments(sandbox: DockerSandbox, tmp_path: Path) -> None:
    ws = sandbox.prepare("args", None)
    sandbox.gpus = [1, 3]
    try:
        args = sandbox._create_args(ws, ["python3", "x.py"], LIMITS, {})
    finally:
        sandbox.gpus = []
        sandbox.cleanup(ws)
    host = args["host_config"]
    assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Memory"] == 256 << 20 and host["MemorySwap"] == 256 << 20
    assert host["PidsLimit"] == 64 and host["NanoCpus"] == 1_000_000_000
    assert host["LogConfig"]["Type"] == "none"
    assert host["DeviceRequests"][0]["DeviceIDs"] == ["1", "3"]
    assert host["DeviceRequests"][0]["Capabilities"] == [["gpu"]]
    assert args["environment"]["CUDA_VISIBLE_DEVICES"] == "0,1"  # renumbered inside the container
    assert args["user"] == sandbox.user and args["working_dir"] == "/workspace"


def test_image_tag_follows_build_inputs(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    shutil.copytree(REPO / "runtimes/docker", context)
    settings = DockerSettings(dockerfile=context / "cpu.Dockerfile", context=context, build_args={"BASE_IMAGE": "a"})
    first = image_tag(settings, "docker-cpu")
    assert first == image_tag(settings, "docker-cpu") and first.startswith("aira-dsl/docker-cpu:")
    changed_arg = DockerSettings(dockerfile=settings.dockerfile, context=context, build_args={"BASE_IMAGE": "b"})
    assert image_tag(changed_arg, "docker-cpu") != first
    (context / "cpu.Dockerfile").write_text((context / "cpu.Dockerfile").read_text() + "\n# changed\n")
    assert image_tag(settings, "docker-cpu") != first

