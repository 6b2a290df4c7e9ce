"""Helpers for the search tests: terse graph building and a fake, LLM-free environment."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from aira_dsl.search import Action, Graph, NodeView, Policy, apply_action
from aira_dsl.search.debugging import chain_time

BUGGY = None
"""Outcome marker for ``grow``: the node is buggy."""


def grow(graph: Graph, operator: str, parents: tuple[int, ...] = (), outcome: float | str | None = "pending",
         *, generation: int | None = None, island: int | None = None, plan: str = "",
         summary: str | None = None) -> NodeView:
    """Add a node; ``outcome`` is a fitness (valid), ``None`` (buggy) or ``"pending"``."""
    node = graph.start(operator, parents, generation=generation, island=island, plan=plan or f"plan {graph.next_id()}")
    if outcome == "pending":
        return node
    if outcome is None:
        return graph.finish(node.id, buggy=True, fitness=None, summary=summary)
    assert isinstance(outcome, float | int)
    return graph.finish(node.id, buggy=False, fitness=float(outcome), metric=float(outcome), summary=summary)


def finish(graph: Graph, policy: Policy | None, node_id: int, outcome: float | None) -> NodeView:
    """Finish a pending node with a fitness (or buggy for ``None``) and report it to ``policy``."""
    if outcome is None:
        done = graph.finish(node_id, buggy=True, fitness=None)
    else:
        done = graph.finish(node_id, buggy=False, fitness=outcome, metric=outcome)
    if policy is not None:
        policy.observe(graph, node_id)
    return done


Outcome = Callable[[Graph, NodeView], float | None]


def fake_environment(bug_rate: float = 0.35) -> Outcome:
    """A pure function of the node (id, operator, parents): buggy or a fitness near its parents'."""
    def outcome(graph: Graph, node: NodeView) -> float | None:
        draw = random.Random(f"{node.id}/{node.operator}/{node.parent_ids}")
        if draw.random() < bug_rate:
            return None
        parents = [f for f in (graph[p].fitness for p in node.parent_ids) if f is not None]
        base = sum(parents) / len(parents) if parents else 0.5
        return round(base + draw.gauss(0.02, 0.1), 6)
    return outcome


def check_action(graph: Graph, action: Action, policy: Any) -> None:
    """Fail if ``action`` is something no policy may propose on ``graph``."""
    assert action.operator in ("draft", "improve", "debug", "crossover"), action
    assert action.operator in policy.roles, action
    parents = [graph[p] for p in action.parent_ids]
    assert all(p.is_done for p in parents), f"parent not finished: {action}"
    if action.operator == "draft":
        assert not parents
    elif action.operator == "improve":
        assert len(parents) == 1 and parents[0].is_valid, f"improve of a non-valid node: {action}"
    elif action.operator == "debug":
        (parent,) = parents
        assert parent.is_buggy, f"debug of a non-buggy node: {action}"
        assert parent.debug_depth < policy.params.max_debug_depth, f"debug chain too long: {action}"
        assert graph.num_children(parent.id) == 0, f"node already being debugged: {action}"
        limit = policy.params.max_debug_time
        if limit is not None and parent.debug_depth > 0:
            assert chain_time(graph, parent.id) < limit, f"debug chain past its time cap: {action}"
    else:
        assert len(parents) == 2 and len(set(action.parent_ids)) == 2, f"crossover needs two parents: {action}"
        assert all(p.is_valid for p in parents), f"crossover of a non-valid node: {action}"
    if policy.kind == "evolutionary":
        if policy.steady:
            slots = policy.slots_opened(graph)
            assert action.meta["generation"] <= slots // policy.params.individuals_per_generation
        else:
            assert action.meta["generation"] == policy.generation
        assert 0 <= action.meta["island"] < policy.params.num_islands


def drive(policy: Any, steps: int, slots: int, seed: int, outcome: Outcome,
          check: bool = True) -> tuple[Graph, list[Action]]:
    """Run ``policy`` for ``steps`` created nodes with up to ``slots`` in flight.

    Finishing order among in-flight nodes is random (seeded) to mimic workers of uneven speed.
    """
    graph = Graph()
    rng = random.Random(seed)
    finisher = random.Random(seed + 1)
    actions: list[Action] = []
    while True:
        in_flight = graph.in_flight()
        action = None
        if len(in_flight) < slots and len(graph) < steps:
            action = policy.propose(graph, rng)
        if action is not None:
            if check:
                check_action(graph, action, policy)
            actions.append(action)
            apply_action(graph, action)
            continue
        if not in_flight:
            break
        node = in_flight[finisher.randrange(len(in_flight))]
        finish(graph, policy, node.id, outcome(graph, node))
    return graph, actions


Duration = Callable[[Graph, NodeView], float | None]


class Simulation:
    """A policy driven like the engine drives it, with every decision and arrival recorded.

    ``events`` lists ``("start", id)`` and ``("finish", id)`` in the order they happened;
    ``waits`` counts the times a worker was free, the step budget not spent, and the policy had
    nothing to propose (it returned ``None``).
    """

    def __init__(self, policy: Any, *, workers: int = 1, seed: int = 0) -> None:
        self.policy = policy
        self.workers = workers
        self.graph = Graph()
        self.rng = random.Random(seed)
        self.finisher = random.Random(seed + 1)
        self.actions: list[tuple[int, Action]] = []
        self.events: list[tuple[str, int]] = []
        self.waits = 0
        self.wait_points: list[int] = []

    def run(self, steps: int, outcome: Outcome, duration: Duration | None = None,
            check: bool = True) -> Simulation:
        """Create up to ``steps`` nodes; finishing order among in-flight nodes is random (seeded)."""
        graph = self.graph
        while True:
            in_flight = graph.in_flight()
            if len(in_flight) < self.workers and len(graph) < steps and not self.policy.finished(graph):
                action = self.policy.propose(graph, self.rng)
                if action is not None:
                    if check:
                        check_action(graph, action, self.policy)
                    node = apply_action(graph, action)
                    self.actions.append((node.id, action))
                    self.events.append(("start", node.id))
                    continue
                self.waits += 1
                self.wait_points.append(len(graph))
            if not in_flight:
                break
            node = in_flight[self.finisher.randrange(len(in_flight))]
            fitness = outcome(graph, node)
            seconds = duration(graph, node) if duration is not None else None
            if fitness is None:
                graph.finish(node.id, buggy=True, fitness=None, duration=seconds)
            else:
                graph.finish(node.id, buggy=False, fitness=fitness, metric=fitness, duration=seconds)
            self.events.append(("finish", node.id))
            self.policy.observe(graph, node.id)
        return self
