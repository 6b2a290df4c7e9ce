"""Which node a run hands in, chosen three ways, and what that choice scores on hidden answers.

* **Validation-selected (V/V)**: what the agent actually submits: the valid node with the highest
  fitness (ties: lowest id). Its grade is the run's result.
* **Test-selected (V/T)**: an oracle that picks the valid graded node with the best *test* score.
  The difference between the two is the paper's generalization gap: how much better the run
  could have done had its validation signal been a perfect proxy for the test set.
* **Top-k by validation**: the oracle restricted to the k best nodes by validation, i.e. how much
  a cheap second look at a short list would recover.

:class:`Outcome` holds the five yes/no results the paper reports for a choice; ``None`` means
"unknown" (the chosen node was never graded) and is left out of rates, whereas a run with no
valid node at all has an all-``False`` outcome (it submitted nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from aira_dsl.report.model import Grade, NodeView

__all__ = ["OUTCOME_FIELDS", "Outcome", "outcome", "select_test", "select_top_k", "select_validation",
           "top_k_by_validation"]

OUTCOME_FIELDS = ("valid_submission", "above_median", "any_medal", "silver_or_better", "gold")


@dataclass(frozen=True)
class Outcome:
    """The yes/no results of handing in one node (or nothing)."""

    valid_submission: bool
    above_median: bool
    any_medal: bool
    silver_or_better: bool
    gold: bool

    @staticmethod
    def of(grade: Grade) -> Outcome:
        valid = grade.valid_submission
        return Outcome(valid_submission=valid, above_median=valid and grade.above_median,
                       any_medal=valid and grade.any_medal, silver_or_better=valid and grade.silver_or_better,
                       gold=valid and grade.gold)

    @staticmethod
    def nothing() -> Outcome:
        """A run that handed in nothing."""
        return Outcome(False, False, False, False, False)

    def to_dict(self) -> dict[str, bool]:
        return asdict(self)


def _valid(nodes: Sequence[NodeView]) -> list[NodeView]:
    return [n for n in nodes if n.valid]


def _by_validation(nodes: Sequence[NodeView]) -> list[NodeView]:
    """Valid nodes, best fitness first; ties broken by the lowest id."""
    return sorted(_valid(nodes), key=lambda n: (-(n.record.fitness or 0.0), n.id))


def select_validation(nodes: Sequence[NodeView]) -> NodeView | None:
    """The V/V node: highest fitness among valid nodes (lowest id on ties), or ``None``."""
    ranked = _by_validation(nodes)
    return ranked[0] if ranked else None


def top_k_by_validation(nodes: Sequence[NodeView], k: int) -> list[NodeView]:
    """The ``k`` best valid nodes by fitness (ties: lowest id first)."""
    return _by_validation(nodes)[:max(k, 0)]


def _best_test(nodes: Sequence[NodeView], direction: str) -> NodeView | None:
    graded = [n for n in nodes
              if n.grade is not None and n.grade.valid_submission and n.grade.test_score is not None]
    if not graded:
        return None
    sign = -1.0 if direction == "minimize" else 1.0

    def key(node: NodeView) -> tuple[float, int]:
        assert node.grade is not None and node.grade.test_score is not None
        return (-sign * node.grade.test_score, node.id)

    return min(graded, key=key)


def select_test(nodes: Sequence[NodeView], direction: str) -> NodeView | None:
    """The V/T node: the valid graded node with the best test score (lowest id on ties)."""
    return _best_test(_valid(nodes), direction)


def select_top_k(nodes: Sequence[NodeView], k: int, direction: str) -> NodeView | None:
    """Among the ``k`` best nodes by validation, the one with the best test score."""
    return _best_test(top_k_by_validation(nodes, k), direction)


def outcome(nodes: Sequence[NodeView], chosen: NodeView | None) -> Outcome | None:
    """The outcome of handing in ``chosen``: nothing when no node is valid, unknown if ungraded."""
    if chosen is None:
        valid = _valid(nodes)
        return Outcome.nothing() if all(n.grade is not None for n in valid) else None
    return None if chosen.grade is None else Outcome.of(chosen.grade)
