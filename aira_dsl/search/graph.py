"""The search graph as policies see it: immutable node views plus structural queries.

The engine owns the journal; policies only need a compact, read-mostly picture of it: which
nodes exist, how they are linked, which are still running and how the finished ones scored.
``NodeView`` is that picture for one node and ``Graph`` indexes them. Keeping it free of code,
outputs and prompts keeps the policies pure and cheap to test on hand-built graphs.

Conventions every policy relies on:

- ids are step numbers assigned by the engine in creation order, so a child's id is always
  larger than its parents' ids and "oldest first" means "lowest id first";
- the task itself is an implicit virtual root: drafts are the nodes without parents;
- a node names its ``operator`` (the spec's operator name), that operator's ``kind`` (a row of
  ``aira_dsl/kinds.py``, which fixes how many parents it has) and the policy ``role`` it played
  (empty under a declarative policy that names operators directly);
- ``fitness`` is already oriented so that higher is better (the engine negates minimised
  metrics) and is ``None`` for buggy and pending nodes;
- pending nodes (in flight) are part of the graph, so a policy can see what is being worked on;
- the graph remembers the order in which nodes finished (``finish_order``): a policy that
  reacts to arrivals (steady-state evolution) is rebuilt by replaying them in that order.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Literal

from aira_dsl.kinds import KindError, get_kind, kind_names

__all__ = ["Graph", "GraphError", "NodeStatus", "NodeView"]

NodeStatus = Literal["pending", "done"]


class GraphError(ValueError):
    """A node or an update that would make the graph inconsistent (an engine bug, not a user error)."""


@dataclass(frozen=True)
class NodeView:
    """One node of the search graph, as far as search decisions are concerned.

    ``debug_depth`` counts the consecutive nodes of a debug kind ending at this node (0 for
    anything that is not a debug node); ``depth`` is the distance from the virtual root (drafts
    are 0). ``generation`` and ``island`` are recorded for the evolutionary policy and ``None``
    otherwise.

    ``kind`` and ``role`` may be left out when ``operator`` is itself a kind name (as in
    hand-built graphs: ``NodeView(id=0, parent_ids=(), operator="draft")``): both then default
    to that name.
    ``duration`` is the wall-clock seconds its execution took (``None`` while pending, or when no
    code was run); debug-time caps (``max_debug_time``) add it up along a debug chain.
    """

    id: int
    parent_ids: tuple[int, ...]
    operator: str
    status: NodeStatus = "pending"
    buggy: bool | None = None
    fitness: float | None = None
    metric: float | None = None
    plan: str = ""
    summary: str | None = None
    debug_depth: int = 0
    depth: int = 0
    generation: int | None = None
    island: int | None = None
    kind: str = ""
    role: str | None = None
    duration: float | None = None

    def __post_init__(self) -> None:
        if self.id < 0:
            raise GraphError(f"node id must be >= 0, got {self.id}")
        if not self.kind:
            object.__setattr__(self, "kind", self.operator)
        if self.role is None:
            object.__setattr__(self, "role", self.kind if self.operator == self.kind else "")
        try:
            spec = get_kind(self.kind)
        except KindError:
            raise GraphError(f"node {self.id}: unknown operator kind '{self.kind}' "
                             f"(expected one of {', '.join(kind_names())})") from None
        if not spec.accepts_parents(len(self.parent_ids)):
            if spec.parents is None:
                raise GraphError(f"node {self.id}: a {self.kind} operator does not make graph nodes")
            low, high = spec.parents
            want = str(low) if low == high else f"{low}-{high}"
            raise GraphError(f"node {self.id}: a {self.kind} node has {want} parent(s), "
                             f"got {len(self.parent_ids)}")
        if len(set(self.parent_ids)) != len(self.parent_ids):
            raise GraphError(f"node {self.id}: parents must be distinct, got {self.parent_ids}")
        if any(p >= self.id for p in self.parent_ids):
            raise GraphError(f"node {self.id}: parents must be older (smaller ids), got {self.parent_ids}")
        if self.status == "pending":
            if self.buggy is not None or self.fitness is not None or self.metric is not None:
                raise GraphError(f"node {self.id}: a pending node has no outcome yet")
        elif self.status == "done":
            if self.buggy is None:
                raise GraphError(f"node {self.id}: a finished node must say whether it is buggy")
            if self.buggy and self.fitness is not None:
                raise GraphError(f"node {self.id}: a buggy node has no fitness")
            if self.fitness is not None and not math.isfinite(self.fitness):
                raise GraphError(f"node {self.id}: fitness must be finite (treat NaN/inf as buggy)")
            if self.duration is not None and not (math.isfinite(self.duration) and self.duration >= 0):
                raise GraphError(f"node {self.id}: duration must be a finite number of seconds >= 0")
        else:
            raise GraphError(f"node {self.id}: status must be 'pending' or 'done', got {self.status!r}")

    @property
    def is_debug(self) -> bool:
        """Made by a debug kind (its ``debug_depth`` continues its parent's chain)."""
        return get_kind(self.kind).debug

    @property
    def is_pending(self) -> bool:
        return self.status == "pending"

    @property
    def is_done(self) -> bool:
        return self.status == "done"

    @property
    def is_buggy(self) -> bool:
        """Finished and buggy (pending nodes are neither buggy nor valid)."""
        return self.status == "done" and self.buggy is True

    @property
    def is_valid(self) -> bool:
        """Finished, not buggy, and scored: the only nodes a policy may improve or cross over."""
        return self.status == "done" and self.buggy is False and self.fitness is not None


class Graph:
    """Nodes indexed by id with their children; the structure policies query.

    The graph only enforces structure (parents exist, are finished and older than the child);
    which operator may be applied to which node is the policies' business.
    """

    def __init__(self, nodes: Iterable[NodeView] = (), *, finish_order: Iterable[int] | None = None) -> None:
        """Index ``nodes`` (any order). ``finish_order`` lists the finished nodes' ids in the order
        they finished; without it they are taken to have finished in id order."""
        self._nodes: dict[int, NodeView] = {}
        self._children: dict[int, list[int]] = {}
        self._roots: list[int] = []
        self._ids: list[int] = []
        self._finished: list[int] = []
        for node in sorted(nodes, key=lambda n: n.id):
            self.add(node)
        if finish_order is not None:
            order = list(finish_order)
            if sorted(order) != sorted(self._finished):
                raise GraphError("finish_order must list every finished node exactly once")
            self._finished = order

    # -- building -------------------------------------------------------------------------

    def add(self, node: NodeView) -> NodeView:
        """Insert a node (pending or finished) whose parents are already finished nodes of the graph."""
        if node.id in self._nodes:
            raise GraphError(f"node {node.id} already exists")
        for pid in node.parent_ids:
            parent = self._nodes.get(pid)
            if parent is None:
                raise GraphError(f"node {node.id}: parent {pid} is not in the graph")
            if not parent.is_done:
                raise GraphError(f"node {node.id}: parent {pid} has not finished")
        self._nodes[node.id] = node
        self._children[node.id] = []
        bisect.insort(self._ids, node.id)
        for pid in node.parent_ids:
            bisect.insort(self._children[pid], node.id)
        if not node.parent_ids:
            bisect.insort(self._roots, node.id)
        if node.is_done:
            self._finished.append(node.id)
        return node

    def next_id(self) -> int:
        """The id the next created node gets (one past the largest id so far)."""
        return self._ids[-1] + 1 if self._ids else 0

    def start(self, operator: str, parent_ids: tuple[int, ...] = (), *, node_id: int | None = None,
              plan: str = "", generation: int | None = None, island: int | None = None,
              kind: str = "", role: str | None = None) -> NodeView:
        """Add a pending node, deriving ``depth`` and ``debug_depth`` from its parents.

        ``debug_depth`` is the parent's plus one for a node of a debug kind, else 0.
        """
        parents = [self[p] for p in parent_ids]
        depth = 1 + max((p.depth for p in parents), default=-1)
        node = NodeView(id=self.next_id() if node_id is None else node_id, parent_ids=tuple(parent_ids),
                        operator=operator, status="pending", plan=plan, depth=depth, generation=generation,
                        island=island, kind=kind, role=role)
        if node.is_debug and parents:
            node = replace(node, debug_depth=parents[0].debug_depth + 1)
        return self.add(node)

    def finish(self, node_id: int, *, buggy: bool, fitness: float | None, metric: float | None = None,
               plan: str | None = None, summary: str | None = None, duration: float | None = None) -> NodeView:
        """Record the outcome of a pending node and return its finished view."""
        node = self[node_id]
        if not node.is_pending:
            raise GraphError(f"node {node_id} has already finished")
        done = replace(node, status="done", buggy=buggy, fitness=None if buggy else fitness,
                       metric=metric, plan=node.plan if plan is None else plan, summary=summary,
                       duration=duration)
        self._nodes[node_id] = done
        self._finished.append(node_id)
        return done

    def discard(self, node_id: int) -> None:
        """Forget a pending node that will never finish (cancelled work)."""
        node = self[node_id]
        if not node.is_pending:
            raise GraphError(f"node {node_id} has finished and cannot be discarded")
        del self._nodes[node_id]
        del self._children[node_id]
        self._ids.remove(node_id)
        for pid in node.parent_ids:
            self._children[pid].remove(node_id)
        if not node.parent_ids:
            self._roots.remove(node_id)

    # -- lookup ---------------------------------------------------------------------------

    def __getitem__(self, node_id: int) -> NodeView:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise GraphError(f"no node {node_id} in the graph") from None

    def get(self, node_id: int) -> NodeView | None:
        return self._nodes.get(node_id)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[NodeView]:
        """Nodes in id (creation) order."""
        return (self._nodes[i] for i in list(self._ids))

    def nodes(self) -> list[NodeView]:
        return list(self)

    # -- structure ------------------------------------------------------------------------

    def roots(self) -> list[NodeView]:
        """Children of the virtual root: every draft, pending ones included."""
        return [self._nodes[i] for i in self._roots]

    def children(self, node_id: int | None) -> list[NodeView]:
        """Children of a node, pending ones included, oldest first; ``None`` means the virtual root."""
        return [self._nodes[i] for i in self._child_ids(node_id)]

    def num_children(self, node_id: int | None) -> int:
        """How many children a node has, pending ones included; ``None`` means the virtual root."""
        return len(self._child_ids(node_id))

    def _child_ids(self, node_id: int | None) -> list[int]:
        if node_id is None:
            return self._roots
        if node_id not in self._children:
            raise GraphError(f"no node {node_id} in the graph")
        return self._children[node_id]

    def leaves(self) -> list[NodeView]:
        """Nodes with no children at all (a pending child makes its parent an inner node)."""
        return [n for n in self if not self._children[n.id]]

    def ancestors(self, node_id: int) -> list[NodeView]:
        """Every node reachable through parent links, oldest first (the node itself excluded)."""
        seen: set[int] = set()
        stack = list(self[node_id].parent_ids)
        while stack:
            pid = stack.pop()
            if pid not in seen:
                seen.add(pid)
                stack.extend(self._nodes[pid].parent_ids)
        return [self._nodes[i] for i in sorted(seen)]

    # -- outcome filters ------------------------------------------------------------------

    def done(self) -> list[NodeView]:
        return [n for n in self if n.is_done]

    def finish_order(self) -> list[int]:
        """Ids of the finished nodes in the order they finished (as recorded, or id order for a graph built from finished nodes)."""
        return list(self._finished)

    def in_flight(self) -> list[NodeView]:
        return [n for n in self if n.is_pending]

    def valid(self) -> list[NodeView]:
        return [n for n in self if n.is_valid]

    def buggy(self) -> list[NodeView]:
        return [n for n in self if n.is_buggy]

    def best(self, n: int = 1) -> list[NodeView]:
        """The ``n`` fittest valid nodes, fittest first; equal fitness goes to the older node."""
        ranked = sorted(self.valid(), key=lambda v: (-_fitness(v), v.id))
        return ranked[:n]


def _fitness(node: NodeView) -> float:
    assert node.fitness is not None
    return node.fitness

