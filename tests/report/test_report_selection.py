"""Final-node selection: by validation (V/V), by test (V/T), top-k, and their outcomes."""

from __future__ import annotations

from pathlib import Path

from report_support import N, make_run

from aira_dsl.report import NodeView, load_run, select_test, select_top_k, select_validation
from aira_dsl.report.selection import Outcome, outcome, top_k_by_validation


def _nodes(tmp_path: Path, nodes: list[N], direction: str = "maximize") -> list[NodeView]:
    return load_run(make_run(tmp_path, "r", nodes, direction=direction)).nodes


def test_validation_selection_takes_highest_fitness_lowest_id_on_ties(tmp_path: Path) -> None:
    nodes = _nodes(tmp_path, [N(0, metric=0.7), N(1, metric=0.9), N(2, metric=0.9), N(3, metric=0.99, buggy=True),
                              N(4, status="pending"), N(5, status="failed", error="no code")])
    best = select_validation(nodes)
    assert best is not None and best.id == 1
    assert [n.id for n in top_k_by_validation(nodes, 2)] == [1, 2]


def test_validation_selection_uses_fitness_so_minimize_picks_the_lowest_metric(tmp_path: Path) -> None:
    nodes = _nodes(tmp_path, [N(0, metric=0.3), N(1, metric=0.1), N(2, metric=0.2)], direction="minimize")
    best = select_validation(nodes)
    assert best is not None and best.id == 1


def test_test_selection_follows_direction_and_skips_ungraded_and_invalid(tmp_path: Path) -> None:
    spec = [N(0, metric=0.9, test=0.5), N(1, metric=0.8, test=0.2), N(2, metric=0.7, test=0.9, graded=False),
            N(3, metric=0.6, test=0.95, valid_submission=False), N(4, metric=0.5, test=0.2)]
    nodes = _nodes(tmp_path / "max", spec)
    picked = select_test(nodes, "maximize")
    assert picked is not None and picked.id == 0
    low = select_test(nodes, "minimize")
    assert low is not None and low.id == 1  # tie with node 4 on 0.2: lowest id


def test_top_k_picks_best_test_among_k_best_by_validation(tmp_path: Path) -> None:
    nodes = _nodes(tmp_path, [N(0, metric=0.9, test=0.1), N(1, metric=0.8, test=0.3), N(2, metric=0.7, test=0.9)])
    one, two, three = (select_top_k(nodes, k, "maximize") for k in (1, 2, 3))
    assert (one and one.id, two and two.id, three and three.id) == (0, 1, 2)


def test_outcomes_nothing_unknown_and_graded(tmp_path: Path) -> None:
    all_buggy = _nodes(tmp_path / "a", [N(0, buggy=True), N(1, buggy=True)])
    assert select_validation(all_buggy) is None
    assert outcome(all_buggy, None) == Outcome.nothing()

    ungraded = _nodes(tmp_path / "b", [N(0, metric=0.5, graded=False)])
    assert outcome(ungraded, select_validation(ungraded)) is None
    assert outcome(ungraded, select_test(ungraded, "maximize")) is None  # oracle cannot know either

    rejected = _nodes(tmp_path / "c", [N(0, metric=0.5, medal="gold", valid_submission=False)])
    result = outcome(rejected, select_validation(rejected))
    assert result == Outcome(False, False, False, False, False)

    silver = _nodes(tmp_path / "d", [N(0, metric=0.5, test=0.5, medal="silver", above_median=True)])
    assert outcome(silver, select_validation(silver)) == Outcome(True, True, True, True, False)
