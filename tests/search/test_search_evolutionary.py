"""Evolutionary policy: generations, softmax sampling, islands, crossover, migration."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import pytest
from search_support import finish

from aira_dsl.search import Action, EvolutionaryParams, EvolutionaryPolicy, Graph, apply_action


def evo(**params: Any) -> EvolutionaryPolicy:
    return EvolutionaryPolicy(EvolutionaryParams(**params))


def open_all(g: Graph, p: EvolutionaryPolicy, rng: random.Random) -> list[Action]:
    """Apply every action the policy proposes until it waits."""
    actions = []
    while (action := p.propose(g, rng)) is not None:
        actions.append(action)
        apply_action(g, action)
    return actions


def generation(g: Graph, p: EvolutionaryPolicy, outcomes: list[float | None], rng: random.Random) -> list[Action]:
    """Open every slot of the current generation and finish them with ``outcomes`` in order."""
    actions = open_all(g, p, rng)
    assert len(actions) == len(outcomes)
    for node, outcome in zip(g.in_flight(), outcomes, strict=True):
        finish(g, p, node.id, outcome)
    return actions


def test_generation_zero_drafts_round_robin_and_waits() -> None:
    g, p, rng = Graph(), evo(individuals_per_generation=4, num_islands=3), random.Random(0)
    actions = open_all(g, p, rng)
    assert actions == [Action("draft", (), {"generation": 0, "island": i}) for i in (0, 1, 2, 0)]
    assert p.propose(g, rng) is None
    for node in g.in_flight()[:3]:
        finish(g, p, node.id, 0.5)
    assert p.generation == 0
    finish(g, p, 3, 0.1)
    assert p.generation == 1
    # generation 0 seeds the islands with every valid draft, below-mean ones included
    assert p.islands == [[0, 3], [1], [2]]


def test_parent_sampling_follows_softmax_of_normalised_fitness() -> None:
    g, p = Graph(), evo(individuals_per_generation=3, temperature=0.5, crossover_after_generation=99)
    generation(g, p, [0.0, 0.5, 1.0], random.Random(0))
    expected = [math.exp(x / 0.5) for x in (0.0, 0.5, 1.0)]
    expected = [w / sum(expected) for w in expected]
    assert list(p.parent_distribution(0).values()) == pytest.approx(expected)
    rng = random.Random(1234)
    draws = 20000
    counts = Counter(p.propose(g, rng).parent_ids for _ in range(draws))  # type: ignore[union-attr]
    assert set(counts) == {(0,), (1,), (2,)}
    for node_id, prob in enumerate(expected):
        assert counts[(node_id,)] / draws == pytest.approx(prob, abs=0.012)


def test_island_sampling_follows_softmax_of_normalised_island_means() -> None:
    g, p = Graph(), evo(individuals_per_generation=4, num_islands=2, crossover_after_generation=99)
    # islands 0: {0.0, 0.4} (mean 0.2), 1: {1.0, 0.6} (mean 0.8); range [0, 1]
    generation(g, p, [0.0, 1.0, 0.4, 0.6], random.Random(0))
    weights = [math.exp(0.2), math.exp(0.8)]
    expected = [w / sum(weights) for w in weights]
    assert list(p.island_distribution().values()) == pytest.approx(expected)
    rng = random.Random(99)
    islands = Counter(p.propose(g, rng).meta["island"] for _ in range(20000))  # type: ignore[union-attr]
    assert islands[1] / 20000 == pytest.approx(expected[1], abs=0.012)


def test_admission_needs_at_least_the_island_mean() -> None:
    g, p, rng = Graph(), evo(individuals_per_generation=3, crossover_after_generation=99), random.Random(0)
    generation(g, p, [0.2, 0.6, 0.4], rng)            # island mean 0.4
    generation(g, p, [0.3, 0.4, 0.45], rng)           # 0.3 rejected, 0.4 == mean admitted, then 0.45 ≥ 0.4
    assert p.islands == [[0, 1, 2, 4, 5]]
    assert p.history[1]["admitted"] == [[4, 0], [5, 0]]
    assert p.history[1]["individuals"] == [3, 4, 5]


def test_island_capacity_evicts_the_worst() -> None:
    g, p, rng = Graph(), evo(individuals_per_generation=3, max_island_size=2, max_debug_depth=0,
                              crossover_after_generation=99), random.Random(0)
    generation(g, p, [0.2, 0.6, 0.4], rng)
    assert p.islands == [[1, 2]] and p.history[0]["evicted"] == [0]
    generation(g, p, [0.9, None, 0.1], rng)
    assert p.islands == [[1, 3]] and p.history[1]["evicted"] == [2]


def test_crossover_only_from_the_configured_generation() -> None:
    g, p, rng = Graph(), evo(individuals_per_generation=3, crossover_prob=1.0,
                              crossover_after_generation=2), random.Random(5)
    assert {a.operator for a in generation(g, p, [0.1, 0.2, 0.3], rng)} == {"draft"}
    assert {a.operator for a in generation(g, p, [0.4, 0.5, 0.6], rng)} == {"improve"}
    third = open_all(g, p, rng)
    assert {a.operator for a in third} == {"crossover"}
    for action in third:
        assert len(set(action.parent_ids)) == 2
        assert set(action.parent_ids) <= set(p.islands[action.meta["island"]])
        assert action.meta["generation"] == 2


def test_crossover_falls_back_to_improve_without_two_members() -> None:
    g, p, rng = Graph(), evo(individuals_per_generation=2, crossover_prob=1.0, max_debug_depth=0,
                              crossover_after_generation=1), random.Random(0)
    generation(g, p, [None, 0.5], rng)
    assert p.propose(g, rng) == Action("improve", (1,), {"generation": 1, "island": 0})


def test_buggy_offspring_are_debugged_within_their_generation() -> None:
    g, p, rng = Graph(), evo(individuals_per_generation=2, max_debug_depth=2, num_islands=2), random.Random(0)
    open_all(g, p, rng)
    finish(g, p, 0, None)
    assert p.propose(g, rng) == Action("debug", (0,), {"generation": 0, "island": 0})
    apply_action(g, Action("debug", (0,), {"generation": 0, "island": 0}))
    finish(g, p, 1, 0.4)
    finish(g, p, 2, None)
    assert p.generation == 0
    debug = p.propose(g, rng)
    assert debug == Action("debug", (2,), {"generation": 0, "island": 0})
    apply_action(g, debug)
    finish(g, p, 3, None)   # debug depth 2 reached: the chain is closed, the slot yields nobody
    assert p.generation == 1 and p.islands == [[], [1]]
    assert p.history[0]["individuals"] == [1]


def test_fixed_chain_end_is_the_individual() -> None:
    g, p, rng = Graph(), evo(individuals_per_generation=1, max_debug_depth=3), random.Random(0)
    open_all(g, p, rng)
    finish(g, p, 0, None)
    apply_action(g, p.propose(g, rng))  # type: ignore[arg-type]
    finish(g, p, 1, 0.7)
    assert p.islands == [[1]] and g[1].generation == 0 and g[1].island == 0


def test_empty_islands_fall_back_to_drafts() -> None:
    g, p, rng = Graph(), evo(individuals_per_generation=2, max_debug_depth=0), random.Random(0)
    generation(g, p, [None, None], rng)
    assert p.generation == 1
    assert p.propose(g, rng) == Action("draft", (), {"generation": 1, "island": 0})


def test_migration_copies_an_island_best_to_another_island() -> None:
    g, p, rng = Graph(), evo(individuals_per_generation=4, num_islands=2, migration_prob=1.0), random.Random(0)
    generation(g, p, [0.3, 0.8, 0.1, 0.5], rng)   # islands: 0 → {0, 2}, 1 → {1, 3}
    move = p.history[0]["migration"]
    assert move is not None and move["from"] != move["to"]
    best = {0: 0, 1: 1}[move["from"]]
    assert move["node"] == best and best in p.islands[move["to"]] and best in p.islands[move["from"]]


def test_no_migration_with_zero_probability_or_one_island() -> None:
    for params in ({"num_islands": 2, "migration_prob": 0.0}, {"num_islands": 1, "migration_prob": 1.0}):
        g, p = Graph(), evo(individuals_per_generation=2, **params)
        generation(g, p, [0.3, 0.8], random.Random(0))
        assert p.history[0]["migration"] is None


def test_num_generations_bounds_the_search() -> None:
    g, p, rng = Graph(), evo(individuals_per_generation=2, num_generations=2), random.Random(0)
    generation(g, p, [0.3, 0.8], rng)
    assert not p.finished(g)
    generation(g, p, [0.5, 0.9], rng)
    assert p.finished(g) and p.propose(g, rng) is None
    state = p.state()
    assert state["finished"] and state["generation"] == 2 and len(state["history"]) == 2
