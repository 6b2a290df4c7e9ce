"""A tidy tree layout for the search graph, linear in the number of nodes.

The search graph is a forest (drafts are roots; improve and debug have one parent) plus the
second parent of crossover nodes. The layout uses each node's first known parent as its tree
parent (other parents become extra edges the viewer draws dashed), places leaves on
consecutive columns in depth-first order (children by id) and centres every parent over its
children; the row is the depth. It is iterative, so a 1,000-step debug chain does not hit
Python's recursion limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Position", "tree_layout"]


@dataclass(frozen=True)
class Position:
    """A node's column (may be fractional: centred over children) and row (tree depth)."""

    x: float
    y: int


def tree_layout(ids: Sequence[int], parents: Sequence[Sequence[int]]) -> dict[int, Position]:
    """Positions for nodes ``ids`` whose parent lists are ``parents`` (same order)."""
    known = set(ids)
    children: dict[int | None, list[int]] = {None: []}
    for node, node_parents in zip(ids, parents, strict=True):
        tree_parent = next((p for p in node_parents if p in known and p != node), None)
        children.setdefault(tree_parent, []).append(node)
        children.setdefault(node, [])
    # A parent id that is not an ancestor-free reference (a cycle) would never be reached from a
    # root: such nodes are attached to the virtual root afterwards.
    for kids in children.values():
        kids.sort()
    x: dict[int, float] = {}
    y: dict[int, int] = {}
    next_leaf = 0.0
    visited: set[int] = set()

    def place_from(root_list: list[int]) -> None:
        nonlocal next_leaf
        stack: list[tuple[int, int, bool]] = [(n, 0, False) for n in reversed(root_list)]
        while stack:
            node, depth, expanded = stack.pop()
            if expanded:
                kids = [k for k in children[node] if k in x]
                x[node] = (x[kids[0]] + x[kids[-1]]) / 2 if kids else next_leaf
                if not kids:
                    next_leaf += 1
                continue
            if node in visited:
                continue
            visited.add(node)
            y[node] = depth
            stack.append((node, depth, True))
            stack.extend((k, depth + 1, False) for k in reversed(children[node]) if k not in visited)

    place_from(children[None])
    orphans = [n for n in ids if n not in visited]
    if orphans:
        place_from(sorted(orphans))
    return {n: Position(x[n], y[n]) for n in ids}
