"""``load_run(path).to_pandas()``: the documented columns, the values the journal holds, empty runs."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from report_support import N, make_run
from tests_support import REPO

from aira_dsl.report import load_run
from aira_dsl.report.frames import CALL_COLUMNS, EXECUTION_COLUMNS, NODE_COLUMNS


def test_frames_hold_the_runs_nodes_calls_and_executions(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "r", [
        N(0, metric=0.8, test=0.75, medal="bronze", above_median=True, calls=[("draft", 100, 20, 0.01)]),
        N(1, (0,), "improve", metric=0.9, test=0.7, calls=[("improve", 200, 30, 0.02), ("analyze", 50, 5, 0.001)]),
        N(2, (1,), "improve", buggy=True, output="Traceback\n"),
        N(3, (1,), "debug", status="pending"),
    ])
    frames = load_run(run_dir).to_pandas()
    nodes, calls, executions = frames.nodes, frames.calls, frames.executions
    assert tuple(nodes.columns) == NODE_COLUMNS and tuple(calls.columns) == CALL_COLUMNS
    assert tuple(executions.columns) == EXECUTION_COLUMNS

    assert list(nodes["node_id"]) == [0, 1, 2, 3]
    assert list(nodes["outcome"]) == ["valid", "valid", "buggy", "pending"]
    assert list(nodes["submitted"]) == [False, True, False, False]  # best validation: node 1
    assert nodes.loc[0, "medal"] == "bronze" and nodes.loc[1, "test_score"] == 0.7
    assert nodes.loc[1, "parent_ids"] == [0] and nodes.loc[1, "calls"] == 2
    assert nodes.loc[1, "cost_usd"] == pytest.approx(0.021) and nodes.loc[1, "prompt_tokens"] == 250
    # "Not recorded" stays missing, never zero: a pending node has no metric, buggy flag or grade.
    assert pd.isna(nodes.loc[3, "metric"]) and pd.isna(nodes.loc[3, "buggy"]) and pd.isna(nodes.loc[3, "test_score"])
    assert str(nodes["buggy"].dtype) == "boolean" and str(nodes["worker"].dtype) == "Int64"
    assert nodes["metric"].mean() == (0.8 + 0.9) / 2

    assert len(calls) == 3 and list(calls["operator"]) == ["draft", "improve", "analyze"]
    assert list(calls["node_id"]) == [0, 1, 1] and calls["cost_usd"].sum() == pytest.approx(0.031)
    assert calls.groupby("node_id")["cost_usd"].sum()[1] == pytest.approx(0.021)  # agrees with the node table
    assert calls.loc[0, "messages"] == [] and calls.loc[0, "response"] == "r"

    assert list(executions["node_id"]) == [0, 1, 2]  # the pending node never ran
    assert list(executions["exit_code"]) == [0, 0, 1] and executions.loc[2, "output"] == "Traceback\n"
    assert list(executions["submission_valid"]) == [True, True, False]


def test_a_run_with_nothing_yet_has_empty_frames_with_the_columns(tmp_path: Path) -> None:
    frames = load_run(make_run(tmp_path, "empty", [])).to_pandas()
    assert frames.nodes.empty and tuple(frames.nodes.columns) == NODE_COLUMNS
    assert frames.calls.empty and tuple(frames.calls.columns) == CALL_COLUMNS
    assert frames.executions.empty and tuple(frames.executions.columns) == EXECUTION_COLUMNS
    (tmp_path / "empty" / "journal.sqlite").unlink()  # a run folder whose journal is gone
    assert load_run(tmp_path / "empty").to_pandas().calls.empty


def test_every_column_is_documented() -> None:
    text = (REPO / "docs" / "reports.md").read_text(encoding="utf-8")
    for name, columns in (("nodes", NODE_COLUMNS), ("calls", CALL_COLUMNS), ("executions", EXECUTION_COLUMNS)):
        section = re.search(rf"^\| `{name}` \|(.+)$", text, re.MULTILINE)
        assert section, f"docs/reports.md has no row for the {name} frame"
        documented = re.findall(r"`(\w+)`", section.group(1))
        assert tuple(documented) == columns, name
