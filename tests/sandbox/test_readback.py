"""The safe reader refuses every hostile shape of a workspace file, on both resolution paths
(``openat2`` and the ``O_NOFOLLOW`` walk), without blocking, following links or reading too much."""

from __future__ import annotations

import os
import resource
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aira_dsl.sandbox.readback import ReadBack, Refusal, openat2_available, read_back

MODES = [pytest.param(True, id="openat2"), pytest.param(False, id="walk")]
SECRET = b"id,species\nP0001,SECRET-ANSWER\n"


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Path]:
    """A workspace next to a 'private' folder, with one of every hostile shape in it."""
    private = tmp_path / "private"
    private.mkdir()
    (private / "answers.csv").write_bytes(SECRET)
    root = tmp_path / "ws"
    for name in ("submission", "working", "deep/er"):
        (root / name).mkdir(parents=True)
    (root / "submission" / "good.csv").write_bytes(b"id,species\nP0001,Adelie\n")
    (root / "deep" / "er" / "file.csv").write_bytes(b"deep\n")
    (root / "submission" / "link.csv").symlink_to(private / "answers.csv")
    (root / "submission" / "relative.csv").symlink_to("../../private/answers.csv")
    (root / "submission" / "environ").symlink_to("/proc/self/environ")
    (root / "linked").symlink_to(private, target_is_directory=True)
    (root / "deep" / "up").symlink_to("..", target_is_directory=True)
    os.mkfifo(root / "submission" / "fifo.csv")
    (root / "submission" / "dir.csv").mkdir()
    with open(root / "submission" / "sparse.csv", "wb") as handle:
        handle.truncate(2 << 30)
    (root / "working" / "one.csv").write_bytes(b"x\n")
    os.link(root / "working" / "one.csv", root / "submission" / "hard.csv")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "submission" / "sock.csv"))
    try:
        yield root
    finally:
        sock.close()


def test_openat2_is_used_on_this_kernel() -> None:
    major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    if (major, minor) < (5, 6):
        pytest.skip(f"kernel {os.uname().release} predates openat2")
    assert openat2_available()


@pytest.mark.parametrize("use_openat2", MODES)
def test_a_regular_file_is_read(ws: Path, use_openat2: bool) -> None:
    result = read_back(ws, "submission/good.csv", max_bytes=1000, use_openat2=use_openat2)
    assert isinstance(result, ReadBack) and result.data == b"id,species\nP0001,Adelie\n" and result.size == 24
    deep = read_back(ws, "./deep/er/file.csv", max_bytes=1000, use_openat2=use_openat2)
    assert isinstance(deep, ReadBack) and deep.data == b"deep\n"


@pytest.mark.parametrize("use_openat2", MODES)
@pytest.mark.parametrize(("name", "code", "words"), [
    ("submission/link.csv", "symlink", "symbolic link"),
    ("submission/relative.csv", "symlink", "symbolic link"),
    ("submission/environ", "symlink", "symbolic link"),
    ("linked/answers.csv", "symlink", "behind a symbolic link (linked)"),
    ("deep/up/submission/good.csv", "symlink", "behind a symbolic link (deep/up)"),
    ("submission/fifo.csv", "not-regular", "FIFO"),
    ("submission/dir.csv", "not-regular", "is a directory"),
    ("submission/sock.csv", "not-regular", "socket"),
    ("submission/sparse.csv", "too-large", "2,147,483,648 bytes, over the 1,048,576-byte limit"),
    ("submission/hard.csv", "hard-link", "2 hard links"),
    ("submission/none.csv", "missing", "does not exist"),
    ("submission/good.csv/x", "missing", "is a regular file, not a folder"),
    ("../private/answers.csv", "bad-path", "not a plain relative path"),
    ("/etc/passwd", "bad-path", "not a plain relative path"),
    ("", "bad-path", "not a plain relative path"),
])
def test_hostile_shapes_are_refused(ws: Path, use_openat2: bool, name: str, code: str, words: str) -> None:
    started = time.monotonic()
    result = read_back(ws, name, max_bytes=1 << 20, use_openat2=use_openat2)
    assert isinstance(result, Refusal), result
    assert result.code == code and words in result.reason, result
    assert result.reason.startswith(name)
    assert result.exists == (code not in ("missing", "bad-path"))
    assert time.monotonic() - started < 5  # a FIFO never blocks


@pytest.mark.parametrize("use_openat2", MODES)
def test_a_fifo_with_a_writer_waiting_does_not_block_either(ws: Path, use_openat2: bool) -> None:
    """Opening the FIFO for reading would release a blocked writer; the reader never opens it."""
    fifo = ws / "submission" / "fifo.csv"
    opened = threading.Event()

    def writer() -> None:
        fd = os.open(fifo, os.O_WRONLY)  # blocks until someone opens the read end
        opened.set()
        os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    result = read_back(ws, "submission/fifo.csv", max_bytes=100, use_openat2=use_openat2)
    assert isinstance(result, Refusal) and result.code == "not-regular"
    assert not opened.wait(0.3), "the reader opened the FIFO"
    os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # let the writer thread go
    thread.join(2)


@pytest.mark.parametrize("use_openat2", MODES)
def test_the_size_is_checked_before_any_byte_is_read(ws: Path, use_openat2: bool) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    result = read_back(ws, "submission/sparse.csv", max_bytes=1 << 30, use_openat2=use_openat2)
    assert isinstance(result, Refusal) and result.code == "too-large"
    assert time.monotonic() - started < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB: nothing was read


@pytest.mark.parametrize("use_openat2", MODES)
def test_copies_are_regular_files_written_atomically(ws: Path, tmp_path: Path, use_openat2: bool) -> None:
    dest = tmp_path / "run" / "nodes" / "00001" / "submission.csv"
    result = read_back(ws, "submission/good.csv", max_bytes=1000, dest=dest, use_openat2=use_openat2)
    assert isinstance(result, ReadBack) and result.dest == dest and result.data is None
    info = os.lstat(dest)
    assert stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and dest.read_bytes() == b"id,species\nP0001,Adelie\n"
    assert os.listdir(dest.parent) == ["submission.csv"]  # no temporary left behind
    # a link planted at the destination is replaced, never written through
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"untouched")
    dest.unlink()
    dest.symlink_to(victim)
    result = read_back(ws, "submission/good.csv", max_bytes=1000, dest=dest, use_openat2=use_openat2)
    assert isinstance(result, ReadBack)
    assert not dest.is_symlink() and victim.read_bytes() == b"untouched"
    # a refused file leaves no copy at all
    refused = read_back(ws, "submission/link.csv", max_bytes=1000, dest=tmp_path / "out.csv",
                        use_openat2=use_openat2)
    assert isinstance(refused, Refusal) and not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("use_openat2", MODES)
def test_a_large_copy_streams_without_holding_the_file_in_memory(ws: Path, tmp_path: Path, use_openat2: bool) -> None:
    big = ws / "submission" / "big.csv"
    with open(big, "wb") as handle:
        handle.truncate(96 << 20)  # sparse: 96 MiB of zeros to copy, nothing to write first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = read_back(ws, "submission/big.csv", max_bytes=1 << 30, dest=tmp_path / "copy.csv",
                       use_openat2=use_openat2)
    assert isinstance(result, ReadBack) and (tmp_path / "copy.csv").stat().st_size == 96 << 20
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 32 * 1024  # KiB


def test_a_missing_workspace_is_a_refusal(tmp_path: Path) -> None:
    result = read_back(tmp_path / "gone", "submission/submission.csv", max_bytes=10)
    assert isinstance(result, Refusal) and result.code == "missing"
