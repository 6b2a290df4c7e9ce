"""Medal bands at the edges of Kaggle's team-count brackets, both directions."""

from __future__ import annotations

import pytest

from aira_dsl.tasks import Thresholds, leaderboard_thresholds, load_task_file, medal_positions, rank_score

# (teams, gold position, silver position, bronze position), worked out from the rules:
# <100: 10%/20%/40% of N rounded down (at least 1); 100-249: 10 / 20% / 40%;
# 250-999: 10 + 0.2% / 50 / 100; 1000+: 10 + 0.2% / 5% / 10%.
EDGES = [
    (1, 1, 1, 1), (5, 1, 1, 2), (99, 9, 19, 39), (100, 10, 20, 40), (249, 10, 49, 99),
    (250, 10, 50, 100), (999, 11, 50, 100), (1000, 12, 50, 100), (4321, 18, 216, 432),
]


@pytest.mark.parametrize(("teams", "gold", "silver", "bronze"), EDGES)
def test_positions(teams: int, gold: int, silver: int, bronze: int) -> None:
    assert medal_positions(teams) == (gold, silver, bronze)


def test_no_teams_is_an_error() -> None:
    with pytest.raises(ValueError):
        medal_positions(0)


@pytest.mark.parametrize(("teams", "gold", "silver", "bronze"), EDGES[2:])
def test_bands_higher_is_better(teams: int, gold: int, silver: int, bronze: int) -> None:
    # team at position p scored teams - p + 1 (so position p has score teams - p + 1)
    scores = list(range(teams, 0, -1))
    t = leaderboard_thresholds(scores[::-1], "maximize")  # order of the input does not matter
    assert (t.gold, t.silver, t.bronze) == (teams - gold + 1, teams - silver + 1, teams - bronze + 1)
    assert t.num_teams == teams and t.kind == "kaggle"

    def medal(score: float) -> str | None:
        return rank_score(score, t, "maximize").medal if rank_score(score, t, "maximize").any_medal else None

    assert medal(teams - gold + 1) == "gold"          # exactly at the gold threshold
    assert medal(teams - gold + 0.5) == "silver"      # just below it
    assert medal(teams - silver + 1) == "silver"
    assert medal(teams - silver + 0.5) == "bronze"
    assert medal(teams - bronze + 1) == "bronze"
    assert medal(teams - bronze + 0.5) is None


@pytest.mark.parametrize(("teams", "gold", "silver", "bronze"), EDGES[2:])
def test_bands_lower_is_better(teams: int, gold: int, silver: int, bronze: int) -> None:
    scores = [float(p) / 10 for p in range(1, teams + 1)]  # position p scored p / 10
    t = leaderboard_thresholds(scores, "minimize")
    assert (t.gold, t.silver, t.bronze) == (gold / 10, silver / 10, bronze / 10)
    at = {m: rank_score(v, t, "minimize") for m, v in
          (("gold", gold / 10), ("after_gold", gold / 10 + 0.05), ("bronze", bronze / 10),
           ("after_bronze", bronze / 10 + 0.05))}
    assert at["gold"].gold and not at["gold"].silver
    assert at["after_gold"].silver
    assert at["bronze"].bronze
    assert not at["after_bronze"].any_medal


def test_median_is_strict() -> None:
    t = leaderboard_thresholds([1, 2, 3, 4, 5], "maximize")
    assert t.median == 3
    assert not rank_score(3, t, "maximize").above_median
    assert rank_score(3.01, t, "maximize").above_median
    low = leaderboard_thresholds([1, 2, 3, 4], "minimize")
    assert low.median == 2.5
    assert rank_score(2.4, low, "minimize").above_median and not rank_score(2.5, low, "minimize").above_median


def test_explicit_thresholds_and_nothing_without_a_score() -> None:
    t = Thresholds(gold=0.9, silver=0.8, bronze=0.7, median=0.5)
    assert rank_score(0.95, t, "maximize").gold
    assert rank_score(0.8, t, "maximize").silver
    assert rank_score(0.7, t, "maximize").bronze
    assert not rank_score(0.69, t, "maximize").any_medal and rank_score(0.69, t, "maximize").above_median
    assert not rank_score(None, t, "maximize").above_median
    assert rank_score(0.9, None, "maximize").medal is None
    partial = Thresholds(gold=None, silver=None, bronze=0.7, median=None)
    assert rank_score(0.99, partial, "maximize").bronze


def test_leaderboard_csv_task(make_task, tmp_path) -> None:
    board = "teamId,score\n" + "".join(f"{i},{(120 - i) / 100}\n" for i in range(120))
    yaml = """
        id: tiny
        name: Tiny
        metric: accuracy
        leaderboard: leaderboard.csv
        submission: {id_column: id, target_columns: [y]}
    """
    task = load_task_file(make_task(yaml=yaml, extra={"leaderboard.csv": board}))
    assert task.thresholds is not None
    # 120 teams: gold at position 10 (score 1.11), silver 24 (0.97), bronze 48 (0.73)
    assert (task.thresholds.num_teams, task.thresholds.gold, task.thresholds.silver, task.thresholds.bronze) == (
        120, 1.11, 0.97, 0.73)
