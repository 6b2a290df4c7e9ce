"""`aira-dsl grade` and `aira-dsl tasks ...` as real subprocesses: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_grade_valid_sample_text_and_json(bundled_cache: Path, cli) -> None:
    sample = bundled_cache / "penguins" / "public" / "sample_submission.csv"
    done = cli("grade", "--task", "penguins", str(sample), "--cache-dir", str(bundled_cache))
    assert done.returncode == 0, done.stderr
    assert "valid:        yes" in done.stdout and "medal:        none (reference thresholds, not Kaggle medals)" in done.stdout
    done = cli("grade", "--task", "penguins", str(sample), "--format", "json", env={"AIRA_DSL_CACHE": str(bundled_cache)})
    assert done.returncode == 0
    report = json.loads(done.stdout)
    for key in ("score", "gold_threshold", "silver_threshold", "bronze_threshold", "median_threshold", "gold_medal",
                "silver_medal", "bronze_medal", "any_medal", "above_median", "valid_submission", "is_lower_better",
                "reason", "submission_exists", "competition_id"):
        assert key in report
    assert report["valid_submission"] is True and report["any_medal"] is False and report["is_lower_better"] is False


def test_grade_invalid_submission_exits_1(bundled_cache: Path, cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,malignant\nT0001,1.7\n", encoding="utf-8")
    done = cli("grade", "--task", "breast-cancer", str(bad), "--cache-dir", str(bundled_cache), "--format", "json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["valid_submission"] is False and report["score"] is None
    assert report["reason"].startswith("submission lacks 170 of the 171 expected ids")
    done = cli("grade", "--task", "diabetes", str(tmp_path / "missing.csv"), "--cache-dir", str(bundled_cache))
    assert done.returncode == 1 and "valid:        no: submission file not found" in done.stdout


def test_grade_errors_exit_2_without_traceback(make_task, cli, tmp_path: Path) -> None:
    sub = tmp_path / "s.csv"
    sub.write_text("id,y\na,1\n", encoding="utf-8")
    done = cli("grade", "--task", "nonexistent-task", str(sub), "--cache-dir", str(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "error: no task 'nonexistent-task'" in done.stderr
    root = make_task(yaml="id: tiny\nname: [broken\n")
    done = cli("grade", "--task", str(root), str(sub))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "invalid YAML" in done.stderr and "aira-dsl validate" in done.stderr
    done = cli("grade", "--task", str(root), str(sub), "--format", "json")
    assert done.returncode == 2 and json.loads(done.stdout)["error"].startswith("the task at")
    done = cli("grade", "--task", "mlebench:spaceship-titanic", str(sub), "--mlebench-data-dir", str(tmp_path))
    assert done.returncode == 2 and "is not prepared" in done.stderr and "Traceback" not in done.stderr
    done = cli("grade", str(sub))
    assert done.returncode == 2 and "Missing option '--task'" in done.stderr


def test_tasks_list_and_prepare(cli, tmp_path: Path) -> None:
    done = cli("tasks", "list", "--format", "json", "--cache-dir", str(tmp_path))
    assert done.returncode == 0
    rows = json.loads(done.stdout)
    assert [r["id"] for r in rows] == ["penguins", "breast-cancer", "diabetes", "digits"]
    assert not any(r["prepared"] for r in rows)
    done = cli("tasks", "prepare", "penguins", "--cache-dir", str(tmp_path))
    assert done.returncode == 0 and done.stdout.strip() == f"penguins: {tmp_path / 'penguins'}"
    done = cli("tasks", "list", "--cache-dir", str(tmp_path))
    assert done.returncode == 0 and "penguins" in done.stdout and " prepared " in done.stdout
    done = cli("tasks", "prepare", "penguin", "--cache-dir", str(tmp_path))
    assert done.returncode == 2 and "did you mean 'penguins'?" in done.stderr


def test_tasks_list_has_a_header(cli, tmp_path: Path) -> None:
    """Issue 16: `tasks list` printed rows without saying what the columns are."""
    done = cli("tasks", "list", "--cache-dir", str(tmp_path))
    assert done.returncode == 0
    header, first, *_ = done.stdout.splitlines()
    assert header.split() == ["ID", "KIND", "METRIC", "STATUS", "NAME"]
    assert first.startswith("penguins ")
    for column in ("KIND", "METRIC", "STATUS", "NAME"):  # each heading sits over its column
        assert first[header.index(column) - 2:header.index(column)] == "  "


def test_tasks_show_and_preview(bundled_cache: Path, cli) -> None:
    done = cli("tasks", "show", "diabetes", "--format", "json", "--cache-dir", str(bundled_cache))
    info = json.loads(done.stdout)
    assert (info["metric"], info["direction"], info["thresholds"]["kind"]) == ("rmse", "minimize", "reference")
    done = cli("tasks", "preview", "digits", "--max-chars", "300", "--cache-dir", str(bundled_cache))
    assert done.returncode == 0 and len(done.stdout.rstrip("\n")) <= 300


def test_validate_recognises_task_dirs(make_task, cli) -> None:
    good = make_task()
    assert cli("validate", str(good)).returncode == 0
    bad = make_task(metric="acuracy")
    done = cli("validate", str(bad / "task.yaml"))
    assert done.returncode == 1 and "unknown metric 'acuracy'" in done.stdout


def test_help_has_examples(cli) -> None:
    for args in (("grade", "--help"), ("tasks", "--help"), ("tasks", "prepare", "--help")):
        done = cli(*args)
        assert done.returncode == 0 and "Examples:" in done.stdout


def test_concurrent_prepares_of_one_task_both_succeed(tmp_path: Path) -> None:
    import subprocess
    import sys

    command = [sys.executable, "-m", "aira_dsl", "tasks", "prepare", "penguins", "--cache-dir", str(tmp_path)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    from aira_dsl.tasks import check_task_dir

    assert check_task_dir(tmp_path / "penguins") == []
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]
