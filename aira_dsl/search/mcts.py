"""Monte-Carlo tree search over solutions: UCT selection, no rollouts, mean backup.

Each time a worker asks for work:

1. **Debug chains first.** A buggy node with no children and ``debug_depth < max_debug_depth``
   is an open debug chain: DEBUG it (the oldest such node first). This mirrors the reference,
   where a buggy child is debugged immediately, before its siblings are expanded.
2. **Selection.** From the virtual root, stop at the first node that is not fully expanded —
   the root with fewer than ``num_children`` drafts, or a valid node with fewer than
   ``num_children`` children (pending ones count) — and EXPAND it: DRAFT at the root, IMPROVE
   elsewhere. Otherwise move to the child with the highest
   ``UCT(v) = Q̂(v) + c · sqrt(ln Ñ(parent) / Ñ(v))`` among children whose subtree still holds
   expandable work; ties go to the older child.
3. **Stuck.** When nothing below the root can be expanded: wait (``None``) if work is in flight,
   otherwise DRAFT again (the root is widened) so the search never stalls within its budget.

Values:

- ``Q(v)`` is the mean of the fitness values backed up through ``v``; ``Q̂`` min-max normalises
  it over every fitness backed up so far (0.5 while all values are equal).
- Backup: when a **valid** node finishes, its fitness is added to it, to every ancestor (so the
  buggy nodes of a debug chain that ended in a fix get it too) and to the root — ``N += 1;
  Q += (v − Q) / N``. Sums are kept exactly (as fractions) and ``Q = sum / N`` is rounded once,
  so the state does not depend on the order in which concurrent workers finish.
- A **buggy** result backs up nothing (as in the reference): a branch whose debug chain never
  produced a valid node stays unvisited and, holding no expandable work, is never selected.
- An **unvisited** child would score ``+inf`` (selected first); by construction every candidate
  has a visit, since a subtree with expandable work contains a valid node that was backed up.
- **In-flight work** counts as a virtual visit (no value): ``Ñ(v) = N(v) + pending nodes in the
  subtree of v``, for both ``v`` and its parent. A subtree that is already being worked on loses
  exploration bonus, so concurrent workers spread over the tree.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any, ClassVar

from aira_dsl.search.base import Action, PolicyBase, param
from aira_dsl.search.graph import Graph, NodeView
from aira_dsl.search.sampling import minmax

__all__ = ["MctsParams", "MctsPolicy", "uct_value"]

_ROOT = -1
"""Key of the virtual root in the statistics tables."""


@dataclass(frozen=True)
class MctsParams:
    num_children: int = param(5, ge=1, doc="Children created when a leaf is expanded (paper: 5).")
    uct_c: float = param(0.25, ge=0, doc="Exploration constant c in UCT (paper: 0.25).")
    max_debug_depth: int = param(20, ge=0, doc="Longest debug chain a buggy child may enter (paper: 20).")


def uct_value(q: float, visits: int, parent_visits: int, c: float, lo: float | None, hi: float | None) -> float:
    """``minmax(q) + c · sqrt(ln parent_visits / visits)``; ``+inf`` for an unvisited node."""
    if visits <= 0:
        return math.inf
    explore = math.sqrt(math.log(parent_visits) / visits) if parent_visits > 1 else 0.0
    return minmax(q, lo, hi) + c * explore


class MctsPolicy(PolicyBase):
    """UCT tree search; visit counts and value sums are the state rebuilt from the graph."""

    kind: ClassVar[str] = "mcts"
    summary: ClassVar[str] = "Monte-Carlo tree search with normalised-Q UCT selection and no rollouts."
    roles_needed: ClassVar[tuple[str, ...]] = ("draft", "improve", "debug")

    def __init__(self, params: MctsParams | None = None, roles: Mapping[str, str] | None = None) -> None:
        self.params = params or MctsParams()
        super().__init__(roles)

    # -- bookkeeping ----------------------------------------------------------------------

    def _reset(self) -> None:
        self._visits: dict[int, int] = {}
        self._sums: dict[int, Fraction] = {}
        self._lo: float | None = None
        self._hi: float | None = None

    def _observe(self, graph: Graph, node: NodeView) -> None:
        if not node.is_valid:
            return
        assert node.fitness is not None
        value = Fraction(node.fitness)
        for key in [node.id, *(a.id for a in graph.ancestors(node.id)), _ROOT]:
            self._visits[key] = self._visits.get(key, 0) + 1
            self._sums[key] = self._sums.get(key, Fraction(0)) + value
        self._lo = node.fitness if self._lo is None else min(self._lo, node.fitness)
        self._hi = node.fitness if self._hi is None else max(self._hi, node.fitness)

    def visits(self, node_id: int | None) -> int:
        """Real visits ``N`` of a node (``None``: the virtual root)."""
        return self._visits.get(_ROOT if node_id is None else node_id, 0)

    def value(self, node_id: int | None) -> float | None:
        """Mean backed-up fitness ``Q`` of a node, ``None`` while unvisited."""
        key = _ROOT if node_id is None else node_id
        n = self._visits.get(key, 0)
        return float(self._sums[key] / n) if n else None

    def _state(self) -> dict[str, Any]:
        nodes = {str(k): {"visits": self._visits[k], "value": self.value(k)}
                 for k in sorted(self._visits) if k != _ROOT}
        return {"params": asdict(self.params), "root": {"visits": self.visits(None), "value": self.value(None)},
                "nodes": nodes, "fitness_range": None if self._lo is None else [self._lo, self._hi]}

    # -- decisions ------------------------------------------------------------------------

    def open_debug_chains(self, graph: Graph) -> list[NodeView]:
        """Buggy nodes waiting for their next debug step, oldest first."""
        return [n for n in graph.leaves() if n.is_buggy and n.debug_depth < self.params.max_debug_depth]

    def _expandable(self, graph: Graph, node: NodeView | None) -> bool:
        if node is not None and not node.is_valid:
            return False
        return graph.num_children(None if node is None else node.id) < self.params.num_children

    def _scan(self, graph: Graph) -> tuple[dict[int, bool], dict[int, int]]:
        """Per node: does its subtree hold expandable work; how many pending nodes it holds."""
        work: dict[int, bool] = {}
        pending: dict[int, int] = {}
        for node in reversed(graph.nodes()):
            kids = graph.children(node.id)
            work[node.id] = self._expandable(graph, node) or any(work[k.id] for k in kids)
            pending[node.id] = int(node.is_pending) + sum(pending[k.id] for k in kids)
        return work, pending

    def uct(self, graph: Graph, node_id: int) -> float:
        """The UCT score of a node as a child of its (first) parent, with virtual visits."""
        _, pending = self._scan(graph)
        node = graph[node_id]
        parent = node.parent_ids[0] if node.parent_ids else None
        return self._uct(graph, node, parent, pending)

    def _uct(self, graph: Graph, node: NodeView, parent: int | None, pending: dict[int, int]) -> float:
        parent_pending = len(graph.in_flight()) if parent is None else pending[parent]
        q = self.value(node.id)
        return uct_value(0.0 if q is None else q, self.visits(node.id) + pending[node.id],
                         self.visits(parent) + parent_pending, self.params.uct_c, self._lo, self._hi)

    def select(self, graph: Graph) -> tuple[int | None, list[int]] | None:
        """The node to expand (``None`` = the root) and the path to it, or ``None`` if stuck."""
        work, pending = self._scan(graph)
        path: list[int] = []
        current: int | None = None
        while True:
            node = None if current is None else graph[current]
            if self._expandable(graph, node):
                return current, path
            candidates = [c for c in graph.children(current) if work[c.id]]
            if not candidates:
                return None
            scored = [(self._uct(graph, c, current, pending), -c.id, c) for c in candidates]
            chosen = max(scored, key=lambda t: (t[0], t[1]))[2]
            path.append(chosen.id)
            current = chosen.id

    def propose(self, graph: Graph, rng: random.Random) -> Action | None:
        chains = self.open_debug_chains(graph)
        if chains:
            return Action("debug", (chains[0].id,))
        selected = self.select(graph)
        if selected is None:
            return None if graph.in_flight() else Action("draft")
        target, _ = selected
        return Action("draft") if target is None else Action("improve", (target,))
