"""Rates over tasks with stratified-bootstrap confidence intervals, as the paper reports them.

The headline number for an agent is the mean over tasks of the per-task rate (each task
weighs the same however many seeds it has; with equal seeds per task this equals the pooled
rate). Its uncertainty comes from a stratified bootstrap: in each of ``n_boot`` replicates,
every task's runs are resampled with replacement *within that task* (the set of tasks is
fixed: it is the benchmark, not a sample), the per-task rates are recomputed and averaged over
tasks; the 95% interval is the 2.5th and 97.5th percentile of the replicates (percentile
method, numpy's default linear interpolation).

Too few runs in a task make that interval meaningless rather than merely wide: resampling ``n``
runs gives a variance of the mean that is (n − 1)/n of the unbiased one, so with one run per
task every replicate is identical (a zero-width "interval") and with two it is half what it
should be. Below :data:`MIN_RUNS` runs in some task an estimate therefore carries no interval
(``too_few``), and reports print "n/a" with a warning instead of a falsely precise range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["MIN_RUNS", "Estimate", "stratified_bootstrap", "task_mean"]

_BLOCK = 10_000

MIN_RUNS = 5
"""Runs per stratum (task) below which no interval is given: with fewer, the bootstrap variance
is under 80% of the unbiased one per task (factor (n − 1)/n), i.e. the interval is over 10% too
narrow, and with one run it has zero width. ``aira-dsl report --min-runs`` changes it."""


@dataclass(frozen=True)
class Estimate:
    """A mean over tasks with its bootstrap interval; ``n`` runs in ``strata`` tasks.

    ``fewest`` is the number of values in the smallest stratum and ``min_runs`` the threshold
    the estimate was made under: when ``fewest < min_runs`` there is no interval
    (:attr:`too_few`), which is not the same as "no bootstrap asked for" (``n_boot = 0``).
    """

    value: float | None
    low: float | None
    high: float | None
    n: int
    strata: int
    fewest: int = 0
    min_runs: int = 0

    @property
    def too_few(self) -> bool:
        """A point estimate whose interval was withheld: some stratum has under ``min_runs`` values."""
        return self.value is not None and self.fewest < self.min_runs

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "too_few": self.too_few}


def task_mean(values_by_task: Mapping[str, Sequence[float]]) -> float | None:
    """Mean over tasks of each task's mean (tasks with no values are left out)."""
    means = [float(np.mean(v)) for v in values_by_task.values() if len(v)]
    return float(np.mean(means)) if means else None


def stratified_bootstrap(values_by_task: Mapping[str, Sequence[float]], *, n_boot: int = 1000,
                         seed: int = 0, confidence: float = 0.95, min_runs: int = 0) -> Estimate:
    """The task-averaged mean of ``values_by_task`` and its stratified percentile interval.

    Values are per run (1.0/0.0 for a yes/no outcome, or a difference such as V/T minus V/V,
    or a paired difference variant minus baseline). ``n_boot = 0`` gives the point estimate
    alone; so does a stratum with fewer than ``min_runs`` values (then ``too_few`` is set). The
    same ``seed`` gives the same interval.
    """
    strata = [np.asarray(v, dtype=float) for v in values_by_task.values() if len(v)]
    n = int(sum(len(s) for s in strata))
    if not strata:
        return Estimate(None, None, None, 0, 0, 0, min_runs)
    value = float(np.mean([s.mean() for s in strata]))
    fewest = min(len(s) for s in strata)
    if n_boot <= 0 or fewest < min_runs:
        return Estimate(value, None, None, n, len(strata), fewest, min_runs)
    rng = np.random.default_rng(seed)
    replicates = np.zeros(n_boot)
    for values in strata:
        # In blocks, so a million replicates of a task with many runs stay within a few MB.
        for start in range(0, n_boot, _BLOCK):
            stop = min(start + _BLOCK, n_boot)
            picks = rng.integers(0, len(values), size=(stop - start, len(values)))
            replicates[start:stop] += values[picks].mean(axis=1)
    replicates /= len(strata)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return Estimate(value, float(low), float(high), n, len(strata), fewest, min_runs)
