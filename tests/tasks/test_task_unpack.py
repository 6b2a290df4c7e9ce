"""Archives in a task's public folder: unpacked once into a cached view, safely, with honest notes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from tests_support import import_or_skip  # type: ignore[import-not-found]

from aira_dsl.tasks import TaskError, resolve_task
from aira_dsl.tasks.unpack import unpack_public_dir

TASK_YAML = """\
version: 1
id: zipped
name: Zipped task
metric: accuracy
submission:
  id_column: id
  target_columns: [y]
"""


def make_task(root: Path, archives: dict[str, bytes]) -> Path:
    (root / "public").mkdir(parents=True)
    (root / "private").mkdir()
    (root / "task.yaml").write_text(TASK_YAML, encoding="utf-8")
    (root / "description.md").write_text("# Zipped\n", encoding="utf-8")
    (root / "private" / "answers.csv").write_text("id,y\na,1\nb,0\n", encoding="utf-8")
    (root / "public" / "sample_submission.csv").write_text("id,y\na,0\nb,0\n", encoding="utf-8")
    for name, data in archives.items():
        (root / "public" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "public" / name).write_bytes(data)
    return root


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as handle:
        for name, data in members.items():
            handle.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(members: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as handle:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            handle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_archives_are_unpacked_into_a_cached_view_and_the_prepared_dir_is_untouched(tmp_path: Path) -> None:
    loose = zip_bytes({f"{i}.jpg": bytes([i]) * 10 for i in range(5)})  # loose files: into a folder
    foldered = zip_bytes({"test/a.jpg": b"a", "test/b.jpg": b"b"})      # one top folder: beside it
    single = tar_bytes({"extra.csv": b"id,x\na,1\n"})                    # one file: beside it
    root = make_task(tmp_path / "task", {"train.zip": loose, "test.zip": foldered, "more/extra.tar.gz": single})
    before = snapshot(root)
    cache = tmp_path / "cache"
    task = resolve_task(str(root), cache_dir=cache)
    view = task.public_dir
    assert view.is_relative_to(cache / "unpacked") and task.data_source == (root / "public").resolve()
    assert task.original_public_dir == (root / "public").resolve()
    assert sorted(p.name for p in (view / "train").iterdir()) == [f"{i}.jpg" for i in range(5)]
    assert (view / "test" / "a.jpg").read_bytes() == b"a" and (view / "more" / "extra.csv").is_file()
    assert (view / "train.zip").read_bytes() == loose  # originals kept
    assert (view / "sample_submission.csv").is_file()
    assert snapshot(root) == before  # nothing written into the user's folder
    notes = task.data_notes
    assert "`train.zip` has been unpacked for you: its 5 files are in `train/`" in notes
    assert "`test.zip` has been unpacked for you: its 2 files are in `test/`" in notes
    assert "`more/extra.tar.gz` has been unpacked for you: its one file is `more/extra.csv`" in notes
    again = resolve_task(str(root), cache_dir=cache)
    assert again.public_dir == view and snapshot(view) == snapshot(task.public_dir)
    # Re-preparing (new archive bytes) unpacks again into a new view.
    (root / "public" / "train.zip").write_bytes(zip_bytes({"0.jpg": b"new"}))
    changed = resolve_task(str(root), cache_dir=cache)
    assert changed.public_dir != view and (changed.public_dir / "train.zip").is_file()
    assert (changed.public_dir / "0.jpg").read_bytes() == b"new"  # one file: beside the archive


def test_without_archives_the_public_dir_is_used_as_is_and_the_notes_say_so(tmp_path: Path) -> None:
    root = make_task(tmp_path / "task", {})
    task = resolve_task(str(root), cache_dir=tmp_path / "cache")
    assert task.public_dir == (root / "public").resolve() and task.data_source is None
    assert task.data_notes == "- No file here is an archive: read the files directly."
    assert not (tmp_path / "cache" / "unpacked").exists()


def test_nested_archives_stay_packed_and_are_named(tmp_path: Path) -> None:
    inner = zip_bytes({"deep.csv": b"x\n1\n"})
    root = make_task(tmp_path / "task", {"outer.zip": zip_bytes({"outer/inner.zip": inner, "outer/a.txt": b"a"})})
    task = resolve_task(str(root), cache_dir=tmp_path / "cache")
    assert (task.public_dir / "outer" / "inner.zip").read_bytes() == inner
    assert "still packed: `outer/inner.zip`" in task.data_notes


@pytest.mark.parametrize("member", ["../escape.txt", "/abs/escape.txt", "ok/../../escape.txt"])
def test_zip_members_outside_the_folder_are_refused_and_nothing_is_written_outside(tmp_path: Path,
                                                                                  member: str) -> None:
    info = zipfile.ZipInfo(member)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as handle:
        handle.writestr("fine.txt", b"fine")
        handle.writestr(info, b"gotcha")
    root = make_task(tmp_path / "task", {"evil.zip": buffer.getvalue()})
    cache = tmp_path / "cache"
    with pytest.raises(TaskError) as caught:
        resolve_task(str(root), cache_dir=cache)
    assert "would be written outside its folder" in caught.value.message and member in caught.value.message
    assert not list(tmp_path.rglob("escape.txt"))
    assert not any(p.name.startswith("zipped-") for p in (cache / "unpacked").iterdir())  # no view was kept


def test_tar_links_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as handle:
        link = tarfile.TarInfo("answers.csv")
        link.type = tarfile.SYMTYPE
        link.linkname = "../../private/answers.csv"
        handle.addfile(link)
    root = make_task(tmp_path / "task", {"data.tar": buffer.getvalue()})
    with pytest.raises(TaskError) as caught:
        unpack_public_dir(root / "public", tmp_path / "cache", "zipped")
    assert "holds a link" in caught.value.message


def test_corrupt_archive_is_a_task_error_naming_it(tmp_path: Path) -> None:
    good = zip_bytes({"train/a.csv": b"x" * 5000})
    broken = good[:40] + b"\x00" * 200 + good[240:]
    root = make_task(tmp_path / "task", {"train.zip": broken, "notzip.zip": b"this is not a zip file"})
    with pytest.raises(TaskError) as caught:
        resolve_task(str(root), cache_dir=tmp_path / "cache")
    assert caught.value.message.startswith("cannot unpack the archive ")
    assert "prepare the competition again" in (caught.value.hint or "")


def test_seven_zip_is_unpacked_with_py7zr(tmp_path: Path) -> None:
    py7zr: Any = import_or_skip("py7zr", "py7zr", "py7zr is an optional extra (MLE-bench installs it)")
    source = tmp_path / "src"
    (source / "images").mkdir(parents=True)
    (source / "images" / "x.png").write_bytes(b"png")
    archive = tmp_path / "images.7z"
    with py7zr.SevenZipFile(archive, "w") as handle:
        handle.writeall(source / "images", "images")
    root = make_task(tmp_path / "task", {"images.7z": archive.read_bytes()})
    task = resolve_task(str(root), cache_dir=tmp_path / "cache")
    assert (task.public_dir / "images" / "x.png").read_bytes() == b"png"
    assert "`images.7z` has been unpacked for you" in task.data_notes


def test_seven_zip_without_py7zr_names_the_extra(tmp_path: Path) -> None:
    """In a process where py7zr cannot be imported (a None entry in sys.modules), the CLI says what to install."""
    root = make_task(tmp_path / "task", {"images.7z": b"7z\xbc\xaf\x27\x1c" + b"\x00" * 40})
    code = ("import sys; sys.modules['py7zr'] = None; from aira_dsl.cli import main; "
            f"main(['tasks', 'show', {str(root)!r}, '--cache-dir', {str(tmp_path / 'cache')!r}])")
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("AIRA_DSL_DEBUG", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "needs the 'archives' extra of aira-dsl (the py7zr package), which is not installed" in done.stderr
    assert "pip install 'aira-dsl[archives]'" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 5
