"""MCTS: UCT values by hand, selection, backup, debug chains, virtual visits, stalls."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
from search_support import finish, grow

from aira_dsl.search import Action, Graph, MctsParams, MctsPolicy, uct_value


def mcts(num_children: int = 3, uct_c: float = 0.25, max_debug_depth: int = 0) -> MctsPolicy:
    return MctsPolicy(MctsParams(num_children=num_children, uct_c=uct_c, max_debug_depth=max_debug_depth))


def observed(policy: MctsPolicy, g: Graph) -> MctsPolicy:
    for node in g.done():
        policy.observe(g, node.id)
    return policy


def small_tree() -> Graph:
    """Draft 0 (0.8) with improves 3 and 4 (0.8 each); drafts 1 (0.5) and 2 (0.6)."""
    g = Graph()
    grow(g, "draft", (), 0.8)
    grow(g, "draft", (), 0.5)
    grow(g, "draft", (), 0.6)
    grow(g, "improve", (0,), 0.8)
    grow(g, "improve", (0,), 0.8)
    return g


def test_uct_values_by_hand_and_greedy_choice_with_small_c() -> None:
    g = small_tree()
    p = observed(mcts(uct_c=0.25), g)
    assert (p.visits(None), p.visits(0), p.visits(1), p.visits(2)) == (5, 3, 1, 1)
    # Q̂ over [0.5, 0.8]: node 0 → 1, node 1 → 0, node 2 → 1/3
    assert p.uct(g, 0) == pytest.approx(1 + 0.25 * math.sqrt(math.log(5) / 3))
    assert p.uct(g, 1) == pytest.approx(0 + 0.25 * math.sqrt(math.log(5) / 1))
    assert p.uct(g, 2) == pytest.approx(1 / 3 + 0.25 * math.sqrt(math.log(5) / 1))
    assert p.propose(g, random.Random(0)) == Action("improve", (0,))


def test_large_c_explores_the_less_visited_branch() -> None:
    g = small_tree()
    p = observed(mcts(uct_c=2.0), g)
    assert p.uct(g, 0) == pytest.approx(1 + 2 * math.sqrt(math.log(5) / 3))   # 2.4649
    assert p.uct(g, 2) == pytest.approx(1 / 3 + 2 * math.sqrt(math.log(5)))   # 2.8706
    assert p.propose(g, random.Random(0)) == Action("improve", (2,))


def test_in_flight_work_counts_as_a_virtual_visit() -> None:
    g = small_tree()
    p = observed(mcts(uct_c=2.0), g)
    grow(g, "improve", (2,), "pending")
    # Ñ(2) = 1 + 1 pending, Ñ(root) = 5 + 1 pending
    assert p.uct(g, 2) == pytest.approx(1 / 3 + 2 * math.sqrt(math.log(6) / 2))   # 2.2264
    assert p.uct(g, 1) == pytest.approx(0 + 2 * math.sqrt(math.log(6) / 1))       # 2.6771
    assert p.uct(g, 0) == pytest.approx(1 + 2 * math.sqrt(math.log(6) / 3))       # 2.5457
    assert p.propose(g, random.Random(0)) == Action("improve", (1,))


def test_selection_descends_into_fully_expanded_nodes() -> None:
    g = Graph()
    grow(g, "draft", (), 0.4)
    grow(g, "draft", (), 0.2)
    grow(g, "improve", (0,), 0.5)
    grow(g, "improve", (0,), 0.3)
    p = observed(mcts(num_children=2), g)
    # root and node 0 are full; below 0, node 2 has the best value and equal visits
    assert p.select(g) == (2, [0, 2])
    assert p.propose(g, random.Random(0)) == Action("improve", (2,))


def test_root_expansion_drafts_then_unvisited_uct_is_infinite() -> None:
    p, g = mcts(num_children=2), Graph()
    assert p.propose(g, random.Random(0)) == Action("draft")
    grow(g, "draft", (), "pending")
    assert p.propose(g, random.Random(0)) == Action("draft")
    assert uct_value(0.3, 0, 4, 0.25, 0.0, 1.0) == math.inf
    assert uct_value(0.3, 1, 1, 0.25, 0.3, 0.3) == 0.5  # one value seen: neutral, ln 1 = 0


def test_backup_is_an_incremental_mean_along_the_path() -> None:
    p, g = mcts(num_children=5), Graph()
    values = {0: 0.1, 1: 0.2, 2: 0.7, 3: 0.35}
    grow(g, "draft", (), "pending")
    finish(g, p, 0, values[0])
    g.start("improve", (0,))
    finish(g, p, 1, values[1])
    g.start("improve", (1,))
    finish(g, p, 2, values[2])
    g.start("improve", (0,))
    finish(g, p, 3, values[3])

    def incremental(seq: list[float]) -> float:
        q = 0.0
        for n, v in enumerate(seq, start=1):
            q += (v - q) / n
        return q

    assert p.visits(None) == 4 and p.value(None) == pytest.approx(incremental([0.1, 0.2, 0.7, 0.35]))
    assert p.visits(0) == 4 and p.value(0) == pytest.approx(incremental([0.1, 0.2, 0.7, 0.35]))
    assert p.visits(1) == 2 and p.value(1) == pytest.approx(incremental([0.2, 0.7]))
    assert p.visits(2) == 1 and p.value(2) == 0.7
    assert p.visits(3) == 1 and p.value(3) == 0.35
    assert p.state()["fitness_range"] == [0.1, 0.7]


def test_buggy_results_back_up_nothing() -> None:
    p, g = mcts(), Graph()
    grow(g, "draft", (), "pending")
    finish(g, p, 0, None)
    assert p.visits(None) == 0 and p.visits(0) == 0 and p.value(0) is None


def test_debug_chain_takes_priority_and_backs_up_the_fix() -> None:
    p, g, rng = mcts(num_children=2, max_debug_depth=2), Graph(), random.Random(0)
    grow(g, "draft", (), "pending")
    grow(g, "draft", (), "pending")
    finish(g, p, 0, 0.5)
    finish(g, p, 1, None)
    assert p.propose(g, rng) == Action("debug", (1,))
    g.start("debug", (1,))
    # the chain is in flight: other work goes on elsewhere
    assert p.propose(g, rng) == Action("improve", (0,))
    finish(g, p, 2, None)
    assert p.propose(g, rng) == Action("debug", (2,))
    g.start("debug", (2,))
    finish(g, p, 3, 0.9)
    assert [p.visits(i) for i in (None, 0, 1, 2, 3)] == [2, 1, 1, 1, 1]
    assert p.value(1) == 0.9 and p.value(None) == pytest.approx(0.7)
    # node 1's subtree now has work (node 3 is valid) and the best value
    assert p.select(g) == (3, [1, 2, 3])


def test_debug_chain_stops_at_max_debug_depth() -> None:
    p, g = mcts(num_children=1, max_debug_depth=2), Graph()
    grow(g, "draft", (), None)
    grow(g, "debug", (0,), None)
    grow(g, "debug", (1,), None)
    observed(p, g)
    assert p.open_debug_chains(g) == []
    # nothing left to expand and nothing in flight: widen the root
    assert p.propose(g, random.Random(0)) == Action("draft")


def test_waits_when_stuck_with_work_in_flight() -> None:
    p, g = mcts(num_children=2), Graph()
    grow(g, "draft", (), None)
    grow(g, "draft", (), 0.3)
    grow(g, "improve", (1,), "pending")
    grow(g, "improve", (1,), "pending")
    observed(p, g)
    assert p.propose(g, random.Random(0)) is None


def test_state_does_not_depend_on_finishing_order() -> None:
    values = [0.1, 3e16, 0.7, 1.0, -3e16, 0.05]
    states = []
    for order in ([0, 1, 2, 3, 4, 5], [5, 3, 1, 4, 2, 0], [2, 0, 5, 1, 4, 3]):
        g, p = Graph(), mcts(num_children=6)
        for _ in values:
            g.start("draft")
        for i in order:
            finish(g, p, i, values[i])
        states.append(p.state())
    assert states[0] == states[1] == states[2]
    assert states[0]["root"]["value"] == float(sum(map(Fraction, values)) / 6)
