"""``aira-dsl view``, ``runs`` and ``report`` as real processes: outputs, exit codes, bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest
from report_support import N, make_run, outcome_run
from tests_support import run_cli


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    root = tmp_path / "sweep"
    for seed, (vv, vt) in enumerate([("gold", "gold"), (None, "bronze")]):
        outcome_run(root, f"a-{seed}", task="t1", seed=seed, vv_medal=vv, vt_medal=vt)
        outcome_run(root, f"b-{seed}", task="t1", seed=seed, vv_medal=None, vt_medal=None, spec="agent-b")
    return root


def _clean(result: object) -> None:
    assert "Traceback" not in getattr(result, "stderr", "") and "internal error" not in getattr(result, "stderr", "")


def test_help_lists_the_commands_with_examples() -> None:
    top = run_cli("--help")
    assert all(name in top.stdout for name in ("view", "runs", "report"))
    for name in ("view", "runs", "report"):
        assert "Examples:" in run_cli(name, "--help").stdout


def test_view_writes_the_page_and_prints_its_path(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "r", [N(0, metric=0.5)])
    result = run_cli("view", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(run_dir / "report.html") and (run_dir / "report.html").is_file()
    out = tmp_path / "elsewhere.html"
    assert run_cli("view", str(run_dir), "-o", str(out)).returncode == 0 and out.is_file()


def test_view_open_starts_the_browser_from_BROWSER(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "r", [N(0, metric=0.5)])
    seen = tmp_path / "opened.txt"
    browser = tmp_path / "fake-browser"
    browser.write_text(f"#!{sys.executable}\nimport sys, pathlib\npathlib.Path({str(seen)!r}).write_text(sys.argv[1])\n")
    browser.chmod(browser.stat().st_mode | stat.S_IEXEC)
    result = run_cli("view", str(run_dir), "--open", env={"BROWSER": f"{browser} %s"})
    assert result.returncode == 0, result.stderr
    for _ in range(100):  # the browser is started in the background
        if seen.exists() and seen.read_text():
            break
        time.sleep(0.05)
    assert seen.read_text() == (run_dir / "report.html").resolve().as_uri()


@pytest.mark.parametrize("case", ["missing", "plain-dir", "file", "damaged"])
def test_view_bad_input_is_exit_2_with_a_hint(tmp_path: Path, case: str) -> None:
    path = tmp_path / "x"
    if case == "plain-dir":
        path.mkdir()
    elif case == "file":
        path.write_text("hello")
    elif case == "damaged":
        path.mkdir()
        (path / "journal.sqlite").write_bytes(b"\x00garbage" * 500)
    result = run_cli("view", str(path))
    assert result.returncode == 2
    _clean(result)
    assert result.stderr.startswith("error: ") and "hint: " in result.stderr


def test_view_renders_interrupted_and_zero_valid_runs(tmp_path: Path) -> None:
    interrupted = make_run(tmp_path, "i", [N(0, metric=0.5), N(1, (0,), "improve", status="pending")],
                           status="interrupted", stop_reason="interrupted")
    zero = make_run(tmp_path, "z", [N(0, buggy=True)])
    for run_dir in (interrupted, zero):
        result = run_cli("view", str(run_dir))
        assert result.returncode == 0, result.stderr
        _clean(result)


def test_runs_lists_every_run_below_a_folder(sweep: Path) -> None:
    text = run_cli("runs", str(sweep))
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split()[:4] == ["run", "spec", "plan", "task"] and len(lines) == 2 + 4
    assert any(line.startswith("a-0 ") and "gold" in line for line in lines)
    data = json.loads(run_cli("runs", str(sweep), "--format", "json").stdout)
    assert sorted(r["run_id"] for r in data) == ["a-0", "a-1", "b-0", "b-1"]
    first = next(r for r in data if r["run_id"] == "a-0")
    assert (first["medal"], first["best_validation"], first["steps"], first["best_test"]) == ("gold", 0.9, 2, 0.7)
    rows = list(csv.DictReader(io.StringIO(run_cli("runs", str(sweep), "--format", "csv").stdout)))
    assert len(rows) == 4 and rows[0]["spec"] in ("agent-a", "agent-b")


def test_runs_defaults_to_the_current_folder(sweep: Path) -> None:
    result = run_cli("runs", cwd=sweep)
    assert result.returncode == 0 and "a-1" in result.stdout


def test_runs_exit_codes_for_empty_and_missing_folders(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    empty = run_cli("runs", str(tmp_path / "empty"))
    assert empty.returncode == 1 and "no runs under" in empty.stderr
    assert json.loads(run_cli("runs", str(tmp_path / "empty"), "--format", "json").stdout) == []
    missing = run_cli("runs", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    _clean(missing)


def test_report_formats(sweep: Path) -> None:
    text = run_cli("report", str(sweep), "--bootstrap", "200")
    assert text.returncode == 0, text.stderr
    assert "Submitted node (V/V)" in text.stdout and "agent-b" in text.stdout
    wide = run_cli("report", str(sweep), "--bootstrap", "200", "--wide")
    assert "Results of the validation-selected final node" in wide.stdout and "Selection gap" in wide.stdout
    md = run_cli("report", str(sweep), "--format", "markdown", "--bootstrap", "0")
    assert "| spec | runs | tasks |" in md.stdout
    data = json.loads(run_cli("report", str(sweep), "--format", "json", "--seed", "3", "--top-k", "1").stdout)
    a = next(g for g in data["groups"] if g["key"]["spec"] == "agent-a")
    assert a["selections"]["vv"]["any_medal"]["value"] == 0.5 and a["selections"]["vt"]["any_medal"]["value"] == 1.0
    assert a["selections"]["top_k"]["any_medal"]["value"] == 0.5 and data["seed"] == 3 and data["top_k"] == 1
    rows = list(csv.DictReader(io.StringIO(run_cli("report", str(sweep), "--format", "csv", "--by",
                                                   "spec,task").stdout)))
    assert [(r["spec"], r["task"]) for r in rows] == [("agent-a", "t1"), ("agent-b", "t1")]


def test_report_accepts_several_paths_and_dedupes(sweep: Path) -> None:
    data = json.loads(run_cli("report", str(sweep), str(sweep / "a-0"), "--format", "json",
                              "--bootstrap", "0").stdout)
    assert len(data["runs"]) == 4


def test_report_bad_input(tmp_path: Path, sweep: Path) -> None:
    (tmp_path / "nothing").mkdir()
    for args in (["report", str(tmp_path / "nothing")], ["report", str(tmp_path / "missing")],
                 ["report", str(sweep), "--by", "color"]):
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        _clean(result)
        assert "hint: " in result.stderr
    assert run_cli("report").returncode == 2  # no path: click's usage error


def test_report_exit_1_when_no_run_has_a_finished_node(tmp_path: Path) -> None:
    make_run(tmp_path, "only-pending", [N(0, status="pending")], status="interrupted")
    result = run_cli("report", str(tmp_path))
    assert result.returncode == 1 and "nothing to report" in result.stderr
    _clean(result)


def test_report_plots_need_matplotlib_and_say_how_to_get_it(tmp_path: Path, sweep: Path) -> None:
    # A matplotlib that fails to import, first on the path: what a user without the extra sees.
    shadow = tmp_path / "shadow" / "matplotlib"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(shadow.parent), os.environ.get("PYTHONPATH", "")])}
    result = run_cli("report", str(sweep), "--plots", str(tmp_path / "figs"), env=env)
    assert result.returncode == 2 and "pip install 'aira-dsl[plots]'" in result.stderr
    assert result.stdout == ""  # failed before printing a report
    _clean(result)
