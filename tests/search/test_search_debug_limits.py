"""Debug chains end by depth (with the draft offset) and by cumulated execution time, in every policy.

The rule written out here (docs/search.md, "Debug chains"): a chain is its buggy origin and the
debug nodes grown from it; it may take another step while its depth is below
``max_debug_depth`` (a draft origin counting ``draft_debug_depth`` extra) and, once it has taken
a step, while its executions — the origin's included — have used less than ``max_debug_time``.
"""

from __future__ import annotations

from typing import Any

import pytest
from search_support import Simulation, grow

from aira_dsl.search import Graph, NodeView, make_policy
from aira_dsl.search.debugging import (
    DebugLimits,
    chain_depth,
    chain_nodes,
    chain_origin,
    chain_time,
    may_debug,
)

KINDS: list[tuple[str, dict[str, Any]]] = [
    ("greedy", {"num_drafts": 1}),
    ("mcts", {"num_children": 1}),
    ("mcts", {"num_children": 1, "expansion": "batch"}),
    ("evolutionary", {"individuals_per_generation": 1}),
    ("evolutionary", {"individuals_per_generation": 1, "schedule": "steady_state"}),
]


def expected_chain_end(durations: list[float], cap: float, depth: int) -> int:
    """Debug steps the documented rule allows: the first always; then step k+1 only while the
    origin and the first k debug executions add up to less than ``cap``; never more than ``depth``."""
    steps = 1
    while steps < depth and sum(durations[:steps + 1]) < cap:
        steps += 1
    return steps


def never_fixed(graph: Graph, node: NodeView) -> float | None:
    return None  # every node is buggy: only the caps end a chain


@pytest.mark.parametrize(("kind", "extra"), KINDS, ids=[f"{k}-{'-'.join(map(str, e.values()))}" for k, e in KINDS])
@pytest.mark.parametrize(("durations", "cap"), [
    ([100.0, 100.0, 100.0, 100.0, 100.0, 100.0], 350.0),   # 100+100+100+100 >= 350: three debug steps
    ([100.0, 100.0, 150.0, 100.0, 100.0, 100.0], 350.0),   # 100+100+150 >= 350: two
    ([1000.0, 5.0, 5.0, 5.0, 5.0, 5.0], 350.0),            # the origin alone is over: the first debug still runs
    ([1.0] * 12, 1e9),                                     # no time pressure: the depth cap (5) ends it
])
def test_time_cap_ends_the_chain_at_the_right_node(kind: str, extra: dict[str, Any], durations: list[float],
                                                    cap: float) -> None:
    policy: Any = make_policy(kind, {"max_debug_depth": 5, "max_debug_time": cap, **extra})

    def seconds(graph: Graph, node: NodeView) -> float:
        return durations[len(chain_nodes(graph, node.id)) - 1]

    sim = Simulation(policy, workers=1).run(7, never_fixed, seconds)
    first = chain_nodes(sim.graph, max(n.id for n in sim.graph if chain_origin(sim.graph, n.id).id == 0))
    want = expected_chain_end(durations, cap, 5)
    assert len(first) - 1 == want, [n.duration for n in first]
    assert first[0].id == 0 and all(n.operator == "debug" for n in first[1:])
    assert not may_debug(sim.graph, first[-1], policy.limits)
    # the next node the policy created started something new (not another debug of node 0's chain)
    after = [sim.graph[i] for i, _ in sim.actions if i > first[-1].id]
    assert not after or chain_origin(sim.graph, after[0].id).id != 0


def test_chain_helpers_on_a_hand_built_graph() -> None:
    g = Graph()
    grow(g, "draft", (), 0.5)                       # 0
    g.finish(g.start("improve", (0,)).id, buggy=True, fitness=None, duration=30.0)   # 1
    g.finish(g.start("debug", (1,)).id, buggy=True, fitness=None, duration=20.0)     # 2
    g.finish(g.start("debug", (2,)).id, buggy=True, fitness=None, duration=None)     # 3: never ran
    g.finish(g.start("draft", ()).id, buggy=True, fitness=None, duration=5.0)        # 4
    assert [n.id for n in chain_nodes(g, 3)] == [1, 2, 3] and chain_origin(g, 3).id == 1
    assert chain_time(g, 3) == 50.0 and chain_time(g, 1) == 30.0
    assert chain_depth(g, g[3]) == 2 and chain_depth(g, g[3], draft_debug_depth=1) == 2
    assert chain_depth(g, g[4]) == 0 and chain_depth(g, g[4], draft_debug_depth=1) == 1
    limits = DebugLimits(max_debug_depth=3, max_debug_time=50.0)
    assert not may_debug(g, g[3], limits)                  # 50 s used: the cap is reached
    assert may_debug(g, g[3], DebugLimits(3, 50.5))
    assert not may_debug(g, g[3], DebugLimits(2))          # depth 2 of 2
    assert may_debug(g, g[4], DebugLimits(1)) and not may_debug(g, g[4], DebugLimits(1, draft_debug_depth=1))
    assert not may_debug(g, g[2], DebugLimits(9))          # has a child: being (or been) debugged
    assert not may_debug(g, g[0], DebugLimits(9))          # valid


@pytest.mark.parametrize("kind", ["greedy", "mcts", "evolutionary"])
def test_draft_offset_shortens_only_draft_chains(kind: str) -> None:
    params: dict[str, Any] = {"greedy": {"num_drafts": 1}, "mcts": {"num_children": 1},
                              "evolutionary": {"individuals_per_generation": 1}}[kind]
    policy: Any = make_policy(kind, {"max_debug_depth": 3, "draft_debug_depth": 1, **params})

    def outcome(graph: Graph, node: NodeView) -> float | None:
        if node.operator == "draft":
            return None if node.id == 0 else 0.5  # the first draft fails for good, later ones work
        return None  # every debug step, improve and crossover fails

    sim = Simulation(policy, workers=1).run(12, outcome)
    g = sim.graph
    lengths: dict[str, list[int]] = {}
    for tip in [n for n in g if n.is_buggy and g.num_children(n.id) == 0]:
        chain = chain_nodes(g, tip.id)
        lengths.setdefault(chain[0].operator, []).append(len(chain) - 1)
    assert lengths["draft"][0] == 2   # a draft already counts one step
    assert 3 in lengths.get("improve", []) + lengths.get("crossover", [])


def test_max_debug_time_must_be_positive() -> None:
    from aira_dsl.search import PolicyConfigError

    with pytest.raises(PolicyConfigError, match="max_debug_time' must be > 0"):
        make_policy("greedy", {"max_debug_time": 0})
    assert make_policy("greedy", {"max_debug_time": None}).params.max_debug_time is None  # type: ignore[attr-defined]
