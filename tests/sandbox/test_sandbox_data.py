"""The data folder inside every backend: read-only by mount (not only by permissions), readable
when the host folder is private (0700), and the unshare path's hardening (no capability in the
bounding set, system folders nosuid/nodev)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sandbox_support import make_sandbox

from aira_dsl.sandbox import Limits

BACKENDS = ["bwrap-cgroup", "unshare-cgroup", "unshare-rlimit", pytest.param("docker", marks=pytest.mark.docker)]
LIMITS = Limits(wall_time=60, memory_bytes=512 << 20, max_processes=64, output_bytes=64 * 1024)

WRITE_DATA = r"""
import errno, json, os
results = {}
for name, action in [
    ("append", lambda: open("data/train.csv", "a").write("x")),
    ("create", lambda: open("data/new.txt", "w").write("x")),
    ("mkdir", lambda: os.mkdir("data/sub/new")),
    ("chmod", lambda: os.chmod("data/train.csv", 0o777)),
    ("unlink", lambda: os.unlink("data/train.csv")),
]:
    try:
        action()
        results[name] = "succeeded"
    except OSError as exc:
        results[name] = f"{errno.errorcode.get(exc.errno, exc.errno)}: {exc.strerror}"
print(json.dumps(results))
"""


def _writable_data(tmp_path: Path) -> Path:
    """A data folder the sandbox user could write to if the bind were read-write."""
    data = tmp_path / "public"
    (data / "sub").mkdir(parents=True)
    (data / "train.csv").write_text("id,y\n1,2\n")
    os.chmod(data / "train.csv", 0o666)
    for folder in (data / "sub", data):
        os.chmod(folder, 0o777)
    return data


@pytest.mark.parametrize("backend", BACKENDS)
def test_writes_into_data_fail_with_read_only_file_system(backend: str, tmp_path: Path) -> None:
    data = _writable_data(tmp_path)
    sandbox = make_sandbox(backend, tmp_path / "work")
    ws = sandbox.prepare("data-ro", data, {"probe.py": WRITE_DATA.encode()})
    try:
        result = sandbox.run(ws, "probe.py", LIMITS)
    finally:
        sandbox.cleanup(ws)
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    # The modes allow every one of these; only a read-only mount refuses them all with EROFS.
    assert outcome == {name: "EROFS: Read-only file system" for name in ("append", "create", "mkdir", "chmod",
                                                                         "unlink")}, outcome
    assert (data / "train.csv").read_text() == "id,y\n1,2\n" and not (data / "new.txt").exists()


READ_DATA = r"""
import os
print(open("data/train.csv").read().strip().replace("\n", "|"))
print(sorted(os.listdir("data")), sorted(os.listdir("data/sub")))
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_private_data_folder_is_readable_inside(backend: str, tmp_path: Path) -> None:
    data = tmp_path / "public"
    (data / "sub").mkdir(parents=True)
    (data / "train.csv").write_text("id,y\n1,2\n")
    (data / "sub" / "part.csv").write_text("p\n")
    for path in (data / "train.csv", data / "sub" / "part.csv"):
        os.chmod(path, 0o600)
    for folder in (data / "sub", data):
        os.chmod(folder, 0o700)  # what mkdtemp makes
    sandbox = make_sandbox(backend, tmp_path / "work")
    bound = sandbox.use_data(data)
    ws = sandbox.prepare("data-private", data, {"probe.py": READ_DATA.encode()})
    try:
        result = sandbox.run(ws, "probe.py", LIMITS)
    finally:
        sandbox.cleanup(ws)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["id,y|1,2", "['sub', 'train.csv'] ['part.csv']"]
    if os.geteuid() == 0:
        assert bound != data.resolve() and bound.is_relative_to(tmp_path / "work" / ".data")
    assert oct(data.stat().st_mode & 0o777) == "0o700"  # the host folder keeps its mode


HARDENING = r"""
import os
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print("CapBnd", status["CapBnd"].strip(), "CapEff", status["CapEff"].strip(), "CapInh", status["CapInh"].strip())
for line in open("/proc/self/mountinfo"):
    fields = line.split()
    if fields[4] in ("/usr", "/etc", "/workspace/data"):
        print("mount", fields[4], fields[5])
"""


@pytest.mark.parametrize("backend", ["bwrap-cgroup", "unshare-cgroup"])
def test_no_capabilities_and_system_folders_are_nosuid_nodev(backend: str, tmp_path: Path) -> None:
    data = _writable_data(tmp_path)
    sandbox = make_sandbox(backend, tmp_path / "work")
    ws = sandbox.prepare("hardening", data, {"probe.py": HARDENING.encode()})
    try:
        result = sandbox.run(ws, "probe.py", LIMITS)
    finally:
        sandbox.cleanup(ws)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "CapBnd 0000000000000000 CapEff 0000000000000000 CapInh 0000000000000000", lines
    mounts = {line.split()[1]: set(line.split()[2].split(",")) for line in lines[1:]}
    assert set(mounts) == {"/usr", "/etc", "/workspace/data"}, lines
    for where, options in mounts.items():
        assert {"ro", "nosuid", "nodev"} <= options, (where, options)
