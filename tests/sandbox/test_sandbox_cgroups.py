"""cgroups: the files each hierarchy gets, real groups on this machine, exact kill, removal."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from aira_dsl.sandbox import Limits
from aira_dsl.sandbox.cgroups import CgroupGroup, CgroupSupport, _prune_stale, detect_cgroups

LIMITS = Limits(wall_time=10, memory_bytes=64 << 20, cpus=0.5, max_processes=16)
JOIN = 'for f; do echo $$ > "$f"; done; exec sleep 30'


def test_v2_limit_files(tmp_path: Path) -> None:
    """The v2 interface files and values, written into a folder laid out like a cgroup."""
    support = CgroupSupport(2, "test", {"unified": tmp_path}, frozenset({"memory", "pids", "cpu"}))
    group = CgroupGroup(support, "node/1")
    group.create(LIMITS)
    directory = tmp_path / group.name
    assert "/" not in group.name and group.name.endswith("node_1")
    assert (directory / "memory.max").read_text() == str(64 << 20)
    assert (directory / "pids.max").read_text() == "16"
    assert (directory / "cpu.max").read_text() == "50000 100000"
    assert group.procs_files == [directory / "cgroup.procs"]
    (directory / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert group.oom_kills() == 1


def test_v1_limit_files(tmp_path: Path) -> None:
    bases = {c: tmp_path / c for c in ("memory", "pids", "cpu")}
    support = CgroupSupport(1, "test", bases, frozenset(bases))
    group = CgroupGroup(support, "n")
    for base in bases.values():
        base.mkdir()
    group.create(LIMITS)
    assert (bases["memory"] / group.name / "memory.limit_in_bytes").read_text() == str(64 << 20)
    assert (bases["pids"] / group.name / "pids.max").read_text() == "16"
    assert (bases["cpu"] / group.name / "cpu.cfs_quota_us").read_text() == "50000"
    assert len(group.procs_files) == 3
    only_pids = CgroupGroup(support, "m")
    only_pids.create(Limits(wall_time=1))  # joins only what limits something, and pids to track
    assert [f.parent.parent.name for f in only_pids.procs_files] == ["pids"]
    (bases["memory"] / group.name / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert group.oom_kills() == 2


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_real_group_tracks_and_kills_everything(version: str) -> None:
    support = detect_cgroups(version)
    if not support.available and version == "v2" and os.geteuid() == 0:
        # Our own cgroup may not delegate controllers; the root of the hierarchy may (a VM).
        support = detect_cgroups(version, "/")
    if not support.available:
        pytest.skip(f"cgroup {version} is not usable here: {support.reason}")
    group = CgroupGroup(support, f"test-{version}")
    group.create(LIMITS)
    try:
        files = [str(f) for f in group.procs_files]
        proc = subprocess.Popen(["/bin/sh", "-c", JOIN, "sh", *files])
        deadline = time.monotonic() + 5
        while proc.pid not in group.pids() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.pid in group.pids()
        key = "unified" if version == "v2" else "memory"
        name = "memory.max" if version == "v2" else "memory.limit_in_bytes"
        assert int((group.dirs[key] / name).read_text()) == 64 << 20
        assert group.kill_all(time.monotonic() + 5)
        assert proc.wait(5) == -9
        assert group.pids() == set() and group.oom_kills() == 0
    finally:
        group.remove(time.monotonic() + 5)
    assert not any(d.exists() for d in group.dirs.values())


def test_detection_explains_itself() -> None:
    support = detect_cgroups("auto")
    assert support.reason
    assert support.mode in ("cgroup-v1", "cgroup-v2", "rlimit")
    disabled = detect_cgroups("none")
    assert not disabled.available and disabled.mode == "rlimit" and "disabled" in disabled.reason


def test_stale_groups_of_dead_processes_are_pruned() -> None:
    support = detect_cgroups("auto")
    if not support.available:
        pytest.skip(f"no writable cgroups: {support.reason}")
    base = next(iter(support.bases.values()))
    dead = next(pid for pid in range(4_000_000, 4_100_000) if not os.path.exists(f"/proc/{pid}"))
    stale, live = base / f"{dead}-0-stale", base / f"{os.getpid()}-0-live"
    stale.mkdir()
    live.mkdir()
    try:
        _prune_stale(support)
        assert not stale.exists() and live.exists()
    finally:
        for directory in (stale, live):
            if directory.exists():
                directory.rmdir()
