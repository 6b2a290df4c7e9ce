"""``report``'s honesty and shape: intervals withheld below the run threshold, mean score and cost,
the compact default table against ``--wide``, and runs on tasks without test answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from report_support import N, make_run
from tests_support import run_cli

from aira_dsl.report import MIN_RUNS, build_report, collect_runs, render_report, stratified_bootstrap
from aira_dsl.report.present import WIDTH


def _run(root: Path, spec: str, task: str, seed: int, *, medal: str | None, test: float = 0.7,
         cost: float = 0.5, **kwargs: Any) -> Path:
    node = N(0, metric=0.9, test=test, medal=medal, above_median=medal is not None,
             calls=[("draft", 1000, 100, cost)])
    return make_run(root / spec, f"{task}-{seed}", [node], spec=spec, task=task, seed=seed, **kwargs)


def test_estimate_below_the_threshold_has_a_value_but_no_interval() -> None:
    two = stratified_bootstrap({"t": [1.0, 1.0]}, n_boot=200, min_runs=MIN_RUNS)
    assert (two.value, two.low, two.high, two.too_few, two.fewest) == (1.0, None, None, True, 2)
    # The same two runs without the threshold: the zero-width "interval" the threshold prevents.
    bare = stratified_bootstrap({"t": [1.0, 1.0]}, n_boot=200)
    assert (bare.low, bare.high, bare.too_few) == (1.0, 1.0, False)
    # The smallest stratum decides: 5 runs in one task do not make up for 1 in another.
    mixed = stratified_bootstrap({"a": [1.0] * 5, "b": [0.0]}, n_boot=200, min_runs=5)
    assert mixed.too_few and mixed.fewest == 1 and mixed.value == 0.5
    enough = stratified_bootstrap({"a": [1.0, 0.0, 1.0, 1.0, 0.0]}, n_boot=200, min_runs=5)
    assert not enough.too_few and enough.low is not None and enough.to_dict()["too_few"] is False
    assert stratified_bootstrap({"a": [1.0]}, n_boot=0, min_runs=5).to_dict()["value"] == 1.0


def test_two_runs_print_na_and_a_warning_not_a_zero_width_interval(tmp_path: Path) -> None:
    for seed in range(2):
        _run(tmp_path, "agent-a", "t1", seed, medal="gold")
    text = run_cli("report", str(tmp_path))
    assert text.returncode == 0, text.stderr
    assert "100.0 [n/a]" in text.stdout and "[100.0, 100.0]" not in text.stdout and "[100, 100]" not in text.stdout
    assert "warning: agent-a: 2 run(s) in task t1, fewer than 5: intervals are n/a" in text.stdout
    md = run_cli("report", str(tmp_path), "--format", "markdown")
    assert "- **warning**: agent-a: 2 run(s) in task t1" in md.stdout
    data = run_cli("report", str(tmp_path), "--format", "json")
    assert "warning: agent-a: 2 run(s)" in data.stderr  # machine formats warn on stderr
    report = json.loads(data.stdout)
    medal = report["groups"][0]["selections"]["vv"]["any_medal"]
    assert (medal["value"], medal["low"], medal["high"], medal["too_few"]) == (1.0, None, None, True)
    assert report["min_runs"] == MIN_RUNS and len(report["warnings"]) == 1
    # A lower threshold gives the interval back (and no warning); no bootstrap, nothing to warn about.
    lowered = run_cli("report", str(tmp_path), "--min-runs", "2")
    assert "100.0 [100, 100]" in lowered.stdout and "warning" not in lowered.stdout
    assert "warning" not in run_cli("report", str(tmp_path), "--bootstrap", "0").stdout


def test_enough_runs_but_too_few_known_outcomes_also_warn(tmp_path: Path) -> None:
    # Five runs, two of whose submitted nodes were never graded: the medal rate rests on three.
    for seed in range(5):
        make_run(tmp_path, f"r{seed}", [N(0, metric=0.9, test=0.5, medal="gold", graded=seed < 3)], seed=seed)
    runs, _ = collect_runs([tmp_path])
    report = build_report(runs, n_boot=100)
    medal = report.groups[0].selections["vv"]["any_medal"]
    assert (medal.n, medal.too_few) == (3, True) and not report.groups[0].cost.too_few
    assert report.warnings == ["agent-a: some estimates have fewer than 5 known values in a task (ungraded or "
                               "unscored runs are left out): their intervals are n/a"]


def test_mean_score_and_mean_cost_columns(tmp_path: Path) -> None:
    # Task t1: test scores 0.6 and 0.8 (mean 0.7); task t2: 0.9. Mean over tasks: 0.8.
    # Costs: 0.5 and 1.5 in t1 (mean 1.0), 2.0 in t2: mean over tasks 1.5.
    _run(tmp_path, "a", "t1", 0, medal=None, test=0.6, cost=0.5)
    _run(tmp_path, "a", "t1", 1, medal=None, test=0.8, cost=1.5)
    _run(tmp_path, "a", "t2", 0, medal=None, test=0.9, cost=2.0)
    runs, _ = collect_runs([tmp_path])
    g = build_report(runs, n_boot=0).groups[0]
    assert g.score.value == pytest.approx(0.8) and g.cost.value == pytest.approx(1.5)
    assert g.validation.value == pytest.approx(0.9) and not g.mixed_metrics
    lines = render_report(build_report(runs, n_boot=0), "text").splitlines()
    header, row = lines[1].split(), lines[3].split()
    assert header[-3:] == ["score", "cost", "$"] and row[-2:] == ["0.8", "1.5"]


def test_scores_of_different_metrics_are_not_averaged(tmp_path: Path) -> None:
    _run(tmp_path, "a", "t1", 0, medal=None, test=0.6)
    _run(tmp_path, "a", "t2", 0, medal=None, test=1234.0, metric="rmse", direction="minimize")
    runs, _ = collect_runs([tmp_path])
    report = build_report(runs, n_boot=0)
    assert report.groups[0].mixed_metrics and report.groups[0].score.value is None
    text = render_report(report, "text")
    assert "score n/a: its tasks have different metrics" in text
    per_task = build_report(runs, by=("spec", "task"), n_boot=0)
    assert [g.score.value for g in per_task.groups] == [0.6, 1234.0]


def _typical_sweep(root: Path) -> None:
    for spec in ("aira-greedy", "aira-mcts"):
        for task in ("penguins", "titanic"):
            for seed in range(5):
                mcts = spec == "aira-mcts"
                _run(root, spec, task, seed, medal=("gold", None, "bronze")[(seed + len(spec)) % 3],
                     test=0.7 + 0.01 * seed + 0.05 * mcts, cost=0.02 * (seed + 1) * (1 + mcts))


@pytest.mark.parametrize("by", ["spec", "spec,task"])
def test_compact_table_fits_100_columns_and_wide_does_not(tmp_path: Path, by: str) -> None:
    _typical_sweep(tmp_path)
    compact = run_cli("report", str(tmp_path), "--by", by, "--baseline", "aira-greedy", "--bootstrap", "200")
    assert compact.returncode == 0, compact.stderr
    widest = max(compact.stdout.splitlines(), key=len)
    assert len(widest) <= WIDTH, widest
    assert "medal % [95% CI]" in compact.stdout and "Paired differences vs aira-greedy" in compact.stdout
    assert "Selection gap" not in compact.stdout and "gold %" not in compact.stdout
    wide = run_cli("report", str(tmp_path), "--by", by, "--baseline", "aira-greedy", "--bootstrap", "200",
                   "--wide")
    assert max(len(line) for line in wide.stdout.splitlines()) > 130
    for column in ("valid sub %", "> median %", "any medal %", ">= silver %", "gold %", "score [95% CI]",
                   "cost $ [95% CI]", "Selection gap", "Δ gold pts [95% CI]"):
        assert column in wide.stdout, column


def test_runs_without_test_answers_say_so(tmp_path: Path) -> None:
    for seed in range(2):
        make_run(tmp_path / "blind", f"s{seed}", [N(0, metric=0.9, test=0.5, medal="gold")], spec="agent-blind",
                 task="spooky", seed=seed, has_test_score=False)
    _run(tmp_path, "agent-a", "t1", 0, medal="gold")
    listing = run_cli("runs", str(tmp_path))
    assert listing.returncode == 0, listing.stderr
    blind_lines = [line for line in listing.stdout.splitlines() if "agent-blind" in line]
    assert len(blind_lines) == 2 and all("n/a (no test answers)" in line for line in blind_lines)
    assert all("gold" not in line and "0.5" not in line for line in blind_lines)
    listed = {r["run_id"]: r for r in json.loads(run_cli("runs", str(tmp_path), "--format", "json").stdout)}
    s0 = listed["s0"]
    assert (s0["has_test_score"], s0["best_test"], s0["medal"], s0["vt"]) == (False, None, None, None)
    assert s0["vv"] == {"valid_submission": True, "above_median": None, "any_medal": None,
                        "silver_or_better": None, "gold": None}
    assert "no hidden test score" in s0["test_note"]

    text = run_cli("report", str(tmp_path), "--bootstrap", "0")
    row = next(line for line in text.stdout.splitlines() if line.startswith("agent-blind"))
    assert "n/a (no test answers)" in row and "100.0" in row  # validity is known, medals are not
    assert "agent-blind: 2 run(s) on tasks without test answers" in text.stdout
    wide = run_cli("report", str(tmp_path), "--bootstrap", "0", "--wide").stdout
    assert all("n/a (no test answers)" in line for line in wide.splitlines() if line.startswith("agent-blind"))
    group = next(g for g in json.loads(run_cli("report", str(tmp_path), "--format", "json").stdout)["groups"]
                 if g["key"]["spec"] == "agent-blind")
    assert group["selections"]["vv"]["any_medal"]["value"] is None  # unknown, not 0%
    assert group["selections"]["vv"]["valid_submission"]["value"] == 1.0
    assert group["score"]["value"] is None and group["no_test_answers"] == 2 and group["unknown"]["vt"] == 0


def test_compact_and_baseline_tables_snapshot(tmp_path: Path, snapshot: Any) -> None:
    """The default layout, pinned: a change to it shows up here as a reviewed snapshot update."""
    _typical_sweep(tmp_path)
    runs, skipped = collect_runs([tmp_path])
    report = build_report(runs, by=("spec", "task"), n_boot=200, seed=0, skipped=skipped, baseline="aira-greedy")
    assert render_report(report, "text") == snapshot(name="text")
    assert render_report(report, "markdown") == snapshot(name="markdown")
