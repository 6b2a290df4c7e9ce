"""Medal thresholds from a leaderboard (Kaggle's rules as MLE-bench applies them), and ranking.

Kaggle awards medals by leaderboard position, and the positions depend on how many teams took
part (N). With positions rounded down:

=========  ====================  ==================  ===================
N teams    gold                  silver              bronze
=========  ====================  ==================  ===================
1-99       max(1, 10% of N)      max(1, 20% of N)    max(1, 40% of N)
100-249    10                    max(1, 20% of N)    max(1, 40% of N)
250-999    10 + 0.2% of N        50                  100
1000+      10 + 0.2% of N        max(1, 5% of N)     max(1, 10% of N)
=========  ====================  ==================  ===================

A threshold is the score at that position (1-based, best first); a score at least as good as a
threshold earns that medal (the best one only). "Above median" is strictly better than the
median of all leaderboard scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aira_dsl.tasks.csvread import CsvProblem, read_table
from aira_dsl.tasks.errors import TaskError
from aira_dsl.tasks.model import Direction, Thresholds

__all__ = ["Ranking", "leaderboard_thresholds", "load_leaderboard", "medal_positions", "rank_score"]


def medal_positions(num_teams: int) -> tuple[int, int, int]:
    """1-based leaderboard positions of the last gold, silver and bronze medal for N teams."""
    n = num_teams
    if n < 1:
        raise ValueError("a leaderboard needs at least one team")
    if n < 100:
        return max(1, int(n * 0.1)), max(1, int(n * 0.2)), max(1, int(n * 0.4))
    if n < 250:
        return 10, max(1, int(n * 0.2)), max(1, int(n * 0.4))
    gold = 10 + int(n * 0.002)
    if n < 1000:
        return gold, 50, 100
    return gold, max(1, int(n * 0.05)), max(1, int(n * 0.1))


def leaderboard_thresholds(scores: Sequence[float], direction: Direction, *,
                           source: str = "leaderboard") -> Thresholds:
    """Thresholds from every team's score; the order of ``scores`` does not matter."""
    values = [float(s) for s in scores]
    if not values:
        raise ValueError("a leaderboard needs at least one team")
    ranked = sorted(values, reverse=direction == "maximize")
    gold, silver, bronze = medal_positions(len(ranked))
    return Thresholds(gold=ranked[gold - 1], silver=ranked[silver - 1], bronze=ranked[bronze - 1],
                      median=float(np.median(ranked)), kind="kaggle", source=source,
                      num_teams=len(ranked))


def load_leaderboard(path: Path, direction: Direction) -> Thresholds:
    """Thresholds from a ``leaderboard.csv`` with a numeric ``score`` column (Kaggle's export)."""
    try:
        table = read_table(path, label="leaderboard")
    except CsvProblem as exc:
        raise TaskError(f"cannot read the leaderboard: {exc.reason}",
                        hint="a leaderboard is a CSV with a 'score' column, one row per team") from exc
    if "score" not in table.columns:
        raise TaskError(f"the leaderboard {path} has no 'score' column (columns: {', '.join(table.columns)})",
                        hint="a leaderboard is a CSV with a 'score' column, one row per team")
    scores = []
    for row, text in enumerate(table.frame["score"].str.strip()):
        if text == "":
            continue  # teams without a score (never submitted) are not ranked
        try:
            value = float(text)
        except ValueError:
            raise TaskError(f"the leaderboard {path} line {row + 2} has a non-numeric score {text!r}") from None
        if not math.isfinite(value):
            raise TaskError(f"the leaderboard {path} line {row + 2} has a non-finite score {text!r}")
        scores.append(value)
    if not scores:
        raise TaskError(f"the leaderboard {path} has no scores")
    return leaderboard_thresholds(scores, direction, source=str(path))


@dataclass(frozen=True)
class Ranking:
    """Which medal a score earns against some thresholds."""

    gold: bool = False
    silver: bool = False
    bronze: bool = False
    above_median: bool = False

    @property
    def any_medal(self) -> bool:
        return self.gold or self.silver or self.bronze

    @property
    def medal(self) -> str | None:
        return "gold" if self.gold else "silver" if self.silver else "bronze" if self.bronze else None


def _at_least(score: float, threshold: float | None, lower_is_better: bool) -> bool:
    if threshold is None:
        return False
    return score <= threshold if lower_is_better else score >= threshold


def rank_score(score: float | None, thresholds: Thresholds | None, direction: Direction) -> Ranking:
    """The medal (at most one) and above-median flag for ``score``; nothing for no score."""
    if score is None or thresholds is None or math.isnan(score):
        return Ranking()
    lower = direction == "minimize"
    gold = _at_least(score, thresholds.gold, lower)
    silver = not gold and _at_least(score, thresholds.silver, lower)
    bronze = not gold and not silver and _at_least(score, thresholds.bronze, lower)
    median = thresholds.median
    above = median is not None and (score < median if lower else score > median)
    return Ranking(gold=gold, silver=silver, bronze=bronze, above_median=above)
