"""Generational evolutionary search with islands (AIRA-dojo's EVO policy).

A generation has ``individuals_per_generation`` offspring *slots*. Each slot is one new node
(DRAFT in generation 0; IMPROVE or CROSSOVER afterwards) plus, if it comes out buggy, its
debug chain of at most ``max_debug_depth`` DEBUG steps. The slot's *individual* is the valid
node of that chain, if any. Each time a worker asks for work:

1. DEBUG an open chain of the current generation (the oldest buggy tip first);
2. else open a new slot if the generation has fewer than ``individuals_per_generation``:
   - generation 0: DRAFT, on island ``slot % num_islands`` (so every island gets seeded);
   - later: with probability ``crossover_prob`` (only from generation
     ``crossover_after_generation`` on) a CROSSOVER of two distinct parents, else an IMPROVE of
     one. The island is drawn by softmax over its members' normalised mean fitness, the parents
     by softmax over their normalised fitness, both divided by ``temperature``; crossover falls
     back to improve when no island has two members, and a draft is made when every island is
     empty (all earlier individuals failed);
3. else wait (``None``) until the generation's in-flight nodes finish.

A generation ends when all its slots exist and no chain is pending or still open. Then, in id
order, its individuals are admitted: in generation 0 every one is admitted (seeding, as in the
reference); afterwards an individual joins its island when the island is empty or its fitness
is at least the island's mean. An island over ``max_island_size`` evicts its worst member (the
older one on ties). Finally, with probability ``migration_prob`` (and at least two islands) the
best member of a random non-empty island is copied into another random island. After
``num_generations`` generations (``None``: never) the policy is finished.

Normalisation uses the range of every individual's fitness seen at generation ends. Because
generations are closed only from the graph (in id order) and the migration draw uses a
generator seeded from the generation's own results, the state is a function of the graph alone:
``rebuild`` reproduces it exactly however concurrent workers finished.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from statistics import fmean
from typing import Any, ClassVar

from aira_dsl.search.base import Action, PolicyBase, PolicyConfigError, param
from aira_dsl.search.graph import Graph, NodeView
from aira_dsl.search.sampling import minmax, sample_without_replacement, softmax, weighted_choice

__all__ = ["EvolutionaryParams", "EvolutionaryPolicy"]


@dataclass(frozen=True)
class EvolutionaryParams:
    individuals_per_generation: int = param(5, ge=1, doc="Offspring per generation; generation 0 is this many "
                                                        "drafts (paper: 5).")
    num_generations: int | None = param(None, ge=1, doc="Stop after this many generations; null runs until the "
                                                       "budget ends.")
    crossover_prob: float = param(0.5, ge=0, le=1, doc="Probability that an offspring comes from CROSSOVER rather "
                                                      "than IMPROVE (paper: 0.5).")
    crossover_after_generation: int = param(2, ge=0, doc="First generation in which crossover may be used "
                                                         "(paper: 2).")
    num_islands: int = param(1, ge=1, doc="Number of islands (sub-populations).")
    max_island_size: int = param(500, ge=1, doc="Island capacity; the worst individual is evicted beyond it "
                                                "(paper: 500).")
    migration_prob: float = param(0.0, ge=0, le=1, doc="Probability per generation of migrating the best "
                                                      "individual of one island to another.")
    temperature: float = param(1.0, gt=0, doc="Softmax temperature over normalised fitness for parent sampling.")
    max_debug_depth: int = param(10, ge=0, doc="Longest debug chain for a buggy offspring (paper: 10).")


class EvolutionaryPolicy(PolicyBase):
    """Islands of valid individuals, refreshed once per generation."""

    kind: ClassVar[str] = "evolutionary"
    summary: ClassVar[str] = "Generational evolutionary search with islands."
    roles_needed: ClassVar[tuple[str, ...]] = ("draft", "improve", "debug", "crossover")

    def __init__(self, params: EvolutionaryParams | None = None, roles: Mapping[str, str] | None = None) -> None:
        self.params = params or EvolutionaryParams()
        if self.params.individuals_per_generation < 1 or self.params.num_islands < 1:
            raise PolicyConfigError("the evolutionary policy needs at least one individual and one island")
        super().__init__(roles)

    # -- bookkeeping ----------------------------------------------------------------------

    def _reset(self) -> None:
        self.generation = 0
        self.islands: list[list[int]] = [[] for _ in range(self.params.num_islands)]
        self._fitness: dict[int, float] = {}
        self._lo: float | None = None
        self._hi: float | None = None
        self.history: list[dict[str, Any]] = []

    def _observe(self, graph: Graph, node: NodeView) -> None:
        while not self._done() and self.generation_complete(graph, self.generation):
            self._close_generation(graph)

    def _done(self) -> bool:
        limit = self.params.num_generations
        return limit is not None and self.generation >= limit

    def finished(self, graph: Graph) -> bool:
        return self._done()

    def _state(self) -> dict[str, Any]:
        return {"params": asdict(self.params), "generation": self.generation, "finished": self._done(),
                "islands": [list(i) for i in self.islands],
                "fitness_range": None if self._lo is None else [self._lo, self._hi],
                "history": [dict(h) for h in self.history]}

    # -- generation structure -------------------------------------------------------------

    def members(self, graph: Graph, generation: int) -> list[NodeView]:
        """Every node (pending or finished) created for ``generation``."""
        return [n for n in graph if n.generation == generation]

    def _open_tips(self, nodes: list[NodeView], graph: Graph) -> list[NodeView]:
        return [n for n in nodes if n.is_buggy and graph.num_children(n.id) == 0
                and n.debug_depth < self.params.max_debug_depth]

    def generation_complete(self, graph: Graph, generation: int) -> bool:
        """All slots exist, nothing is in flight and every debug chain is closed."""
        nodes = self.members(graph, generation)
        slots = sum(1 for n in nodes if not n.is_debug)
        return (slots >= self.params.individuals_per_generation
                and not any(n.is_pending for n in nodes) and not self._open_tips(nodes, graph))

    def _close_generation(self, graph: Graph) -> None:
        g = self.generation
        individuals = [n for n in self.members(graph, g) if n.is_valid]
        admitted: list[list[int]] = []
        evicted: list[int] = []
        for node in individuals:
            assert node.fitness is not None
            self._fitness[node.id] = node.fitness
            self._lo = node.fitness if self._lo is None else min(self._lo, node.fitness)
            self._hi = node.fitness if self._hi is None else max(self._hi, node.fitness)
            island = (node.island or 0) % self.params.num_islands
            members = self.islands[island]
            if g == 0 or not members or node.fitness >= fmean(self._fitness[m] for m in members):
                members.append(node.id)
                admitted.append([node.id, island])
                evicted.extend(self._cap(island))
        record: dict[str, Any] = {"generation": g, "individuals": [n.id for n in individuals],
                                  "admitted": admitted, "evicted": evicted, "migration": None}
        record["migration"] = self._migrate(g, individuals)
        self.history.append(record)
        self.generation += 1

    def _cap(self, island: int) -> list[int]:
        members = self.islands[island]
        out: list[int] = []
        while len(members) > self.params.max_island_size:
            worst = min(members, key=lambda m: (self._fitness[m], m))
            members.remove(worst)
            out.append(worst)
        return out

    def _migrate(self, generation: int, individuals: list[NodeView]) -> dict[str, Any] | None:
        if self.params.num_islands < 2 or self.params.migration_prob <= 0:
            return None
        seed = f"aira-dsl/evolutionary/migration/{generation}/" + ",".join(
            f"{n.id}:{n.fitness!r}" for n in individuals)
        draw = random.Random(seed)
        if draw.random() >= self.params.migration_prob:
            return None
        sources = [i for i, m in enumerate(self.islands) if m]
        if not sources:
            return None
        source = sources[draw.randrange(len(sources))]
        targets = [i for i in range(self.params.num_islands) if i != source]
        target = targets[draw.randrange(len(targets))]
        best = max(self.islands[source], key=lambda m: (self._fitness[m], -m))
        if best not in self.islands[target]:
            self.islands[target].append(best)
            evicted = self._cap(target)
        else:
            evicted = []
        return {"node": best, "from": source, "to": target, "evicted": evicted}

    # -- sampling -------------------------------------------------------------------------

    def _norm(self, value: float) -> float:
        return minmax(value, self._lo, self._hi)

    def island_distribution(self, need: int = 1) -> dict[int, float]:
        """Island → probability of being picked, among islands with at least ``need`` members."""
        eligible = [i for i, m in enumerate(self.islands) if len(m) >= need]
        scores = [self._norm(fmean(self._fitness[m] for m in self.islands[i])) for i in eligible]
        return dict(zip(eligible, softmax(scores, self.params.temperature), strict=True))

    def parent_distribution(self, island: int) -> dict[int, float]:
        """Member id → probability of being drawn first as a parent on ``island``."""
        members = self.islands[island]
        weights = softmax([self._norm(self._fitness[m]) for m in members], self.params.temperature)
        return dict(zip(members, weights, strict=True))

    def _offspring(self, graph: Graph, slot: int, rng: random.Random) -> Action:
        g = self.generation
        p = self.params
        if g == 0 or not any(self.islands):
            return Action("draft", (), {"generation": g, "island": slot % p.num_islands})
        crossover = g >= p.crossover_after_generation and p.crossover_prob > 0 and rng.random() < p.crossover_prob
        if crossover and not any(len(m) >= 2 for m in self.islands):
            crossover = False
        need = 2 if crossover else 1
        islands = self.island_distribution(need)
        keys = list(islands)
        island = keys[weighted_choice(keys, list(islands.values()), rng)]
        parents = self.parent_distribution(island)
        chosen = sample_without_replacement(list(parents), list(parents.values()), need, rng)
        return Action("crossover" if crossover else "improve", tuple(chosen), {"generation": g, "island": island})

    def propose(self, graph: Graph, rng: random.Random) -> Action | None:
        if self._done():
            return None
        nodes = self.members(graph, self.generation)
        tips = self._open_tips(nodes, graph)
        if tips:
            tip = tips[0]
            return Action("debug", (tip.id,), {"generation": self.generation, "island": tip.island})
        slots = sum(1 for n in nodes if not n.is_debug)
        if slots < self.params.individuals_per_generation:
            return self._offspring(graph, slots, rng)
        return None
