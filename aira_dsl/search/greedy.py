"""AIDE's greedy policy: a few drafts, then fix the buggy or improve the best.

Rules, applied each time a worker asks for work:

1. while fewer than ``num_drafts`` drafts exist (pending ones count) → DRAFT;
2. otherwise, with probability ``debug_prob``: DEBUG a buggy leaf whose debug chain is still
   open (depth below ``max_debug_depth``, time below ``max_debug_time``; see
   :mod:`aira_dsl.search.debugging`), drawn uniformly (candidates in id order) — if there is one;
3. otherwise IMPROVE the best valid node (highest fitness, the older node on ties);
4. if no node is valid yet → DRAFT.

Concurrency: a node with a pending child is not a leaf, so a buggy node is never debugged by
two workers at once. Improves are not deduplicated: AIDE improves the current best node step
after step, each time with a new idea, so several concurrent improves of the best node are what
the sequential algorithm does over consecutive steps.

The depth test is strict (``<``), so ``max_debug_depth`` is the longest chain of consecutive
debug steps on a branch, as the spec documents; AIDE's original test (``<=``) allows one more.
AIRA-dojo's greedy solver uses ``<=`` and counts its drafts at depth 1, so its
``max_debug_depth: 20`` is ``max_debug_depth: 21, draft_debug_depth: 1`` here (docs/fidelity.md).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from aira_dsl.search.base import DRAFT_DEBUG_DEPTH_DOC, MAX_DEBUG_TIME_DOC, Action, PolicyBase, param
from aira_dsl.search.debugging import DebugLimits, may_debug
from aira_dsl.search.graph import Graph, NodeView
from aira_dsl.settings.fields import Duration

__all__ = ["GreedyParams", "GreedyPolicy"]


@dataclass(frozen=True)
class GreedyParams:
    num_drafts: int = param(5, ge=1, doc="Number of root drafts before any debug or improve step (paper: 5).")
    debug_prob: float = param(1.0, ge=0, le=1, doc="Probability of debugging a buggy leaf once all drafts exist "
                                                  "(paper: 1.0; AIDE: 0.5).")
    max_debug_depth: int = param(20, ge=0, doc="Longest chain of consecutive debug steps on one branch "
                                               "(paper: 20; AIDE: 3).")
    max_debug_time: Duration | None = param(None, gt=0, doc=MAX_DEBUG_TIME_DOC)
    draft_debug_depth: int = param(0, ge=0, doc=DRAFT_DEBUG_DEPTH_DOC)


class GreedyPolicy(PolicyBase):
    """Greedy search; its bookkeeping (counts, best node) is recomputed from the graph."""

    kind: ClassVar[str] = "greedy"
    summary: ClassVar[str] = "AIDE's greedy policy: draft, then debug buggy leaves or improve the best node."
    roles_needed: ClassVar[tuple[str, ...]] = ("draft", "improve", "debug")

    def __init__(self, params: GreedyParams | None = None, roles: Mapping[str, str] | None = None) -> None:
        self.params = params or GreedyParams()
        self.limits = DebugLimits(self.params.max_debug_depth, self.params.max_debug_time,
                                  self.params.draft_debug_depth)
        super().__init__(roles)

    def _reset(self) -> None:
        self._valid = 0
        self._buggy = 0
        self._best: tuple[float, int] | None = None

    def _observe(self, graph: Graph, node: NodeView) -> None:
        if node.is_valid:
            assert node.fitness is not None
            self._valid += 1
            key = (node.fitness, -node.id)
            if self._best is None or key > (self._best[0], -self._best[1]):
                self._best = (node.fitness, node.id)
        elif node.is_buggy:
            self._buggy += 1

    def _state(self) -> dict[str, Any]:
        return {"params": asdict(self.params), "valid": self._valid, "buggy": self._buggy,
                "best": None if self._best is None else self._best[1]}

    def debuggable(self, graph: Graph) -> list[NodeView]:
        """Buggy leaves that may still be debugged, oldest first."""
        return [n for n in graph.leaves() if may_debug(graph, n, self.limits)]

    def propose(self, graph: Graph, rng: random.Random) -> Action | None:
        if graph.num_children(None) < self.params.num_drafts:
            return Action("draft")
        if rng.random() < self.params.debug_prob:
            candidates = self.debuggable(graph)
            if candidates:
                return Action("debug", (rng.choice(candidates).id,))
        best = graph.best(1)
        if best:
            return Action("improve", (best[0].id,))
        return Action("draft")
