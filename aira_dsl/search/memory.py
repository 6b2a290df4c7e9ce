"""Which past nodes an operator's prompt shows: the memory scopes.

Scopes (an operator's ``memory.scope``):

- ``none``: nothing;
- ``global``: every finished node of the run;
- ``siblings``: the finished children of the node being operated on — for a draft, the other
  drafts (children of the virtual root); for an improve, the earlier improvements of the same
  parent; for a crossover, the children of its first parent;
- ``ancestors``: the debug chain — from the node being debugged up through its (first) parents
  while they are buggy, stopping before the first non-buggy ancestor, oldest first.

The ``where`` filter (the compiled expression, passed in as a predicate) is applied next, then
``limit`` keeps the most recent entries (the end of the list). Pending nodes never appear.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aira_dsl.kinds import KindError, get_kind
from aira_dsl.search.graph import Graph, NodeView

__all__ = ["MEMORY_SCOPES", "memory_entries", "select_memory"]

MEMORY_SCOPES = ("none", "global", "siblings", "ancestors")


def select_memory(graph: Graph, scope: str, *, target: int | None, operator_kind: str,
                  where: Callable[[NodeView], bool] | None = None, limit: int | None = None) -> list[NodeView]:
    """The nodes an operator's memory shows, oldest first.

    ``target`` is the node being operated on (the parent of the node being created; the first
    parent for a crossover) and ``None`` for a draft.
    """
    if scope not in MEMORY_SCOPES:
        raise ValueError(f"unknown memory scope '{scope}'; expected one of {', '.join(MEMORY_SCOPES)}")
    try:
        kind = get_kind(operator_kind)
    except KindError as exc:
        raise ValueError(str(exc)) from None
    if kind.parents == (0, 0) and target is not None:
        raise ValueError(f"a {operator_kind} operates on the task itself: pass target=None")
    if limit is not None and limit < 0:
        raise ValueError(f"memory limit must be >= 0, got {limit}")
    if scope == "none":
        chosen: list[NodeView] = []
    elif scope == "global":
        chosen = graph.done()
    elif scope == "siblings":
        chosen = [n for n in graph.children(target) if n.is_done]
    else:
        chosen = _debug_chain(graph, target)
    if where is not None:
        chosen = [n for n in chosen if where(n)]
    if limit is not None:
        chosen = chosen[len(chosen) - limit:] if limit else []
    return chosen


def _debug_chain(graph: Graph, target: int | None) -> list[NodeView]:
    chain: list[NodeView] = []
    current = None if target is None else graph[target]
    while current is not None and current.is_buggy:
        chain.append(current)
        current = graph[current.parent_ids[0]] if current.parent_ids else None
    chain.reverse()
    return chain


def memory_entries(nodes: Sequence[NodeView]) -> list[dict[str, Any]]:
    """The template's ``memory`` list: one ``{plan, summary, metric, buggy, operator}`` per node.

    A buggy node's metric is shown as ``None``: whatever number it printed is not a score the
    search trusts (the reference shows metrics of valid nodes only).
    """
    return [{"plan": n.plan, "summary": n.summary, "metric": None if n.buggy else n.metric,
             "buggy": bool(n.buggy), "operator": n.operator} for n in nodes]
