"""Aggregation over seeds and tasks: exact rates and selection-gap tables on runs with known outcomes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from report_support import N, make_run, outcome_run

from aira_dsl.report import ReportError, build_report, collect_runs, parse_group_keys, render_report
from aira_dsl.report.aggregate import GroupReport, Report

# agent-a: t1 has 4 seeds, t2 has 2. (V/V medal, V/T medal) per seed:
A_T1 = [("bronze", "gold"), (None, "gold"), (None, None), (None, "silver")]
A_T2 = [("silver", "gold"), ("gold", "gold")]


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    root = tmp_path / "sweep"
    for task, pairs in (("t1", A_T1), ("t2", A_T2)):
        for seed, (vv, vt) in enumerate(pairs):
            outcome_run(root / "agent-a", f"{task}-{seed}", task=task, seed=seed, vv_medal=vv, vt_medal=vt)
    for seed in range(2):  # agent-b never produced a valid node
        outcome_run(root / "agent-b", f"t1-{seed}", task="t1", seed=seed, vv_medal=None, vt_medal=None,
                    spec="agent-b", valid=False)
    return root


def _report(root: Path, *, top_k: int = 3, by: tuple[str, ...] = ("spec",), n_boot: int = 0,
            seed: int = 0) -> Report:
    # min_runs=1: these tests check the interval arithmetic on 2-4 seeds per task; the threshold
    # that withholds such intervals by default is tested in test_report_intervals.py.
    runs, skipped = collect_runs([root], top_k=top_k)
    return build_report(runs, by=by, n_boot=n_boot, seed=seed, top_k=top_k, skipped=skipped, min_runs=1)


def _group(report: Report, spec: str) -> GroupReport:
    return next(g for g in report.groups if g.key.get("spec") == spec)


def test_gap_table_is_exact(sweep: Path) -> None:
    report = _report(sweep, n_boot=200)
    a = _group(report, "agent-a")
    vv, vt, top = a.selections["vv"], a.selections["vt"], a.selections["top_k"]
    # Mean over tasks of per-task rates (t1 has 4 runs, t2 has 2).
    assert vv["any_medal"].value == pytest.approx((1 / 4 + 2 / 2) / 2)          # 0.625
    assert vt["any_medal"].value == pytest.approx((3 / 4 + 2 / 2) / 2)          # 0.875
    assert a.gap["any_medal"].value == pytest.approx((2 / 4 + 0 / 2) / 2)       # 0.25 = 0.875 - 0.625
    assert vv["silver_or_better"].value == pytest.approx((0 + 2 / 2) / 2)
    assert vt["silver_or_better"].value == pytest.approx((3 / 4 + 1) / 2)
    assert vv["gold"].value == pytest.approx((0 + 1 / 2) / 2)
    assert vt["gold"].value == pytest.approx((2 / 4 + 1) / 2)
    assert vv["valid_submission"].value == 1.0 and vv["above_median"].value == vv["any_medal"].value
    assert top["any_medal"].value == vt["any_medal"].value  # both nodes are in the top 3
    assert (a.runs, a.tasks, a.unknown) == (6, 2, {"vv": 0, "vt": 0, "top_k": 0})
    b = _group(report, "agent-b")
    assert b.selections["vv"]["valid_submission"].value == 0.0 and b.selections["vt"]["any_medal"].value == 0.0
    assert b.valid_nodes == 0


def test_top_1_is_the_validation_choice(sweep: Path) -> None:
    a = _group(_report(sweep, n_boot=0, top_k=1), "agent-a")
    assert a.selections["top_k"]["any_medal"].value == a.selections["vv"]["any_medal"].value


def test_intervals_contain_the_estimate_and_are_stratified(sweep: Path) -> None:
    a = _group(_report(sweep, n_boot=500, seed=7), "agent-a")
    est = a.selections["vv"]["any_medal"]
    assert est.low is not None and est.high is not None and est.value is not None
    assert est.low <= est.value <= est.high
    # t2's runs all medal, so every replicate is (t1 rate + 1) / 2 >= 0.5: stratification at work.
    assert est.low >= 0.5


def test_grouping_by_spec_and_task(sweep: Path) -> None:
    report = _report(sweep, by=("spec", "task"), n_boot=0)
    keys = [tuple(g.key.values()) for g in report.groups]
    assert keys == [("agent-a", "t1"), ("agent-a", "t2"), ("agent-b", "t1")]
    assert report.groups[0].selections["vv"]["any_medal"].value == 0.25


def test_ungraded_choice_is_left_out_and_counted(tmp_path: Path) -> None:
    make_run(tmp_path, "graded", [N(0, metric=0.9, test=0.9, medal="gold")], task="t")
    make_run(tmp_path, "ungraded", [N(0, metric=0.9, graded=False)], task="t", seed=1)
    g = _report(tmp_path, n_boot=0).groups[0]
    assert g.unknown["vv"] == 1 and g.selections["vv"]["gold"].value == 1.0
    assert g.selections["vv"]["gold"].n == 1


def test_group_keys_parse_and_reject_unknown() -> None:
    assert parse_group_keys("spec, task") == ("spec", "task")
    assert parse_group_keys("agent,plan") == ("spec", "plan_hash")
    with pytest.raises(ReportError, match="cannot group by seedz"):
        parse_group_keys("spec,seedz")


def test_renderings_carry_the_same_numbers(sweep: Path) -> None:
    report = _report(sweep, n_boot=100)
    text = render_report(report, "text", wide=True)
    assert "Selection gap" in text and "62.5 [" in text and "+25.0 [" in text
    compact = render_report(report, "text")
    assert "Selection gap" not in compact and "62.5 [" in compact and "+25.0" in compact
    md = render_report(report, "markdown", wide=True)
    assert md.startswith("### Results") and "| agent-a | 6 | 2 |" in md
    rows = {r["spec"]: r for r in csv.DictReader(io.StringIO(render_report(report, "csv")))}
    assert float(rows["agent-a"]["vv_any_medal"]) == 0.625 and float(rows["agent-a"]["gap_any_medal"]) == 0.25
    assert float(rows["agent-b"]["vv_valid_submission"]) == 0.0
    data = json.loads(render_report(report, "json"))
    a = next(g for g in data["groups"] if g["key"]["spec"] == "agent-a")
    assert a["selections"]["vt"]["any_medal"]["value"] == 0.875 and len(data["runs"]) == 8
    assert data["rate"] == "mean over tasks of the per-task rate"


def test_unreadable_runs_are_skipped_with_the_reason(sweep: Path) -> None:
    broken = sweep / "broken"
    broken.mkdir()
    (broken / "journal.sqlite").write_bytes(b"garbage" * 200)
    report = _report(sweep, n_boot=0)
    assert [Path(s.path).name for s in report.skipped] == ["broken"]
    assert "skipped" in render_report(report, "text")
