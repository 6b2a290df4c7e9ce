"""Stratified bootstrap: point estimates and intervals checked against hand and exact computations."""

from __future__ import annotations

import itertools
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from aira_dsl.report import stratified_bootstrap
from aira_dsl.report.stats import task_mean


def test_point_estimate_is_the_mean_over_tasks_of_per_task_rates() -> None:
    # Task A: 1 of 2 runs -> 0.5; task B: 3 of 4 -> 0.75; mean over tasks 0.625 (pooled would be 4/6).
    values = {"A": [1, 0], "B": [1, 1, 1, 0]}
    assert task_mean(values) == 0.625
    assert stratified_bootstrap(values, n_boot=0).value == 0.625


def test_single_task_interval_matches_the_hand_computed_percentiles() -> None:
    # One task, runs [1, 1, 1, 0]: a resample's rate is X/4 with X ~ Binomial(4, 3/4):
    # P(X=0)=1/256, P(X=1)=12/256, P(X=2)=54/256, P(X=3)=108/256, P(X=4)=81/256.
    # CDF: 0.0039, 0.0508, 0.2617, 0.6836, 1. The 2.5th percentile falls in X=1 (rate 0.25),
    # the 97.5th in X=4 (rate 1.0), each far from a CDF step, so the bootstrap hits them exactly.
    est = stratified_bootstrap({"A": [1, 1, 1, 0]}, n_boot=20000, seed=3)
    assert est.value == 0.75
    assert est.low == pytest.approx(0.25) and est.high == pytest.approx(1.0)
    assert (est.n, est.strata) == (4, 1)


def _exact_distribution(values: dict[str, list[int]]) -> Counter[Fraction]:
    """Every equally likely stratified resample, enumerated: the exact law of the statistic."""
    per_task = []
    for runs in values.values():
        n = len(runs)
        per_task.append([Fraction(sum(pick), n) for pick in itertools.product(runs, repeat=n)])
    law: Counter[Fraction] = Counter()
    for combo in itertools.product(*per_task):
        law[sum(combo, Fraction(0)) / len(combo)] += 1
    return law


def _exact_quantile(law: Counter[Fraction], q: float) -> tuple[Fraction, float]:
    """The atom holding quantile q, and how far q is from the nearest CDF step."""
    total = sum(law.values())
    cumulative = 0.0
    for atom in sorted(law):
        before = cumulative
        cumulative += law[atom] / total
        if cumulative >= q:
            return atom, min(q - before, cumulative - q)
    raise AssertionError("unreachable")


def test_two_task_interval_matches_exact_enumeration() -> None:
    values = {"A": [1, 0, 0], "B": [1, 1, 0]}
    law = _exact_distribution(values)
    low, margin_low = _exact_quantile(law, 0.025)
    high, margin_high = _exact_quantile(law, 0.975)
    # Quantiles 0.014 away from a CDF step: 18 standard errors for a bootstrap of 40,000.
    assert margin_low > 0.01 and margin_high > 0.01
    assert (low, high) == (Fraction(1, 6), Fraction(5, 6))
    est = stratified_bootstrap(values, n_boot=40000, seed=11)
    assert est.value == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert est.low == pytest.approx(float(low)) and est.high == pytest.approx(float(high))


def test_large_single_task_interval_is_close_to_the_normal_approximation() -> None:
    rng = np.random.default_rng(0)
    runs = (rng.random(400) < 0.3).astype(int).tolist()
    p = sum(runs) / len(runs)
    half = 1.96 * (p * (1 - p) / len(runs)) ** 0.5
    est = stratified_bootstrap({"A": runs}, n_boot=4000, seed=1)
    assert est.low == pytest.approx(p - half, abs=0.01) and est.high == pytest.approx(p + half, abs=0.01)


def test_seed_makes_intervals_reproducible_and_degenerate_cases_are_safe() -> None:
    values = {"A": [1, 0, 1, 0, 1], "B": [0, 0, 1]}
    assert stratified_bootstrap(values, seed=5) == stratified_bootstrap(values, seed=5)
    assert stratified_bootstrap({"A": [1, 1, 1]}).low == 1.0
    empty = stratified_bootstrap({"A": []})
    assert empty.value is None and empty.n == 0
    no_ci = stratified_bootstrap(values, n_boot=0)
    assert no_ci.low is None and no_ci.high is None and no_ci.value is not None
