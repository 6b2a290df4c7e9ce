"""MCTS ``expansion: batch`` (AIRA-dojo's MCTS) against the rules in docs/search.md.

With one worker: every expanded leaf gets exactly ``num_children`` children in a row (no other
expansion in between), and a buggy child's debug chain runs to its end before the next child or
the next expansion. With several workers: a leaf's remaining children are handed out
concurrently, and a new leaf is selected only when no chain is open and no expansion under way
has children left to create.
"""

from __future__ import annotations

from typing import Any

import pytest
from search_support import Simulation, fake_environment, grow

from aira_dsl.search import Action, Graph, NodeView, make_policy
from aira_dsl.search.debugging import chain_origin, may_debug


def batches(sim: Simulation) -> list[tuple[int | None, list[int]]]:
    """Runs of consecutive non-debug creations that share a parent (``None``: the root)."""
    runs: list[tuple[int | None, list[int]]] = []
    for node_id, action in sim.actions:
        if action.operator == "debug":
            continue
        parent = action.parent_ids[0] if action.parent_ids else None
        if runs and runs[-1][0] == parent and len(runs[-1][1]) < sim.policy.params.num_children:
            runs[-1][1].append(node_id)
        else:
            runs.append((parent, [node_id]))
    return runs


@pytest.mark.parametrize(("num_children", "seed"), [(5, 0), (3, 1), (2, 7)])
def test_batch_creates_num_children_consecutive_children_per_leaf(num_children: int, seed: int) -> None:
    policy: Any = make_policy("mcts", {"expansion": "batch", "num_children": num_children, "max_debug_depth": 3})
    steps = 90
    sim = Simulation(policy, workers=1, seed=seed).run(steps, fake_environment(0.4))
    runs = batches(sim)
    parents = [parent for parent, _ in runs]
    complete = runs if len(sim.graph) < steps else runs[:-1]  # the budget may cut the last batch
    assert all(len(children) == num_children for _, children in complete), runs
    expanded = [parent for parent in parents if parent is not None]
    assert len(set(expanded)) == len(expanded), "a leaf was expanded twice"
    assert len(runs) >= 4
    # each expansion after the first starts at a valid leaf (no children when its batch began)
    for parent, children in runs[1:]:
        if parent is not None:
            before = [c for c in sim.graph.children(parent) if c.id < children[0]]
            assert sim.graph[parent].is_valid and not before


def test_buggy_childrens_debug_chains_run_before_the_next_child() -> None:
    policy: Any = make_policy("mcts", {"expansion": "batch", "num_children": 4, "max_debug_depth": 3})
    sim = Simulation(policy, workers=1, seed=3).run(100, fake_environment(0.5))
    graph = sim.graph
    last_slot: int | None = None
    for node_id, action in sim.actions:
        if action.operator == "debug":
            # every debug step continues the chain of the most recent child
            assert last_slot is not None and chain_origin(graph, node_id).id == last_slot
            continue
        if last_slot is not None:
            # that chain was closed (fixed, or out of depth) before this child was created
            tip = max(n.id for n in graph if n.id < node_id and chain_origin(graph, n.id).id == last_slot)
            view = graph[tip]
            assert view.is_valid or view.debug_depth >= 3 or not may_debug(graph, view, policy.limits)
        last_slot = node_id


def test_batch_selects_the_leaf_with_the_best_uct() -> None:
    g, p = Graph(), make_policy("mcts", {"expansion": "batch", "num_children": 2, "uct_c": 0.0})
    grow(g, "draft", (), 0.2)           # 0
    grow(g, "draft", (), 0.9)           # 1
    for node in g:
        p.observe(g, node.id)
    assert p.propose(g, None) == Action("improve", (1,))  # type: ignore[arg-type]  # c = 0: the fitter leaf
    grow(g, "improve", (1,), 0.5)       # 2: the batch of node 1 is under way
    p.observe(g, 2)
    assert p.propose(g, None) == Action("improve", (1,))  # type: ignore[arg-type]  # its second child


