"""Reading run folders: complete runs, interrupted ones, damaged ones, and things that are not runs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from report_support import N, make_run

from aira_dsl.report import ReportError, find_runs, load_run, runs_below, summarize_run
from aira_dsl.runtime.journal import Journal


def test_nodes_are_joined_with_execution_review_grade_and_usage(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "r", [
        N(0, metric=0.8, test=0.75, medal="bronze", calls=[("draft", 100, 50, 0.01), ("analyze", 30, 5, 0.001)]),
        N(1, (0,), "improve", buggy=True, output="Traceback: boom\n", calls=[("improve", 200, 80, 0.02)]),
    ])
    run = load_run(run_dir)
    assert [n.id for n in run.nodes] == [0, 1]
    first, second = run.nodes
    assert first.valid and first.kind == "valid" and first.record.fitness == 0.8
    assert first.grade is not None and first.grade.medal == "bronze" and first.grade.test_score == 0.75
    assert first.review is not None and first.review.metric == 0.8
    assert first.usage.calls == 2 and first.usage.tokens == 185 and first.usage.cost_usd == pytest.approx(0.011)
    assert second.kind == "buggy" and second.grade is None
    assert second.execution is not None and second.execution.exit_code == 1 and "boom" in second.execution.output
    assert run.operator_usage["improve"].tokens == 280 and run.usage.calls == 3
    assert run.spec == "agent-a" and run.task_id == "t1" and run.seed == 0 and run.direction == "maximize"
    assert run.warnings == []


def test_interrupted_run_with_pending_nodes_is_readable(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "r", [N(0, metric=0.5, test=0.4), N(1, (0,), "improve", status="pending")],
                       status="interrupted", stop_reason="interrupted")
    summary = summarize_run(load_run(run_dir))
    assert summary.status == "interrupted" and summary.steps == 1 and summary.pending_nodes == 1
    assert summary.best_node == 0 and summary.best_test == 0.4


def test_journal_missing_tables_gives_warnings_not_errors(tmp_path: Path) -> None:
    run_dir = tmp_path / "early"
    run_dir.mkdir()
    conn = sqlite3.connect(run_dir / "journal.sqlite")
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO meta VALUES ('plan_hash', '\"cafe\"')")
    conn.commit()
    conn.close()
    run = load_run(run_dir)
    assert run.nodes == [] and run.plan_hash == "cafe"
    joined = " | ".join(run.warnings)
    assert "run.json is missing" in joined and "no 'nodes' table" in joined and "no 'grades' table" in joined
    summary = summarize_run(run)
    assert summary.steps == 0 and summary.vv is not None and not summary.vv.valid_submission


def test_run_json_alone_reads_as_an_empty_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "fresh"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({"spec": "s", "status": "running", "cost_usd": 1.5,
                                                  "task": {"id": "t", "direction": "minimize"}}))
    run = load_run(run_dir)
    assert run.nodes == [] and run.direction == "minimize"
    assert any("journal.sqlite is missing" in w for w in run.warnings)
    assert summarize_run(run).cost_usd == 1.5


def test_direction_is_inferred_from_fitness_orientation_without_run_json(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "r", [N(0, metric=2.0), N(1, metric=1.0)], direction="minimize",
                       write_run_json=False)
    run = load_run(run_dir)
    assert run.direction == "minimize" and run.spec == "agent-a"
    assert summarize_run(run).best_node == 1


def test_reader_sees_committed_rows_while_the_writer_is_open(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "r", [N(0, metric=0.5)], status="running")
    writer = Journal(run_dir / "journal.sqlite")
    try:
        writer.add_pending(1, parent_ids=(0,), role="improve", operator="improve", depth=1, debug_depth=0,
                           generation=None, island=None, worker=0, meta={})
        run = load_run(run_dir)
        assert [n.kind for n in run.nodes] == ["valid", "pending"]
    finally:
        writer.close()


def test_a_damaged_journal_is_a_report_error(tmp_path: Path) -> None:
    run_dir = tmp_path / "bad"
    run_dir.mkdir()
    (run_dir / "journal.sqlite").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ReportError, match="not a readable run journal"):
        load_run(run_dir)


@pytest.mark.parametrize("kind", ["missing", "file", "empty-dir"])
def test_not_a_run_dir(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "x"
    if kind == "file":
        path.write_text("hi")
    elif kind == "empty-dir":
        path.mkdir()
    with pytest.raises(ReportError) as info:
        load_run(path)
    assert info.value.hint


def test_a_folder_of_runs_is_not_a_run_but_the_hint_names_one(tmp_path: Path) -> None:
    make_run(tmp_path / "sweep", "a", [N(0, metric=1.0)])
    with pytest.raises(ReportError) as info:
        load_run(tmp_path / "sweep")
    assert "holds 1 run" in (info.value.hint or "")


def test_find_runs_walks_sweeps_without_entering_runs(tmp_path: Path) -> None:
    a = make_run(tmp_path / "sweep" / "agent-a", "s0", [N(0, metric=1.0)])
    b = make_run(tmp_path / "sweep" / "agent-b", "s0", [N(0, metric=1.0)])
    make_run(a / "nodes", "nested", [N(0, metric=1.0)])  # inside a run: never reported
    assert runs_below(tmp_path) == [a, b]
    assert find_runs([tmp_path / "sweep", a]) == [a, b]
    with pytest.raises(ReportError, match="no runs"):
        find_runs([tmp_path / "sweep" / "agent-a" / "s0" / "nodes" / "00000"])
