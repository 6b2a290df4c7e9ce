"""A task's paths stay inside the allowed roots, its public folder holds no link to the answers,
and nothing of a file outside (or of the answers) is ever quoted.

Regression tests for the red-team findings on tasks: ``description: /etc/passwd`` validated with
0 errors; ``private_dir: /etc`` with ``answers: shadow`` printed a line of ``/etc/shadow``;
public folders holding symbolic or hard links to the answers were accepted (the data preview
showed the test labels' distribution; the agent read the hard link and scored 1.0).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from tests_support import run_cli  # type: ignore[import-not-found]

from aira_dsl.roots import ENV_VAR, OUTSIDE_CODE
from aira_dsl.tasks import TaskError, check_task_dir, data_preview, load_task_file
from aira_dsl.tasks.links import public_link_problems

SECRET = "SECRET-ROOT-LINE-31337"


@pytest.fixture(autouse=True)
def _no_extra_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the task (outside its roots) holding a 'secret' that looks like answers."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "shadow").write_text(f"{SECRET}:$6$salt$hash:20228:0:99999:7:::\n")
    (folder / "passwd").write_text(f"{SECRET}:x:0:0:root:/root:/bin/bash\n")
    return folder


def codes(root: Path) -> list[tuple[str, int | None]]:
    return [(d.code, d.line) for d in check_task_dir(root) if d.is_error]


def everything_said(root: Path) -> str:
    return " ".join(f"{d.message} {d.hint}" for d in check_task_dir(root))


def with_yaml(make_task, extra: str) -> Path:  # type: ignore[no-untyped-def]
    root: Path = make_task()
    path = root / "task.yaml"
    path.write_text(path.read_text() + extra)
    return root


# --------------------------------------------------------------------------------------------
# Paths


def test_description_etc_passwd_is_a_positioned_error(make_task) -> None:  # type: ignore[no-untyped-def]
    root = with_yaml(make_task, "description: /etc/passwd\n")
    assert codes(root) == [(OUTSIDE_CODE, 8)]
    with pytest.raises(TaskError, match="outside the allowed roots"):
        load_task_file(root)


def test_private_dir_outside_never_quotes_the_file(make_task, outside: Path) -> None:  # type: ignore[no-untyped-def]
    root = with_yaml(make_task, f"private_dir: {outside}\nanswers: shadow\n")
    assert codes(root) == [(OUTSIDE_CODE, 8)]
    assert SECRET not in everything_said(root)
    result = run_cli("validate", str(root))
    assert result.returncode == 1 and OUTSIDE_CODE in result.stdout
    assert SECRET not in result.stdout + result.stderr


def test_etc_as_private_dir_is_refused(make_task) -> None:  # type: ignore[no-untyped-def]
    root = with_yaml(make_task, "private_dir: /etc\nanswers: shadow\n")
    assert codes(root) == [(OUTSIDE_CODE, 8)]
    result = run_cli("validate", str(root))
    assert "root:" not in result.stdout + result.stderr


def test_even_an_allowed_private_folder_is_never_quoted(make_task, outside: Path,  # type: ignore[no-untyped-def]
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(outside))
    root = with_yaml(make_task, f"private_dir: {outside}\nanswers: shadow\n")
    assert [code for code, _ in codes(root)] == ["answers-columns"]  # the header is no id/y
    assert SECRET not in everything_said(root)


@pytest.mark.parametrize(("key", "value", "line"), [
    ("public_dir", "../outside", 8), ("answers", "../../outside/shadow", 8),
    ("leaderboard", "../outside/passwd", 8),
])
def test_every_task_path_is_confined(make_task, outside: Path, key: str, value: str,  # type: ignore[no-untyped-def]
                                     line: int) -> None:
    root = with_yaml(make_task, f"{key}: {value}\n")
    assert (OUTSIDE_CODE, line) in codes(root)
    assert SECRET not in everything_said(root)


def test_sample_and_description_may_not_be_private_files(make_task) -> None:  # type: ignore[no-untyped-def]
    root = make_task()
    path = root / "task.yaml"
    path.write_text(path.read_text().replace("submission:\n", "description: private/answers.csv\nsubmission:\n"
                                             "  sample: ../private/answers.csv\n"))
    assert sorted(code for code, _ in codes(root)) == ["private-file-shown", "private-file-shown"]


def test_a_task_inside_a_project_may_use_shared_folders(make_task, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_task()
    shared = tmp_path / "shared-descriptions"
    shared.mkdir()
    (shared / "tiny.md").write_text("# Tiny\n")
    path = root / "task.yaml"
    path.write_text(path.read_text() + "description: ../shared-descriptions/tiny.md\n")
    assert codes(root) == [(OUTSIDE_CODE, 8)]
    (tmp_path / ".git").mkdir()  # the folder above is a project: its files are in reach
    assert codes(root) == []


# --------------------------------------------------------------------------------------------
# Links from the public folder


def linked_task(make_task, kind: str) -> Path:  # type: ignore[no-untyped-def]
    root: Path = make_task()
    answers = root / "private" / "answers.csv"
    target = root / "public" / "test_labels.csv"
    if kind == "symlink":
        target.symlink_to(os.path.relpath(answers, target.parent))
    elif kind == "hardlink":
        os.link(answers, target)
    elif kind == "folder":
        (root / "public" / "more").symlink_to(root)  # a folder above the answers
    elif kind == "outside":
        (root / "public" / "keys").symlink_to("/etc/passwd")
    return root


@pytest.mark.parametrize(("kind", "needle"), [
    ("symlink", "test_labels.csv is a symbolic link into the private folder (answers.csv)"),
    ("hardlink", "test_labels.csv is a hard link to the private file answers.csv"),
    ("folder", "more is a symbolic link to"),
    ("outside", "keys is a symbolic link to /etc/passwd, outside the allowed roots"),
])
def test_public_links_to_what_the_agent_must_not_see_are_errors(make_task, kind: str,  # type: ignore[no-untyped-def]
                                                                needle: str) -> None:
    root = linked_task(make_task, kind)
    [diag] = [d for d in check_task_dir(root) if d.is_error]
    assert diag.code == "public-links" and needle in diag.message
    assert diag.file == str(root / "task.yaml") and diag.line is not None
    with pytest.raises(TaskError, match="public_dir holds link"):
        load_task_file(root)


def test_run_and_grade_refuse_a_linked_task_with_exit_2(make_task, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = linked_task(make_task, "hardlink")
    env = {"OPENAI_API_KEY": "unused", "AIRA_DSL_CACHE": str(tmp_path / "cache")}
    ran = run_cli("run", "specs/aira-greedy.yaml", "--task", str(root), "--out", str(tmp_path / "run"),
                  "--base-url", "http://127.0.0.1:9/v1", env=env)
    assert ran.returncode == 2, ran.stderr
    assert "hard link to the private file answers.csv" in ran.stderr and "Traceback" not in ran.stderr
    assert not (tmp_path / "run" / "journal.sqlite").exists()  # refused before the run
    graded = run_cli("grade", "--task", str(root), str(root / "public" / "sample_submission.csv"), env=env)
    assert graded.returncode == 2 and "public_dir holds link" in graded.stderr


def test_a_clean_public_folder_has_no_problems_even_with_private_hard_links(make_task) -> None:  # type: ignore[no-untyped-def]
    root = make_task()
    os.link(root / "private" / "answers.csv", root / "private" / "backup.csv")  # private-only second name
    (root / "public" / "alias.csv").symlink_to("sample_submission.csv")  # a public link to a public file
    assert public_link_problems(root / "public", root / "private") == []
    assert codes(root) == []


def test_the_preview_never_follows_a_symlink(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir()
    (private / "answers.csv").write_text("id,target\n" + "".join(f"{i},SECRETCLASS{i % 3}\n" for i in range(30)))
    public = tmp_path / "public"
    public.mkdir()
    (public / "train.csv").write_text("id,x\n1,2\n")
    (public / "test_labels.csv").symlink_to(private / "answers.csv")
    (public / "answers_dir").symlink_to(private, target_is_directory=True)
    text = data_preview(public)
    assert "SECRETCLASS" not in text and "target" not in text
    assert "test_labels.csv -> (link, not followed)" in text and "answers_dir -> (link, not followed)" in text
    assert "Data in ./data/: 1 files" in text


@pytest.mark.skipif(sys.platform != "linux", reason="inode semantics checked on Linux")
def test_link_check_stays_cheap_on_a_big_public_folder(tmp_path: Path) -> None:
    import time

    public, private = tmp_path / "public", tmp_path / "private"
    (public / "images").mkdir(parents=True)
    private.mkdir()
    (private / "answers.csv").write_text("id,y\n")
    os.link(private / "answers.csv", private / "copy.csv")  # forces the per-file inode comparison
    for index in range(5000):
        (public / "images" / f"{index}.png").touch()
    start = time.perf_counter()
    assert public_link_problems(public, private) == []
    assert time.perf_counter() - start < 2.0


def test_an_mlebench_competition_whose_public_folder_links_to_private_is_refused(tmp_path: Path) -> None:
    from aira_dsl.tasks import resolve_task

    from .test_task_mlebench import COMPETITION, build_competition

    data_dir = build_competition(tmp_path / "data")
    prepared = data_dir / COMPETITION / "prepared"
    os.link(prepared / "private" / "test.csv", prepared / "public" / "labels.csv")
    with pytest.raises(TaskError, match=r"labels\.csv is a hard link to the private file test\.csv"):
        resolve_task(f"mlebench:{COMPETITION}", mlebench_data_dir=data_dir, cache_dir=tmp_path / "cache")
