"""Decision traces of the AIRA-dojo presets against AIRA-dojo's algorithms, written out here.

Each test compiles a preset from ``specs/dojo/``, builds its policy from the compiled plan, and
drives it over a constructed environment (nodes finish with scripted fitness, bugginess and
execution time; no LLM, one worker, as dojo runs). The rules it is checked against are
re-implemented in this file from dojo's released solvers (``solvers/greedy/greedy.py``,
``solvers/mcts/mcts.py``, ``solvers/evo/evo.py``) with dojo's own conventions — its drafts
hang under an empty buggy root, so they count as debug depth 1 — so the tests show that the
preset's parameters, translated to aira-dsl's conventions, make the same decisions.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

import pytest
from search_support import Simulation

from aira_dsl.compiler import compile_spec
from aira_dsl.search import Graph, NodeView, make_policy
from aira_dsl.search.debugging import chain_nodes

REPO = Path(__file__).resolve().parents[2]


def preset_policy(name: str) -> Any:
    plan = compile_spec(REPO / "specs" / "dojo" / f"{name}.yaml").plan
    assert plan is not None
    return make_policy(plan.policy.kind, plan.policy.params, plan.policy.roles), plan


def pure(node: NodeView, salt: str) -> random.Random:
    """A generator that depends only on what the node is (so two searches that create the same
    node in the same place see the same outcome)."""
    return random.Random(f"{salt}/{node.id}/{node.operator}/{node.parent_ids}")


# --------------------------------------------------------------------------- greedy


def dojo_debug_depth(graph: Graph, node: NodeView) -> int:
    """dojo's ``Node.debug_depth``: a node whose parent is buggy (for a draft: the empty root,
    which is buggy) is one deeper than its parent; anything else is 0."""
    if node.operator == "draft":
        return 1
    if node.operator == "debug":
        return dojo_debug_depth(graph, graph[node.parent_ids[0]]) + 1
    return 0


def dojo_greedy_choices(graph: Graph, *, num_drafts: int = 5, max_debug_depth: int = 20) -> set[tuple[str, tuple[int, ...]]]:
    """Every action dojo's ``Greedy.search_policy`` may take next (debug_prob 1.0)."""
    if len(graph.roots()) < num_drafts:
        return {("draft", ())}
    debuggable = [n for n in graph if n.is_buggy and graph.num_children(n.id) == 0
                  and dojo_debug_depth(graph, n) <= max_debug_depth]
    if debuggable:
        return {("debug", (n.id,)) for n in debuggable}
    good = graph.valid()
    if not good:
        return {("draft", ())}
    best = max(good, key=lambda n: (n.fitness, -n.id))  # max() keeps the first of equal metrics
    return {("improve", (best.id,))}


def greedy_environment(graph: Graph, node: NodeView) -> float | None:
    """Drafts 1–4 are buggy and never fixed; one improve in three is buggy, its chain never fixed."""
    if node.operator == "draft":
        return 0.5 if node.id == 0 else None
    if node.operator == "debug":
        return None
    return None if node.id % 3 == 0 else round(0.5 + node.id / 1000, 6)


@pytest.mark.parametrize("preset", ["aide-greedy", "aira-greedy"])
def test_greedy_presets_take_dojos_decisions(preset: str) -> None:
    policy, plan = preset_policy(preset)
    sim = Simulation(policy, workers=1, seed=5).run(170, greedy_environment)
    graph = sim.graph
    replay = Graph()
    for node_id, action in sim.actions:
        assert (action.operator, action.parent_ids) in dojo_greedy_choices(replay), (node_id, action)
        view = graph[node_id]
        replay.add(NodeView(id=view.id, parent_ids=view.parent_ids, operator=view.operator, status="done",
                            buggy=view.buggy, fitness=view.fitness, metric=view.metric,
                            debug_depth=view.debug_depth, depth=view.depth))
    # dojo's counting made visible: 20 debug steps after a draft, 21 after an improve
    lengths: dict[str, set[int]] = {}
    for tip in [n for n in graph if n.is_buggy and graph.num_children(n.id) == 0 and n.operator == "debug"]:
        chain = chain_nodes(graph, tip.id)
        lengths.setdefault(chain[0].operator, set()).add(len(chain) - 1)
    assert lengths["draft"] == {20}  # four drafts, never fixed
    assert max(lengths["improve"]) == 21  # the last chain may be cut by the step budget
    assert plan.budget.steps == 499


