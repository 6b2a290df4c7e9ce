"""``report --baseline``: paired differences on runs whose answer is known by hand.

Every run here has one node, so its medal, test score and cost are exactly what the test wrote;
the differences and intervals below follow from those by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_support import N, make_run
from tests_support import run_cli

from aira_dsl.report import Comparison, ReportError, build_report, collect_runs, render_report


def _run(root: Path, spec: str, task: str, seed: int | None, medal: str | None, *, test: float = 0.7,
         cost: float = 0.5, name: str | None = None) -> None:
    node = N(0, metric=0.9, test=test, medal=medal, above_median=medal is not None, calls=[("draft", 10, 5, cost)])
    run_dir = make_run(root / spec, name or f"{task}-{seed}", [node], spec=spec, task=task, seed=seed or 0)
    if seed is None:  # a run.json without a seed (hand-made or very old)
        info = json.loads((run_dir / "run.json").read_text())
        info["seed"] = None
        (run_dir / "run.json").write_text(json.dumps(info))


@pytest.fixture
def grid(tmp_path: Path) -> Path:
    """Baseline "base" and variant "var" on two tasks; medals per seed (g = gold, s = silver, b = bronze):

    t1: base g - - b -      var g g - - s      any-medal differences 0 +1 0 -1 +1 -> mean 0.2
    t2: base - - - - -      var g - g -        (seed 4 has no variant run) -> +1 0 +1 0 -> 0.5
    plus a variant run of t1 seed 9 with no baseline partner. Mean over tasks: (0.2 + 0.5) / 2 = 0.35.
    Test scores: var = base + 0.1 in every cell; costs: var 1.0, base 0.25.
    """
    medals = {("base", "t1"): ["gold", None, None, "bronze", None], ("base", "t2"): [None] * 5,
              ("var", "t1"): ["gold", "gold", None, None, "silver"], ("var", "t2"): ["gold", None, "gold", None]}
    for (spec, task), row in medals.items():
        for seed, medal in enumerate(row):
            test = 0.5 + 0.01 * seed + (0.1 if spec == "var" else 0.0)
            _run(tmp_path, spec, task, seed, medal, test=test, cost=1.0 if spec == "var" else 0.25)
    _run(tmp_path, "var", "t1", 9, "gold")
    return tmp_path


def _compare(root: Path, *, by: tuple[str, ...] = ("spec",), n_boot: int = 0, min_runs: int = 5,
             seed: int = 0) -> list[Comparison]:
    runs, _ = collect_runs([root])
    return build_report(runs, by=by, n_boot=n_boot, seed=seed, min_runs=min_runs, baseline="base").comparisons


def test_paired_differences_match_the_hand_computation(grid: Path) -> None:
    (c,) = _compare(grid)
    assert (c.key, c.baseline, c.pairs, c.unpaired, c.baseline_unpaired) == ({"spec": "var"}, "base", 9, 1, 1)
    assert c.diffs["any_medal"].value == pytest.approx(0.35)
    # gold: t1 diffs 0 +1 0 0 0 -> 0.2; t2: +1 0 +1 0 -> 0.5; silver or better: t1 0 +1 0 0 +1 -> 0.4.
    assert c.diffs["gold"].value == pytest.approx(0.35)
    assert c.diffs["silver_or_better"].value == pytest.approx((0.4 + 0.5) / 2)
    assert c.diffs["valid_submission"].value == 0.0
    assert c.diffs["score"].value == pytest.approx(0.1) and c.diffs["cost_usd"].value == pytest.approx(0.75)
    assert (c.diffs["any_medal"].n, c.diffs["any_medal"].strata) == (9, 2)
    assert c.fewest == ("t2", 4)


def test_grouped_by_task_each_cell_is_compared_within_its_task(grid: Path) -> None:
    by_task = {c.key["task"]: c for c in _compare(grid, by=("spec", "task"))}
    assert by_task["t1"].diffs["any_medal"].value == pytest.approx(0.2) and by_task["t1"].pairs == 5
    assert by_task["t2"].diffs["any_medal"].value == pytest.approx(0.5) and by_task["t2"].baseline_unpaired == 1


def test_paired_interval_matches_the_hand_computed_percentiles(tmp_path: Path) -> None:
    # One task, five seeds: the variant medals in seeds 0-3, the baseline never. Paired
    # differences 1 1 1 1 0: a resample's mean is X/5 with X ~ Binomial(5, 0.8), whose CDF is
    # 0.0003, 0.0067, 0.0579, 0.2627, 0.6723, 1 at X = 0..5. The 2.5th percentile falls in X=2
    # (0.4), the 97.5th in X=5 (1.0), each well away from a CDF step.
    for seed in range(5):
        _run(tmp_path, "base", "t", seed, None)
        _run(tmp_path, "var", "t", seed, "gold" if seed < 4 else None)
    (c,) = _compare(tmp_path, n_boot=20000, seed=5)
    medal = c.diffs["any_medal"]
    assert (medal.value, medal.low, medal.high) == (pytest.approx(0.8), pytest.approx(0.4), pytest.approx(1.0))
    # Equal scores in every pair: the difference is exactly zero, and so is its interval (an
    # honest zero width: five pairs that all agree).
    assert (c.diffs["score"].value, c.diffs["score"].low, c.diffs["score"].high) == (0.0, 0.0, 0.0)


def test_a_task_with_too_few_pairs_withholds_the_interval_and_warns(grid: Path) -> None:
    runs, _ = collect_runs([grid])
    report = build_report(runs, n_boot=200, baseline="base")
    (c,) = report.comparisons
    assert c.diffs["any_medal"].too_few and c.diffs["any_medal"].low is None  # t2 has 4 pairs < 5
    assert any("var vs base: 4 pair(s) in task t2, fewer than 5" in w for w in report.warnings)
    assert "+35.0 [n/a]" in render_report(report, "text")
    (c4,) = build_report(runs, n_boot=200, baseline="base", min_runs=4).comparisons
    assert c4.diffs["any_medal"].low is not None and c4.diffs["any_medal"].high is not None


def test_reruns_in_one_cell_enter_through_their_mean_and_seedless_runs_are_unpaired(tmp_path: Path) -> None:
    _run(tmp_path, "base", "t", 0, None)
    _run(tmp_path, "var", "t", 0, "gold")
    _run(tmp_path, "var", "t", 0, None, name="t-0-rerun")  # same task and seed again: cell mean 0.5
    _run(tmp_path, "var", "t", None, "gold", name="no-seed")
    (c,) = _compare(tmp_path)
    assert (c.pairs, c.unpaired) == (1, 1) and c.diffs["any_medal"].value == pytest.approx(0.5)


def test_baseline_errors_are_usage_errors(grid: Path) -> None:
    runs, _ = collect_runs([grid])
    with pytest.raises(ReportError, match="no run of the baseline agent 'nope'") as missing:
        build_report(runs, baseline="nope")
    assert "base, var" in (missing.value.hint or "")
    with pytest.raises(ReportError, match="not grouped by spec"):
        build_report(runs, by=("task",), baseline="base")
    result = run_cli("report", str(grid), "--baseline", "nope")
    assert result.returncode == 2 and "hint: --baseline takes a spec name" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_baseline_in_every_format(grid: Path) -> None:
    text = run_cli("report", str(grid), "--baseline", "base", "--bootstrap", "200")
    assert text.returncode == 0, text.stderr
    row = next(line for line in text.stdout.split("Paired differences")[1].splitlines() if line.startswith("var"))
    assert row.split()[:3] == ["var", "9", "+35.0"] and "+0.1 [" in row and row.split()[-1] == "+0.75"
    data = json.loads(run_cli("report", str(grid), "--baseline", "base", "--format", "json").stdout)
    assert data["baseline"]["spec"] == "base" and data["baseline"]["pairing"] == ["task", "seed"]
    (comparison,) = data["baseline"]["comparisons"]
    assert comparison["pairs"] == 9 and comparison["diffs"]["any_medal"]["value"] == pytest.approx(0.35)
    csv_text = run_cli("report", str(grid), "--baseline", "base", "--format", "csv").stdout
    header, *rows = csv_text.splitlines()
    columns = header.split(",")
    var = dict(zip(columns, next(r for r in rows if r.startswith("var")).split(","), strict=True))
    assert var["baseline_pairs"] == "9" and float(var["diff_any_medal"]) == pytest.approx(0.35)
    base = dict(zip(columns, next(r for r in rows if r.startswith("base")).split(","), strict=True))
    assert base["baseline_pairs"] == "" and base["diff_any_medal"] == ""
