"""Small numeric helpers shared by the policies: min-max normalisation and softmax sampling.

Written out by hand (rather than with numpy) so that every random draw goes through the
``random.Random`` the engine passes in and the same seed gives the same choices everywhere.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import TypeVar

__all__ = ["minmax", "sample_without_replacement", "softmax", "weighted_choice"]

_T = TypeVar("_T")

NEUTRAL = 0.5
"""Normalised value used when every value seen so far is the same (no range to scale by)."""


def minmax(value: float, lo: float | None, hi: float | None) -> float:
    """Scale ``value`` into [0, 1] over the range seen; 0.5 when the range is empty or a point."""
    if lo is None or hi is None or hi <= lo:
        return NEUTRAL
    return min(1.0, max(0.0, (value - lo) / (hi - lo)))


def softmax(values: Sequence[float], temperature: float) -> list[float]:
    """Probabilities proportional to ``exp(value / temperature)`` (shifted for stability)."""
    if temperature <= 0:
        raise ValueError("softmax temperature must be > 0")
    if not values:
        return []
    top = max(values)
    weights = [math.exp((v - top) / temperature) for v in values]
    total = math.fsum(weights)
    return [w / total for w in weights]


def weighted_choice(items: Sequence[_T], weights: Sequence[float], rng: random.Random) -> int:
    """Index of one item drawn with probability proportional to its weight (one ``rng.random()``)."""
    if not items or len(items) != len(weights):
        raise ValueError("weighted_choice needs as many weights as items, and at least one item")
    total = math.fsum(weights)
    threshold = rng.random() * total
    running = 0.0
    for index, weight in enumerate(weights):
        running += weight
        if threshold < running:
            return index
    return len(items) - 1


def sample_without_replacement(items: Sequence[_T], weights: Sequence[float], k: int,
                               rng: random.Random) -> list[_T]:
    """``k`` distinct items, each drawn in turn by weight among those not yet drawn."""
    if k > len(items):
        raise ValueError(f"cannot draw {k} distinct items from {len(items)}")
    pool = list(items)
    pool_weights = list(weights)
    chosen: list[_T] = []
    for _ in range(k):
        index = weighted_choice(pool, pool_weights, rng)
        chosen.append(pool.pop(index))
        pool_weights.pop(index)
    return chosen
