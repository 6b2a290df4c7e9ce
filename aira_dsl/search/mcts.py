"""Monte-Carlo tree search over solutions: UCT selection, no rollouts, mean backup.

Two ways to grow the tree, chosen by ``expansion``:

- ``progressive`` (the default): every new child is its own UCT decision. Each time a worker
  asks for work, the search descends from the root and stops at the first node that is not
  fully expanded (fewer than ``num_children`` children), adding one child there.
- ``batch``: AIRA-dojo's released MCTS. The search descends to a *leaf* (a valid node with no
  children, or the root before the first drafts) and commits to it: that leaf gets its
  ``num_children`` children one after another, each buggy child's debug chain running before
  the next child is created; only then is a new leaf selected.

Each time a worker asks for work:

1. **Debug chains first.** A buggy node with no children whose debug chain is still open
   (depth and time caps, :mod:`aira_dsl.search.debugging`) is DEBUGGED (the oldest such node
   first). A buggy child is thus debugged immediately, before its siblings are expanded.
2. **Batch only: finish the open expansion.** A node whose expansion is under way — the root or
   a valid node whose number of children (pending ones count) is not a multiple of
   ``num_children`` — gets its next child (the oldest such node first).
3. **Selection.** From the virtual root, stop at the first expandable node — progressive: the
   root with fewer than ``num_children`` drafts or a valid node with fewer than ``num_children``
   children; batch: the root or a valid node without any child — and EXPAND it: DRAFT at the
   root, IMPROVE elsewhere. Otherwise move to the child with the highest
   ``UCT(v) = Q̂(v) + c · sqrt(ln Ñ(parent) / Ñ(v))`` among children whose subtree still holds
   expandable work; ties go to the older child.
4. **Stuck.** When nothing below the root can be expanded: wait (``None``) if work is in flight,
   otherwise DRAFT again (the root is widened; in batch mode by a whole batch of
   ``num_children`` drafts, through rule 2) so the search never stalls within its budget.

With several workers, ``batch`` means: the remaining children of a leaf being expanded are
handed to free workers one by one, so they may be created (and their debug chains run)
concurrently; a new leaf is selected only when a worker is free, no debug chain is open and
every expansion under way has all its children created. With one worker this is exactly the
reference's sequential order.

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
from typing import Any, ClassVar, Literal, get_args

from aira_dsl.search.base import DRAFT_DEBUG_DEPTH_DOC, MAX_DEBUG_TIME_DOC, Action, PolicyBase, param
from aira_dsl.search.debugging import DebugLimits, may_debug
from aira_dsl.search.graph import Graph, NodeView
from aira_dsl.search.sampling import minmax
from aira_dsl.settings.fields import Duration

__all__ = ["EXPANSIONS", "MctsParams", "MctsPolicy", "uct_value"]

_ROOT = -1
"""Key of the virtual root in the statistics tables."""


Expansion = Literal["progressive", "batch"]
EXPANSIONS: tuple[str, ...] = get_args(Expansion)
"""Values of ``MctsParams.expansion`` (see the module docstring)."""


@dataclass(frozen=True)
class MctsParams:
    num_children: int = param(5, ge=1, doc="Children created when a leaf is expanded (paper: 5).")
    uct_c: float = param(0.25, ge=0, doc="Exploration constant c in UCT (paper: 0.25).")
    max_debug_depth: int = param(20, ge=0, doc="Longest debug chain a buggy child may enter (paper: 20).")
    expansion: Expansion = param(
        "progressive", doc="progressive: each new child is its own UCT decision (the first node with fewer than "
                           "num_children children gets one). batch: descend to a leaf and create its num_children "
                           "children in a row, each buggy child's debug chain first (AIRA-dojo's MCTS); with several "
                           "workers a leaf's remaining children are created concurrently.")
    max_debug_time: Duration | None = param(None, gt=0, doc=MAX_DEBUG_TIME_DOC)
    draft_debug_depth: int = param(0, ge=0, doc=DRAFT_DEBUG_DEPTH_DOC)


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
        self.limits = DebugLimits(self.params.max_debug_depth, self.params.max_debug_time,
                                  self.params.draft_debug_depth)
        self.batch = self.params.expansion == "batch"
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
        return [n for n in graph.leaves() if may_debug(graph, n, self.limits)]

    def open_expansions(self, graph: Graph) -> list[int | None]:
        """Batch mode: nodes (``None``: the root) whose batch of children is under way, oldest first."""
        k = self.params.num_children
        out: list[int | None] = [None] if graph.num_children(None) % k else []
        out.extend(n.id for n in graph if n.is_valid and graph.num_children(n.id) % k)
        return out

    def _expandable(self, graph: Graph, node: NodeView | None) -> bool:
        if node is not None and not node.is_valid:
            return False
        count = graph.num_children(None if node is None else node.id)
        return count == 0 if self.batch else count < self.params.num_children

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
        if self.batch:
            expanding = self.open_expansions(graph)
            if expanding:
                target = expanding[0]
                return Action("draft") if target is None else Action("improve", (target,))
        selected = self.select(graph)
        if selected is None:
            return None if graph.in_flight() else Action("draft")
        target, _ = selected
        return Action("draft") if target is None else Action("improve", (target,))