# --------------------------------------------------------------------------- MCTS


@dataclass
class _Node:
    id: int
    operator: str
    parent: _Node | None
    buggy: bool = False
    fitness: float | None = None
    visits: int = 0
    value: float = 0.0
    children: list[_Node] = field(default_factory=list)


class DojoMcts:
    """dojo's ``MCTS`` (sequential): select a leaf by UCT, give it ``num_children`` children in a
    row, debug each buggy child at once (up to depth ``max_debug_depth``, drafts starting at 1),
    back the fitness of a valid child or of its fix up the path; unvisited children score -1e8."""

    def __init__(self, outcome: Any, *, num_children: int, uct_c: float, max_debug_depth: int) -> None:
        self.outcome = outcome
        self.k, self.c, self.max_depth = num_children, uct_c, max_debug_depth
        self.root = _Node(-1, "root", None, buggy=True)
        self.graph = Graph()
        self.created: list[tuple[str, tuple[int, ...]]] = []
        self.lo, self.hi = 1e8, -1e8

    def uct(self, child: _Node, parent: _Node) -> float:
        if child.visits == 0:
            return -1e8
        q = child.value / child.visits
        norm = 0.5 if self.hi == self.lo else (q - self.lo) / (self.hi - self.lo)
        return norm + self.c * math.sqrt(math.log(parent.visits) / child.visits)

    def make(self, operator: str, parent: _Node) -> _Node:
        parents = () if parent is self.root else (parent.id,)
        view = self.graph.start(operator, parents)
        fitness = self.outcome(self.graph, view)
        self.graph.finish(view.id, buggy=fitness is None, fitness=fitness, metric=fitness)
        node = _Node(view.id, operator, parent, buggy=fitness is None, fitness=fitness)
        parent.children.append(node)
        self.created.append((operator, parents))
        return node

    def backprop(self, path: list[_Node], value: float) -> None:
        for node in path:
            node.visits += 1
            node.value += value
        self.lo, self.hi = min(self.lo, value), max(self.hi, value)

    def run(self, steps: int) -> list[tuple[str, tuple[int, ...]]]:
        while len(self.created) < steps:
            path, current = [self.root], self.root
            while current.children:
                parent = current
                current = max(parent.children, key=lambda ch: (self.uct(ch, parent), -ch.id))
                path.append(current)
            for _ in range(self.k):
                if len(self.created) >= steps:
                    break
                child = self.make("draft" if current is self.root else "improve", current)
                if not child.buggy:
                    assert child.fitness is not None
                    self.backprop([*path, child], child.fitness)
                    continue
                chain, depth = [child], 1 if child.operator == "draft" else 0
                for _ in range(self.max_depth):
                    if len(self.created) >= steps:
                        break
                    fix = self.make("debug", chain[-1])
                    depth += 1
                    chain.append(fix)
                    if not fix.buggy:
                        assert fix.fitness is not None
                        self.backprop([*path, *chain], fix.fitness)
                        break
                    if depth >= self.max_depth:
                        break
        return self.created


def mcts_environment(graph: Graph, node: NodeView) -> float | None:
    draw = pure(node, "mcts")
    if draw.random() < (0.3 if node.operator == "debug" else 0.4):
        return None
    parents = [f for f in (graph[p].fitness for p in node.parent_ids) if f is not None]
    base = parents[0] if parents else 0.5
    return round(base + draw.gauss(0.01, 0.05), 6)


def test_mcts_preset_reproduces_dojos_tree_search() -> None:
    policy, plan = preset_policy("aira-mcts")
    params = plan.policy.params
    assert (params["expansion"], params["num_children"], params["uct_c"]) == ("batch", 5, 0.25)
    sim = Simulation(policy, workers=1, seed=2).run(120, mcts_environment)
    ours = [(a.operator, a.parent_ids) for _, a in sim.actions]
    reference = DojoMcts(mcts_environment, num_children=5, uct_c=0.25, max_debug_depth=20).run(120)
    assert ours == reference


