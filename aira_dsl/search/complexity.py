"""The complexity cue: how ambitious the next idea should be, from how crowded its parent is.

AIRA asks for a simple idea while a node has few children and for bolder ones as they pile up
(the paper: fewer than 2 → minimal, 2–3 → moderate, 4 or more → advanced). A spec writes this
as *rungs* ``[{below: 2, cue: minimal}, {below: 4, cue: moderate}, {cue: advanced}]``; the
first rung whose ``below`` exceeds the count (or that has no ``below``) gives the cue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aira_dsl.search.graph import Graph

__all__ = ["children_count", "complexity_cue", "rungs_from_plan"]


def rungs_from_plan(rungs: Sequence[Mapping[str, Any]]) -> list[tuple[int | None, str]]:
    """The plan's ``[{below, cue}, ...]`` as ``(below, cue)`` pairs."""
    return [(r.get("below"), str(r["cue"])) for r in rungs]


def children_count(graph: Graph, target: int | None, *, before: int | None = None) -> int:
    """Children of the operated node (``None``: the virtual root, i.e. drafts), pending included.

    ``before`` excludes the node being created and anything newer: an engine that has already
    added the pending node for this operation passes its id, so the node does not count itself.
    """
    return sum(1 for c in graph.children(target) if before is None or c.id < before)


def complexity_cue(rungs: Sequence[tuple[int | None, str]], graph: Graph, target: int | None,
                   *, before: int | None = None) -> str | None:
    """The cue of the first rung that holds for the operated node's child count; ``None`` if none."""
    if not rungs:
        return None
    count = children_count(graph, target, before=before)
    for below, cue in rungs:
        if below is None or count < below:
            return cue
    return None
