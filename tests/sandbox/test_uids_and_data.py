"""Sandbox uid blocks (one per orchestrator, freed by the kernel when it dies) and the readable view
of a task's data folder (used as is when readable, else a private copy)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aira_dsl.sandbox import SandboxError
from aira_dsl.sandbox.dataview import Reader, readable_view, unreadable_entries
from aira_dsl.sandbox.uids import BLOCK_SIZE, UidBlock, uid_block

HOLD = """
import sys, time
from aira_dsl.sandbox.uids import uid_block
block = uid_block(int(sys.argv[1]))
print(block.start, block.stop, flush=True)
time.sleep(float(sys.argv[2]))
"""


def _holder(base: int, seconds: float) -> tuple[subprocess.Popen[str], tuple[int, int]]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(base), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    start, stop = map(int, proc.stdout.readline().split())
    return proc, (start, stop)


def test_concurrent_processes_get_disjoint_blocks_and_a_dead_ones_block_is_free_again() -> None:
    base = 3_000_000  # far from the default range, so real runs on this machine do not interfere
    first, a = _holder(base, 30)
    second, b = _holder(base, 30)
    try:
        assert a[1] - a[0] == BLOCK_SIZE == b[1] - b[0]
        assert a[1] <= b[0] or b[1] <= a[0], (a, b)
        assert a[0] % BLOCK_SIZE == 0 and a[0] >= base
        mine = uid_block(base)
        assert {mine.start} & {a[0], b[0]} == set()
        mine.close()
        first.send_signal(signal.SIGKILL)  # a crashed orchestrator: the kernel drops its lock
        first.wait(10)
        third, c = _holder(base, 0.1)
        third.wait(10)
        taken = uid_block(base)  # the dead holder's block (or another free one) can be taken
        assert taken.start != b[0]
        taken.close()
        assert c != b
    finally:
        for proc in (first, second):
            proc.kill()
            proc.wait()


def test_uids_within_a_block_are_never_shared_by_live_workspaces(tmp_path: Path) -> None:
    import fcntl

    fd = os.open(tmp_path / "lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    block = UidBlock(1000, 4, fd, tmp_path / "lock")
    uids = [block.acquire() for _ in range(4)]
    assert sorted(uids) == [1000, 1001, 1002, 1003]
    with pytest.raises(SandboxError, match="in use by live workspaces"):
        block.acquire()
    block.release(1001)
    assert block.acquire() == 1001
    block.close()


def _tree(root: Path, dir_mode: int, file_mode: int) -> None:
    (root / "images").mkdir(parents=True)
    (root / "train.csv").write_text("id,y\n1,2\n")
    (root / "images" / "a.png").write_bytes(b"\x89PNG")
    (root / "link.csv").symlink_to("train.csv")
    for path in (root / "train.csv", root / "images" / "a.png"):
        os.chmod(path, file_mode)
    for path in (root / "images", root):
        os.chmod(path, dir_mode)


def test_a_readable_folder_is_used_as_it_is(tmp_path: Path) -> None:
    data = tmp_path / "public"
    _tree(data, 0o755, 0o644)
    assert readable_view(data, Reader(), tmp_path / "cache") == data.resolve()
    assert not (tmp_path / "cache").exists()


def test_an_unreadable_folder_gets_a_private_readable_copy(tmp_path: Path) -> None:
    data = tmp_path / "public"
    _tree(data, 0o700, 0o600)
    problems, total, _ = unreadable_entries(data, Reader())
    assert problems and "mode 0700" in problems[0] and total == 13
    cache = tmp_path / "run" / "work" / ".data"
    view = readable_view(data, Reader(), cache)
    assert view != data and view.is_relative_to(cache)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700  # no other host user reaches the copy
    assert (view / "train.csv").read_text() == "id,y\n1,2\n" and (view / "images" / "a.png").read_bytes() == b"\x89PNG"
    assert os.readlink(view / "link.csv") == "train.csv"
    assert unreadable_entries(view, Reader())[0] == []  # every entry is readable by "other"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700  # the host's modes are unchanged
    # reused while the source is unchanged; rebuilt when it changes
    mtime = (view / "train.csv").stat().st_mtime_ns
    from aira_dsl.sandbox import dataview

    dataview._VIEWS.clear()
    assert readable_view(data, Reader(), cache) == view and (view / "train.csv").stat().st_mtime_ns == mtime
    time.sleep(0.01)
    (data / "train.csv").write_text("id,y\n1,3\n")
    dataview._VIEWS.clear()
    assert (readable_view(data, Reader(), cache) / "train.csv").read_text() == "id,y\n1,3\n"


def test_a_folder_too_large_to_copy_stops_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aira_dsl.sandbox import dataview

    data = tmp_path / "public"
    _tree(data, 0o700, 0o600)
    monkeypatch.setattr(dataview, "DATA_COPY_MAX_BYTES", 10)
    with pytest.raises(SandboxError) as info:
        readable_view(data, Reader(), tmp_path / "cache")
    assert str(data) in info.value.message and "not readable by the sandbox's user" in info.value.message
    assert info.value.hint is not None and f"chmod -R a+rX {data}" in info.value.hint


def test_owner_and_group_bits_count_for_a_named_reader(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the files another group")
    data = tmp_path / "public"
    _tree(data, 0o750, 0o640)
    for path in (data, data / "images", data / "train.csv", data / "images" / "a.png"):
        os.chown(path, 0, 4242, follow_symlinks=False)
    assert unreadable_entries(data, Reader(uid=1000, gid=4242))[0] == []
    assert unreadable_entries(data, Reader(uid=1000, gid=1000))[0] != []