def test_mcts_preset_debug_chains_follow_dojos_depth_count() -> None:
    """Never-fixed chains: 19 debug steps after a draft, 20 after an improve (dojo's MCTS)."""
    def outcome(graph: Graph, node: NodeView) -> float | None:
        if node.operator == "debug" or node.id == 0:
            return None  # the first draft and every debug attempt fail
        if node.operator == "improve" and graph.children(node.parent_ids[0])[0].id == node.id:
            return None  # so does the first child of every batch of improves
        return 0.5

    policy, _ = preset_policy("aira-mcts")
    sim = Simulation(policy, workers=1, seed=1).run(80, outcome)
    reference = DojoMcts(outcome, num_children=5, uct_c=0.25, max_debug_depth=20).run(80)
    assert [(a.operator, a.parent_ids) for _, a in sim.actions] == reference
    graph = sim.graph
    lengths: dict[str, list[int]] = {}
    for tip in [n for n in graph if n.operator == "debug" and graph.num_children(n.id) == 0]:
        chain = chain_nodes(graph, tip.id)
        lengths.setdefault(chain[0].operator, []).append(len(chain) - 1)
    assert lengths["draft"] == [19]
    assert lengths["improve"][:2] == [20, 20]  # a later chain may be cut by the step budget


# --------------------------------------------------------------------------- evolutionary


HOUR = 3600.0


def evo_environment(graph: Graph, node: NodeView) -> float | None:
    draw = pure(node, "evo")
    if draw.random() < 0.35:
        return None
    parents = [f for f in (graph[p].fitness for p in node.parent_ids) if f is not None]
    base = fmean(parents) if parents else 0.5
    return round(base + draw.gauss(0.005, 0.05), 6)


def evo_hours(graph: Graph, node: NodeView) -> float:
    return pure(node, "hours").choice([0.5, 1.0, 2.0, 3.5]) * HOUR


def test_evolutionary_preset_follows_dojos_generations() -> None:
    policy, plan = preset_policy("aira-evo")
    params = plan.policy.params
    assert params["max_debug_time"] == 6 * HOUR and params["num_generations"] == 100
    sim = Simulation(policy, workers=1, seed=4).run(10_000, evo_environment, evo_hours)
    graph = sim.graph
    assert policy.finished(graph) and policy.generation == 100
    slots = [graph[i] for i, a in sim.actions if a.operator != "debug"]
    per_generation = [sum(1 for s in slots if s.generation == g) for g in range(100)]
    assert per_generation == [5] * 100
    assert all(s.operator == "draft" for s in slots if s.generation == 0)
    crossovers = [s for s in slots if s.operator == "crossover"]
    assert crossovers and min(s.generation or 0 for s in crossovers) >= 2
    # every debug chain: at most 10 steps; it stops at the first fix, at 10 steps, or once its
    # executions (origin included) reach 6 h — checked after each debug, so the first always runs
    for slot in slots:
        chain = [slot]
        while (kids := graph.children(chain[-1].id)) and kids[0].operator == "debug":
            chain.append(kids[0])
        debugs = len(chain) - 1
        assert debugs <= 10
        if chain[-1].is_buggy:
            spent = sum(n.duration or 0.0 for n in chain)
            assert debugs == 10 or (debugs >= 1 and spent >= 6 * HOUR), [n.id for n in chain]
        for k in range(1, debugs):
            assert sum(n.duration or 0.0 for n in chain[:k + 1]) < 6 * HOUR  # the chain went on
    # island membership is dojo's admission rule applied generation by generation, in slot order
    island: list[int] = []
    fitness: dict[int, float] = {}
    for g in range(100):
        for slot in [s for s in slots if s.generation == g]:
            chain = [slot]
            while (kids := graph.children(chain[-1].id)) and kids[0].operator == "debug":
                chain.append(kids[0])
            individual = chain[-1]
            if not individual.is_valid:
                continue
            assert individual.fitness is not None
            fitness[individual.id] = individual.fitness
            if g == 0 or not island or individual.fitness >= fmean(fitness[m] for m in island):
                island.append(individual.id)
        assert len(island) <= 500
    assert policy.islands == [island]
    assert {policy.temperature(g) for g in range(100)} == {1.0}
