"""Debug chains: when a buggy node may be debugged once more.

A *debug chain* is a buggy node that is not itself a debug node (its *origin*: a draft, an
improve or a crossover that came out buggy) followed by the consecutive DEBUG nodes grown from
it. Every policy ends a chain with the same three rules, taken from AIRA-dojo's debug cycle:

1. **Depth.** A chain may take at most ``max_debug_depth`` DEBUG steps. Its depth is the tip's
   ``debug_depth`` plus ``draft_debug_depth`` when the origin is a draft. The offset exists
   because AIRA-dojo hangs its drafts under an empty, buggy root node and so counts a draft as
   one debug step already: ``draft_debug_depth: 1`` reproduces that, ``0`` (the default) gives
   draft chains the same length as any other.
2. **Time.** With ``max_debug_time`` set, a chain whose executions (the origin's included) have
   together used at least that many seconds stops. As in the reference, the total is checked
   after each DEBUG step, so the first DEBUG of a buggy node always runs, however long its
   origin's execution took.
3. A tip that already has a child (pending included) is being debugged and is not offered again.

A node that is not buggy ends its chain (it is the fix).
"""

from __future__ import annotations

from dataclasses import dataclass

from aira_dsl.search.graph import Graph, NodeView

__all__ = ["DebugLimits", "chain_depth", "chain_nodes", "chain_origin", "chain_time", "may_debug", "within_limits"]


@dataclass(frozen=True)
class DebugLimits:
    """The three chain parameters every policy has (see the module docstring)."""

    max_debug_depth: int
    max_debug_time: float | None = None
    draft_debug_depth: int = 0


def chain_nodes(graph: Graph, node_id: int) -> list[NodeView]:
    """The chain that ends at ``node_id``: its origin, then each DEBUG node, oldest first."""
    chain = [graph[node_id]]
    while chain[-1].is_debug:
        chain.append(graph[chain[-1].parent_ids[0]])
    chain.reverse()
    return chain


def chain_origin(graph: Graph, node_id: int) -> NodeView:
    """The first node of the chain ending at ``node_id`` (the node itself unless it is a DEBUG node)."""
    node = graph[node_id]
    while node.is_debug:
        node = graph[node.parent_ids[0]]
    return node


def chain_depth(graph: Graph, node: NodeView, draft_debug_depth: int = 0) -> int:
    """DEBUG steps the chain ending at ``node`` has taken, counting a draft origin as ``draft_debug_depth``."""
    origin = chain_origin(graph, node.id)
    return node.debug_depth + (draft_debug_depth if not origin.parent_ids else 0)


def chain_time(graph: Graph, node_id: int) -> float:
    """Seconds of execution the chain ending at ``node_id`` has used (nodes never run count 0)."""
    return sum(n.duration or 0.0 for n in chain_nodes(graph, node_id))


def within_limits(graph: Graph, node: NodeView, limits: DebugLimits) -> bool:
    """Whether the chain ending at ``node`` may take another DEBUG step (rules 1 and 2; children ignored)."""
    if chain_depth(graph, node, limits.draft_debug_depth) >= limits.max_debug_depth:
        return False
    if limits.max_debug_time is None or node.debug_depth == 0:
        return True
    return chain_time(graph, node.id) < limits.max_debug_time


def may_debug(graph: Graph, node: NodeView, limits: DebugLimits) -> bool:
    """Whether ``node`` is the open tip of a debug chain: buggy, childless and within both caps."""
    return node.is_buggy and graph.num_children(node.id) == 0 and within_limits(graph, node, limits)
