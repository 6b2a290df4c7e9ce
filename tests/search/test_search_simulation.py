"""Each policy drives an LLM-free fake environment for 100 steps without an invalid proposal."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from search_support import drive, fake_environment

from aira_dsl.search import make_policy

CASES: list[tuple[str, dict[str, Any]]] = [
    ("greedy", {}),
    ("greedy", {"num_drafts": 3, "debug_prob": 0.5, "max_debug_depth": 3}),
    ("mcts", {}),
    ("mcts", {"num_children": 2, "uct_c": 1.0, "max_debug_depth": 2}),
    ("mcts", {"num_children": 3, "expansion": "batch", "max_debug_depth": 2, "draft_debug_depth": 1}),
    ("evolutionary", {}),
    ("evolutionary", {"individuals_per_generation": 4, "num_islands": 3, "migration_prob": 0.5,
                      "crossover_after_generation": 1, "max_island_size": 4, "max_debug_depth": 2}),
    ("evolutionary", {"individuals_per_generation": 4, "num_islands": 2, "schedule": "steady_state",
                      "crossover_after_generation": 1, "max_debug_depth": 2}),
]


@pytest.mark.parametrize("slots", [1, 4])
@pytest.mark.parametrize(("kind", "params"), CASES)
def test_policy_never_proposes_an_invalid_action(kind: str, params: dict[str, Any], slots: int) -> None:
    policy: Any = make_policy(kind, params)
    graph, actions = drive(policy, steps=100, slots=slots, seed=3, outcome=fake_environment())
    assert len(graph) == 100, "the policy stalled before the step budget"
    assert not graph.in_flight()
    ops = Counter(a.operator for a in actions)
    assert ops["draft"] >= 1 and ops["improve"] >= 1 and ops["debug"] >= 1
    if kind == "evolutionary" and params.get("crossover_after_generation") == 1:
        assert ops["crossover"] >= 1


def test_evolutionary_stops_after_num_generations() -> None:
    policy: Any = make_policy("evolutionary", {"individuals_per_generation": 3, "num_generations": 4})
    graph, actions = drive(policy, steps=100, slots=4, seed=8, outcome=fake_environment())
    assert policy.finished(graph)
    slots = [a for a in actions if a.operator != "debug"]
    assert len(slots) == 12
    assert sorted({a.meta["generation"] for a in actions}) == [0, 1, 2, 3]
