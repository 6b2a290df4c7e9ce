"""Submission checks: every failure reason, tolerated quirks, and a 50 MB file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from aira_dsl.tasks import check_submission, grade_submission, load_task_file
from aira_dsl.tasks.csvread import format_bytes

ANSWERS = "id,y\na,1\nb,0\nc,1\n"


def submit(tmp_path: Path, content: str | bytes, name: str = "sub.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture
def accuracy_task(make_task):
    return load_task_file(make_task())


@pytest.fixture
def auc_task(make_task):
    return load_task_file(make_task(metric="roc_auc"))


def verdict(task, path):
    check = check_submission(task, path)
    report = grade_submission(task, path)
    # An invalid submission is never scored, and grading agrees with checking.
    assert report.valid_submission == check.valid
    if not check.valid:
        assert report.score is None and report.reason == check.reason and not report.any_medal
    return check


def test_valid_submission_scores(accuracy_task, tmp_path) -> None:
    path = submit(tmp_path, "id,y\nc,1\na,1\nb,1\n")  # any row order
    check = verdict(accuracy_task, path)
    assert check.valid and check.reason is None
    assert grade_submission(accuracy_task, path).score == pytest.approx(2 / 3)


@pytest.mark.parametrize(("content", "code", "fragment"), [
    (b"", "empty-file", "empty (0 bytes)"),
    (b"\x00\x01\x02binary", "binary-file", "binary data"),
    (b"id,y\na,\xe9\n", "not-utf8", "not valid UTF-8 (byte 0xe9 on line 2)"),
    ("id,y\na,1\n".encode("utf-16"), "not-utf8", "UTF-16"),
    ("\nid,y\na,1\n", "no-header", "no header"),
    ("id,y,\na,1,\nb,0,\nc,1,\n", "unnamed-column", "column 3 has no name (a trailing comma"),
    ("id,y,y\na,1,1\n", "duplicate-columns", "the column 'y' more than once"),
    ("id,y\na,1\nb,0,7\nc,1\n", "parse-error", "Expected 2 fields in line 3, saw 3"),
    ("id,y\na,1\nb\nc,1\n", "missing-values", "column 'y' is empty on line 3 (id 'b')"),
    ("id,target\na,1\nb,0\nc,1\n", "missing-columns", "lacks the column(s) 'y'; expected exactly id, y"),
    ("id,Y\na,1\nb,0\nc,1\n", "missing-columns", "names are case-sensitive: found 'Y' for 'y'"),
    ("id,y,extra\na,1,0\nb,0,0\nc,1,0\n", "extra-columns", "column(s) the sample does not: 'extra'"),
    ("id,y\n", "no-rows", "a header but no rows; expected 3"),
    ("id,y\na,1\n,0\nc,1\n", "empty-id", "line 3 has an empty id"),
    ("id,y\na,1\nb,0\na,1\nc,1\n", "duplicate-ids", "id 'a' appears on lines 2 and 4"),
    ("id,y\na,1\nc,1\n", "missing-ids", "lacks 1 of the 3 expected ids: 'b'"),
    ("id,y\na,1\nb,0\nc,1\nzz,1\n", "extra-ids", "1 id(s) that are not in the test set: 'zz'"),
    ("id,y\na,1\nb,\nc,1\n", "missing-values", "column 'y' is empty on line 3 (id 'b')"),
    ("id,y\na,1\nb,zero\nc,1\n", "wrong-type", "holds numeric class labels in this task; line 3 (id 'b') has 'zero'"),
])
def test_each_failure_has_a_precise_reason(accuracy_task, tmp_path, content, code, fragment) -> None:
    check = verdict(accuracy_task, submit(tmp_path, content))
    assert not check.valid
    assert check.code == code
    assert fragment in (check.reason or "")


def test_missing_file_and_directory(accuracy_task, tmp_path) -> None:
    check = verdict(accuracy_task, tmp_path / "nope.csv")
    assert (check.code, check.reason) == ("missing-file", f"submission file not found: {tmp_path / 'nope.csv'}")
    assert not grade_submission(accuracy_task, tmp_path / "nope.csv").submission_exists
    check = verdict(accuracy_task, tmp_path)
    assert check.code == "not-a-file" and "is a directory" in (check.reason or "")


def test_numeric_ids_are_compared_as_text_with_a_hint(make_task, tmp_path) -> None:
    task = load_task_file(make_task(answers="id,y\n1,1\n2,0\n"))
    check = verdict(task, submit(tmp_path, "id,y\n1.0,1\n2.0,0\n"))
    assert check.code == "missing-ids"
    assert "ids are compared as text, e.g. the answers have '1' and the submission has '1.0'" in (check.reason or "")


@pytest.mark.parametrize(("value", "code", "fragment"), [
    ("1.5", "out-of-range", "probabilities in [0, 1] (roc_auc); line 3 (id 'b') has 1.5"),
    ("-0.1", "out-of-range", "has -0.1"),
    ("nan", "nan-values", "has NaN on line 3 (id 'b')"),
    ("NaN", "nan-values", "NaN"),
    ("inf", "infinite-values", "infinite value on line 3"),
    ("-Infinity", "infinite-values", "infinite value"),
    ("0.5abc", "wrong-type", "must hold numbers; line 3 (id 'b') has '0.5abc'"),
    ("", "missing-values", "is empty on line 3"),
])
def test_probability_values(auc_task, tmp_path, value, code, fragment) -> None:
    check = verdict(auc_task, submit(tmp_path, f"id,y\na,0.9\nb,{value}\nc,0.8\n"))
    assert (check.code, fragment in (check.reason or "")) == (code, True), check.reason


def test_counts_more_offending_rows(auc_task, tmp_path) -> None:
    check = verdict(auc_task, submit(tmp_path, "id,y\na,2\nb,3\nc,0.8\n"))
    assert "(1 more row(s) like it)" in (check.reason or "")


def test_rmsle_needs_non_negative_values(make_task, tmp_path) -> None:
    task = load_task_file(make_task(metric="rmsle", answers="id,y\na,1.5\nb,0\n"))
    check = verdict(task, submit(tmp_path, "id,y\na,1\nb,-2\n"))
    assert check.code == "out-of-range" and "must be >= 0 for rmsle" in (check.reason or "")


def test_kappa_needs_whole_numbers(make_task, tmp_path) -> None:
    task = load_task_file(make_task(metric="qwk", answers="id,y\na,1\nb,2\n"))
    check = verdict(task, submit(tmp_path, "id,y\na,1\nb,2.5\n"))
    assert check.code == "wrong-type" and "whole numbers for quadratic_weighted_kappa" in (check.reason or "")
    assert verdict(task, submit(tmp_path, "id,y\na,1.0\nb,2\n", "ok.csv")).valid


def test_text_labels_are_scored_when_they_are_classes(make_task, tmp_path) -> None:
    task = load_task_file(make_task(answers="id,y\na,cat\nb,dog\n"))
    path = submit(tmp_path, "id,y\na,cat\nb,cat\n")
    assert verdict(task, path).valid
    assert grade_submission(task, path).score == pytest.approx(0.5)


@pytest.mark.parametrize(("answers", "predicted", "shown"), [
    ("id,y\na,cat\nb,dog\n", "bird", "'bird'"),
    ("id,y\na,cat\nb,dog\n", "nan", "'nan'"),  # red-team: `nan` graded as a valid (wrong) label
    ("id,y\na,1\nb,0\n", "7", "7"),
])
def test_labels_outside_the_answers_classes_make_the_submission_invalid(make_task, tmp_path, answers, predicted,
                                                                        shown) -> None:
    task = load_task_file(make_task(answers=answers))
    path = submit(tmp_path, f"id,y\na,{predicted}\nb,{predicted}\n")
    check = verdict(task, path)
    assert not check.valid and check.code == "unknown-label"
    assert check.reason == (f"submission column 'y' holds {shown} on line 2 (id 'a'), which is not one of this "
                            "task's 2 classes (1 more row(s) like it)")
    assert grade_submission(task, path).score is None


CLEAN = "id,y\na,0.9\nb,0.2\nc,0.7\n"


@pytest.mark.parametrize(("content", "note"), [
    ("\ufeff" + CLEAN, "byte-order mark"),
    ('"id","y"\n"a","0.9"\n"b","0.2"\n"c","0.7"\n', None),
    (" id , y \na , 0.9\nb,0.2 \n c ,0.7\n", "surrounding spaces"),
    (CLEAN.replace("\n", "\r\n"), None),
    ("y,id\n0.9,a\n0.2,b\n0.7,c\n", "different order"),
])
def test_tolerated_quirks_score_like_the_clean_file(auc_task, tmp_path, content, note) -> None:
    clean = grade_submission(auc_task, submit(tmp_path, CLEAN, "clean.csv"))
    quirky = submit(tmp_path, content.encode("utf-8"))
    check = verdict(auc_task, quirky)
    assert check.valid, check.reason
    assert grade_submission(auc_task, quirky).score == clean.score
    if note:
        assert any(note in n for n in check.notes)


def _write_big(path: Path, size: int) -> None:
    block = "".join(f"X{i:09d},1\n" for i in range(100_000))
    with path.open("w", encoding="utf-8") as handle:
        handle.write("id,y\n")
        written = 5
        while written < size:
            handle.write(block)
            written += len(block)


def test_fifty_megabyte_submission_is_refused_unread(accuracy_task, tmp_path) -> None:
    path = tmp_path / "big.csv"
    _write_big(path, 50 * 1024 * 1024)
    started = time.perf_counter()
    check = verdict(accuracy_task, path)
    assert time.perf_counter() - started < 2
    assert check.code == "too-large"
    size = format_bytes(path.stat().st_size)
    assert size.startswith("5") and size.endswith(" MiB")
    assert f"is {size}, over the limit of 16.0 MiB; it was not read" in (check.reason or "")


def test_fifty_megabyte_submission_under_a_raised_limit_is_read(make_task, tmp_path) -> None:
    yaml = """
        id: tiny
        name: Tiny
        metric: accuracy
        submission: {id_column: id, target_columns: [y], max_bytes: 100000000}
    """
    task = load_task_file(make_task(yaml=yaml))
    path = tmp_path / "big.csv"
    _write_big(path, 50 * 1024 * 1024)
    started = time.perf_counter()
    check = check_submission(task, path)
    assert time.perf_counter() - started < 60
    assert check.code == "duplicate-ids"
    assert "id 'X000000000' appears on lines 2 and 100002" in (check.reason or "")
