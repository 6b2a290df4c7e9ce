"""The search graph: node invariants, structure queries and the engine-facing updates."""

from __future__ import annotations

import math

import pytest
from search_support import grow

from aira_dsl.search import Graph, GraphError, NodeView


def test_node_invariants_reject_inconsistent_nodes() -> None:
    with pytest.raises(GraphError, match="improve node has 1 parent"):
        NodeView(id=1, parent_ids=(), operator="improve")
    with pytest.raises(GraphError, match="crossover node has 2"):
        NodeView(id=3, parent_ids=(1,), operator="crossover")
    with pytest.raises(GraphError, match="distinct"):
        NodeView(id=3, parent_ids=(1, 1), operator="crossover")
    with pytest.raises(GraphError, match="older"):
        NodeView(id=1, parent_ids=(2,), operator="debug")
    with pytest.raises(GraphError, match="does not make graph nodes"):
        NodeView(id=0, parent_ids=(), operator="analyze")
    with pytest.raises(GraphError, match="unknown operator kind 'summarise'"):
        NodeView(id=0, parent_ids=(), operator="summarise")
    with pytest.raises(GraphError, match="pending node has no outcome"):
        NodeView(id=0, parent_ids=(), operator="draft", status="pending", buggy=False)
    with pytest.raises(GraphError, match="buggy node has no fitness"):
        NodeView(id=0, parent_ids=(), operator="draft", status="done", buggy=True, fitness=0.3)
    with pytest.raises(GraphError, match="finite"):
        NodeView(id=0, parent_ids=(), operator="draft", status="done", buggy=False, fitness=math.nan)
    with pytest.raises(GraphError, match="must say whether"):
        NodeView(id=0, parent_ids=(), operator="draft", status="done")


def test_structure_queries() -> None:
    g = Graph()
    a = grow(g, "draft", (), 0.5)
    b = grow(g, "draft", (), None)
    c = grow(g, "improve", (a.id,), 0.7)
    d = grow(g, "debug", (b.id,), None)
    e = grow(g, "crossover", (a.id, c.id), "pending")
    assert [n.id for n in g.roots()] == [a.id, b.id]
    assert [n.id for n in g.children(None)] == [a.id, b.id]
    assert [n.id for n in g.children(a.id)] == [c.id, e.id]
    assert g.num_children(a.id) == 2 and g.num_children(None) == 2
    assert [n.id for n in g.leaves()] == [d.id, e.id]
    assert [n.id for n in g.valid()] == [a.id, c.id]
    assert [n.id for n in g.buggy()] == [b.id, d.id]
    assert [n.id for n in g.in_flight()] == [e.id]
    assert [n.id for n in g.ancestors(e.id)] == [a.id, c.id]
    assert [n.id for n in g.best(5)] == [c.id, a.id]
    assert (d.depth, d.debug_depth, c.depth, e.depth) == (1, 1, 1, 2)
    assert g.next_id() == 5 and len(g) == 5 and 4 in g and 9 not in g


def test_best_breaks_ties_towards_the_older_node() -> None:
    g = Graph()
    grow(g, "draft", (), 0.3)
    grow(g, "draft", (), 0.8)
    grow(g, "draft", (), 0.8)
    assert [n.id for n in g.best(3)] == [1, 2, 0]


def test_debug_depth_counts_consecutive_debug_steps_only() -> None:
    g = Graph()
    grow(g, "draft", (), None)
    grow(g, "debug", (0,), None)
    grow(g, "debug", (1,), 0.4)
    grow(g, "improve", (2,), None)
    grow(g, "debug", (3,), "pending")
    assert [n.debug_depth for n in g] == [0, 1, 2, 0, 1]


def test_parents_must_exist_and_be_finished() -> None:
    g = Graph()
    grow(g, "draft", (), "pending")
    with pytest.raises(GraphError, match="has not finished"):
        g.start("improve", (0,))
    with pytest.raises(GraphError, match="not in the graph"):
        g.add(NodeView(id=7, parent_ids=(5,), operator="improve"))
    with pytest.raises(GraphError, match="already exists"):
        g.add(NodeView(id=0, parent_ids=(), operator="draft"))


def test_finish_and_discard() -> None:
    g = Graph()
    grow(g, "draft", (), 0.2)
    pending = g.start("improve", (0,))
    with pytest.raises(GraphError, match="cannot be discarded"):
        g.discard(0)
    g.discard(pending.id)
    assert g.children(0) == [] and len(g) == 1
    again = g.start("improve", (0,))
    assert again.id == 1
    done = g.finish(again.id, buggy=False, fitness=0.9, metric=0.1, summary="ok")
    assert done.is_valid and done.metric == 0.1 and done.summary == "ok"
    with pytest.raises(GraphError, match="already finished"):
        g.finish(again.id, buggy=True, fitness=None)


def test_graph_built_from_unordered_nodes_matches_incremental() -> None:
    g = Graph()
    grow(g, "draft", (), 0.5)
    grow(g, "draft", (), None)
    grow(g, "debug", (1,), 0.6)
    grow(g, "improve", (0,), "pending")
    rebuilt = Graph(reversed(g.nodes()))
    assert rebuilt.nodes() == g.nodes()
    assert [c.id for c in rebuilt.children(1)] == [2]