def test_progressive_is_the_default_and_keeps_widening_the_first_non_full_node() -> None:
    policy: Any = make_policy("mcts", {"num_children": 2})
    assert policy.params.expansion == "progressive"
    g = Graph()
    grow(g, "draft", (), 0.5)
    grow(g, "draft", (), 0.4)
    grow(g, "improve", (0,), 0.6)
    for node in g:
        policy.observe(g, node.id)
    # node 0 has one child of two: progressive widens it again; batch would have given it both
    # children in a row long ago, and now starts at a leaf
    action = policy.propose(g, None)
    assert action is not None and action.parent_ids == (0,)
    batch: Any = make_policy("mcts", {"num_children": 2, "expansion": "batch"})
    batch.rebuild(g)
    assert batch.propose(g, None).parent_ids == (0,)  # its batch is under way (1 of 2)


@pytest.mark.parametrize("workers", [2, 3, 5])
def test_batch_with_several_workers(workers: int) -> None:
    """The remaining children of a leaf go to free workers; a new leaf waits for every batch to
    be handed out and every debug chain to be closed."""
    policy: Any = make_policy("mcts", {"expansion": "batch", "num_children": 3, "max_debug_depth": 2})
    sim = Simulation(policy, workers=workers, seed=11)
    outcome = fake_environment(0.35)
    graph = sim.graph
    concurrent_siblings = 0
    original = policy.propose

    def checked(g: Graph, rng: Any) -> Any:
        action = original(g, rng)
        if action is None or action.operator == "debug":
            return action
        target = action.parent_ids[0] if action.parent_ids else None
        siblings = g.children(target)
        if len(siblings) % 3 == 0:  # a new expansion starts here
            assert not policy.open_debug_chains(g)
            assert not policy.open_expansions(g)
        nonlocal concurrent_siblings
        concurrent_siblings += any(s.is_pending for s in siblings)
        return action

    policy.propose = checked
    sim.run(120, outcome)
    assert concurrent_siblings > 0, "siblings were never created concurrently"
    for node in graph:
        if node.is_valid:
            assert graph.num_children(node.id) in (0, 3) or len(graph) >= 118  # only the budget cuts a batch


def test_batch_state_is_rebuilt_from_the_graph() -> None:
    for seed in range(4):
        live: Any = make_policy("mcts", {"expansion": "batch", "num_children": 3, "max_debug_depth": 2})
        sim = Simulation(live, workers=3, seed=seed).run(40, fake_environment(0.3))
        rebuilt: Any = make_policy("mcts", {"expansion": "batch", "num_children": 3, "max_debug_depth": 2})
        rebuilt.rebuild(sim.graph)
        assert rebuilt.state() == live.state()
        assert rebuilt.propose(sim.graph, None) == live.propose(sim.graph, None)


def test_batch_widens_the_root_by_a_whole_batch_when_stuck() -> None:
    policy: Any = make_policy("mcts", {"expansion": "batch", "num_children": 2, "max_debug_depth": 1})

    def buggy_first_batch(graph: Graph, node: NodeView) -> float | None:
        return None if node.id < 4 else 0.5  # drafts 0, 2 and their fixes 1, 3 all fail

    sim = Simulation(policy, workers=1).run(10, buggy_first_batch)
    ops = [(a.operator, a.parent_ids) for _, a in sim.actions]
    assert ops[:6] == [("draft", ()), ("debug", (0,)), ("draft", ()), ("debug", (2,)), ("draft", ()), ("draft", ())]


def consecutive_improves(sim: Simulation) -> list[int]:
    """Lengths of runs of improves of one parent, debug steps in between ignored."""
    runs: list[int] = []
    previous: tuple[int, ...] | None = None
    for _, action in sim.actions:
        if action.operator == "debug":
            continue
        if action.operator == "improve" and action.parent_ids == previous:
            runs[-1] += 1
        elif action.operator == "improve":
            runs.append(1)
        previous = action.parent_ids if action.operator == "improve" else None
    return runs


def test_batch_and_progressive_differ_in_consecutive_improves_per_parent() -> None:
    """The measurement docs/search.md quotes: 60 steps, one worker, 35% buggy nodes."""
    runs = {mode: consecutive_improves(Simulation(make_policy("mcts", {"expansion": mode}), workers=1).run(
        60, fake_environment(0.35))) for mode in ("progressive", "batch")}
    assert runs["batch"] == [5] * len(runs["batch"]) and len(runs["batch"]) >= 5
    assert round(sum(runs["progressive"]) / len(runs["progressive"]), 2) == 1.87
