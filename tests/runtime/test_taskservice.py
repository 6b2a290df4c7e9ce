"""The grading helper (aira_dsl/runtime/taskservice.py) on a real bundled task.

The engine checks every submission and then grades the valid ones; the helper keeps what the
check parsed so the grade does not read the CSV again. These tests hold that shortcut to the
answers the full path gives, and show it never serves a file that changed in between.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

from aira_dsl.runtime import taskservice
from aira_dsl.runtime.taskservice import TaskService
from aira_dsl.tasks import grade_submission, resolve_task


def submission(sample: Path, target: Path, label: str | None) -> Path:
    """The sample submission with every species set to ``label`` (None: kept as it is)."""
    with sample.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    body = rows[1:] if label is None else [[row[0], label] for row in rows[1:]]
    with target.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([rows[0], *body])
    return target


@pytest.fixture(scope="module")
def penguins_sample() -> Path:
    return Path(resolve_task("penguins").submission.sample)


@pytest.mark.parametrize("in_process", [False, True], ids=["helper-process", "in-process"])
def test_check_then_grade_equals_a_fresh_grade(tmp_path: Path, penguins_sample: Path, in_process: bool) -> None:
    service = TaskService("penguins", in_process=in_process)
    task = resolve_task("penguins")
    try:
        for label in (None, "Gentoo", "Chinstrap"):
            path = submission(penguins_sample, tmp_path / f"{label}.csv", label)
            assert service.check(path).valid
            graded = service.grade(path)
            fresh = grade_submission(task, path)
            assert graded.test_score == fresh.score and graded.test_score is not None
            assert graded.valid_submission and graded.report == {**fresh.to_dict(),
                                                                 "created_at": graded.report["created_at"]}
        scores = {service.grade(submission(penguins_sample, tmp_path / f"again-{label}.csv", label)).test_score
                  for label in ("Adelie", "Gentoo", "Chinstrap")}
        assert len(scores) == 3  # the three labels really score differently: the comparison above can fail
    finally:
        service.close()
    if in_process:
        assert not taskservice._PREPARED  # every checked submission was graded: nothing kept


def test_a_file_changed_between_check_and_grade_is_read_again(tmp_path: Path, penguins_sample: Path) -> None:
    service = TaskService("penguins", in_process=True)
    task = resolve_task("penguins")
    try:
        path = submission(penguins_sample, tmp_path / "sub.csv", "Gentoo")
        assert service.check(path).valid
        before = grade_submission(task, path).score
        replacement = submission(penguins_sample, tmp_path / "other.csv", "Chinstrap")
        shutil.copyfile(replacement, path)
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        graded = service.grade(path)
        assert graded.test_score == grade_submission(task, replacement).score != before
    finally:
        service.close()
        taskservice._PREPARED.clear()


def test_the_kept_parses_are_bounded(tmp_path: Path, penguins_sample: Path) -> None:
    """Checked submissions that are never graded do not accumulate."""
    service = TaskService("penguins", in_process=True)
    try:
        for i in range(taskservice._PREPARED_MAX + 5):
            assert service.check(submission(penguins_sample, tmp_path / f"{i}.csv", None)).valid
        assert len(taskservice._PREPARED) == taskservice._PREPARED_MAX
    finally:
        service.close()
        taskservice._PREPARED.clear()
