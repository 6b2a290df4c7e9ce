"""Evolutionary search with islands (AIRA-dojo's EVO policy), generational or steady-state.

Offspring come in *slots*. Each slot is one new node (DRAFT in generation 0; IMPROVE or
CROSSOVER afterwards) plus, if it comes out buggy, its debug chain (``max_debug_depth`` DEBUG
steps at most, and ``max_debug_time`` of execution if set; :mod:`aira_dsl.search.debugging`).
The slot's *individual* is the valid node of that chain, if any. Generation ``g`` is the slots
``g·I … (g+1)·I − 1`` with ``I = individuals_per_generation``.

Offspring (both schedules):

- generation 0: DRAFT, on island ``slot % num_islands`` (so every island gets seeded);
- later: with probability ``crossover_prob`` (only from generation
  ``crossover_after_generation`` on) a CROSSOVER of two distinct parents, else an IMPROVE of
  one. The island is drawn by softmax over its members' normalised mean fitness, the parents
  by softmax over their normalised fitness, both divided by the generation's temperature;
  crossover falls back to improve when no island has two members, and a draft is made when
  every island is empty (all earlier individuals failed).
- The temperature of generation ``g`` decays linearly, as in the reference:
  ``T(g) = T0 − (T0 − T1) · g / num_generations`` with ``T0 = initial_temperature`` and
  ``T1 = final_temperature`` (each defaults to ``temperature``, so by default it is constant).
  ``g`` runs from 0 to ``num_generations − 1``, so ``T1`` is the limit the schedule heads for,
  not a value any generation uses.

``schedule: generational`` (the default). Each time a worker asks for work:

1. DEBUG an open chain of the current generation (the oldest buggy tip first);
2. else open a new slot if the generation has fewer than ``I``;
3. else wait (``None``) until the generation's in-flight nodes finish.

A generation ends when all its slots exist and no chain is pending or still open. Then, in id
order, its individuals are admitted: in generation 0 every one is admitted (seeding, as in the
reference); afterwards an individual joins its island when the island is empty or its fitness
is at least the island's mean. An island over ``max_island_size`` evicts its worst member (the
older one on ties). Finally, with probability ``migration_prob`` (and at least two islands) the
best member of a random non-empty island is copied into another random island. After
``num_generations`` generations (``None``: never) the policy is finished.

``schedule: steady_state`` (AIRA₂'s asynchronous evolution): there is no barrier. Each time a
worker asks for work it gets the oldest open debug chain's next step, or else a new slot, whose
generation is ``slots so far // I`` — it never waits for a generation to fill. Individuals are
admitted the moment they arrive (same rule: generation-0 slots seed, later ones need the island
mean), so a slot proposed later samples parents from everything admitted so far. Every ``I``
resolved slots (a slot is resolved when its individual arrives or its chain closes without
one) count as a generation for the migration draw and the history. The policy is finished once
``num_generations · I`` slots are resolved.

Normalisation uses the range of every individual's fitness seen at admission. Generational
state is a function of the graph alone (generations close in id order and the migration draw
uses a generator seeded from the generation's own results), however concurrent workers
finished. Steady-state admission depends on the order in which individuals arrive, which the
graph records (``Graph.finish_order``); ``rebuild`` replays that order, so a resumed run
recovers the same islands.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from statistics import fmean
from typing import Any, ClassVar, Literal, get_args

from aira_dsl.search.base import (
    DRAFT_DEBUG_DEPTH_DOC,
    MAX_DEBUG_TIME_DOC,
    Action,
    PolicyBase,
    PolicyConfigError,
    param,
)
from aira_dsl.search.debugging import DebugLimits, chain_origin, may_debug, within_limits
from aira_dsl.search.graph import Graph, NodeView
from aira_dsl.search.sampling import minmax, sample_without_replacement, softmax, weighted_choice
from aira_dsl.settings.fields import Duration

__all__ = ["SCHEDULES", "EvolutionaryParams", "EvolutionaryPolicy"]

Schedule = Literal["generational", "steady_state"]
SCHEDULES: tuple[str, ...] = get_args(Schedule)
"""Values of ``EvolutionaryParams.schedule`` (see the module docstring)."""


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
    initial_temperature: float | None = param(
        None, gt=0, doc="Temperature of generation 0 of a linear schedule T(g) = initial - (initial - final) * g / "
                        "num_generations (AIRA-dojo's initial_temp); null: temperature.")
    final_temperature: float | None = param(
        None, gt=0, doc="Where the linear temperature schedule heads at g = num_generations (never reached: the last "
                        "generation is num_generations - 1); null: the initial temperature, i.e. constant. A schedule "
                        "needs num_generations.")
    schedule: Schedule = param(
        "generational", doc="generational: a generation's offspring are admitted together once all have finished "
                            "(AIRA-dojo). steady_state: an offspring is proposed whenever a worker is free and "
                            "admitted the moment it arrives (asynchronous evolution).")
    max_debug_time: Duration | None = param(None, gt=0, doc=MAX_DEBUG_TIME_DOC)
    draft_debug_depth: int = param(0, ge=0, doc=DRAFT_DEBUG_DEPTH_DOC)

    def temperatures(self) -> tuple[float, float]:
        """``(T0, T1)``: where the temperature schedule starts and the value it heads for."""
        start = self.temperature if self.initial_temperature is None else self.initial_temperature
        return start, start if self.final_temperature is None else self.final_temperature

    def temperature_at(self, generation: int) -> float:
        """The sampling temperature of ``generation``: ``T0 − (T0 − T1) · g / num_generations``."""
        start, end = self.temperatures()
        if start == end or self.num_generations is None:
            return start
        return start - (start - end) * generation / self.num_generations


class EvolutionaryPolicy(PolicyBase):
    """Islands of valid individuals, refreshed once per generation or on each arrival."""

    kind: ClassVar[str] = "evolutionary"
    summary: ClassVar[str] = "Generational evolutionary search with islands."
    roles_needed: ClassVar[tuple[str, ...]] = ("draft", "improve", "debug", "crossover")

    def __init__(self, params: EvolutionaryParams | None = None, roles: Mapping[str, str] | None = None) -> None:
        self.params = params or EvolutionaryParams()
        if self.params.individuals_per_generation < 1 or self.params.num_islands < 1:
            raise PolicyConfigError("the evolutionary policy needs at least one individual and one island")
        start, end = self.params.temperatures()
        if start != end and self.params.num_generations is None:
            raise PolicyConfigError("a temperature schedule (initial_temperature differs from final_temperature) "
                                    "decays over num_generations: set num_generations")
        self.limits = DebugLimits(self.params.max_debug_depth, self.params.max_debug_time,
                                  self.params.draft_debug_depth)
        self.steady = self.params.schedule == "steady_state"
        super().__init__(roles)

    # -- bookkeeping ----------------------------------------------------------------------

    def _reset(self) -> None:
        self.generation = 0
        """Generational: the generation being built. Steady state: generations' worth of slots resolved."""
        self.islands: list[list[int]] = [[] for _ in range(self.params.num_islands)]
        self._fitness: dict[int, float] = {}
        self._lo: float | None = None
        self._hi: float | None = None
        self.history: list[dict[str, Any]] = []
        self._resolved: set[int] = set()
        """Steady state: origins (slot nodes) whose slot is resolved."""
        self._window: dict[str, list[Any]] = self._new_window()

    @staticmethod
    def _new_window() -> dict[str, list[Any]]:
        return {"individuals": [], "admitted": [], "evicted": []}

    def _observe(self, graph: Graph, node: NodeView) -> None:
        if self.steady:
            self._arrive(graph, node)
            return
        while not self._done() and self.generation_complete(graph, self.generation):
            self._close_generation(graph)

    def _limit(self) -> int | None:
        """Slots the whole search may open (``None``: unbounded)."""
        n = self.params.num_generations
        return None if n is None else n * self.params.individuals_per_generation

    def _done(self) -> bool:
        limit = self.params.num_generations
        if self.steady:
            slots = self._limit()
            return slots is not None and len(self._resolved) >= slots
        return limit is not None and self.generation >= limit

    def finished(self, graph: Graph) -> bool:
        return self._done()

    def _state(self) -> dict[str, Any]:
        state = {"params": asdict(self.params), "generation": self.generation, "finished": self._done(),
                 "islands": [list(i) for i in self.islands],
                 "fitness_range": None if self._lo is None else [self._lo, self._hi],
                 "history": [dict(h) for h in self.history]}
        if self.steady:
            state["resolved_slots"] = sorted(self._resolved)
        return state

    # -- generation structure -------------------------------------------------------------

    def members(self, graph: Graph, generation: int) -> list[NodeView]:
        """Every node (pending or finished) created for ``generation``."""
        return [n for n in graph if n.generation == generation]

    def _open_tips(self, nodes: list[NodeView], graph: Graph) -> list[NodeView]:
        return [n for n in nodes if may_debug(graph, n, self.limits)]

    def generation_complete(self, graph: Graph, generation: int) -> bool:
        """All slots exist, nothing is in flight and every debug chain is closed."""
        nodes = self.members(graph, generation)
        slots = sum(1 for n in nodes if not n.is_debug)
        return (slots >= self.params.individuals_per_generation
                and not any(n.is_pending for n in nodes) and not self._open_tips(nodes, graph))

    def _admit(self, node: NodeView, *, seeding: bool, admitted: list[Any], evicted: list[int]) -> None:
        """Admission rule: seeds always join; later individuals need an empty island or >= its mean."""
        assert node.fitness is not None
        self._fitness[node.id] = node.fitness
        self._lo = node.fitness if self._lo is None else min(self._lo, node.fitness)
        self._hi = node.fitness if self._hi is None else max(self._hi, node.fitness)
        island = (node.island or 0) % self.params.num_islands
        members = self.islands[island]
        if seeding or not members or node.fitness >= fmean(self._fitness[m] for m in members):
            members.append(node.id)
            admitted.append([node.id, island])
            evicted.extend(self._cap(island))

    def _close_generation(self, graph: Graph) -> None:
        g = self.generation
        individuals = [n for n in self.members(graph, g) if n.is_valid]
        admitted: list[Any] = []
        evicted: list[int] = []
        for node in individuals:
            self._admit(node, seeding=g == 0, admitted=admitted, evicted=evicted)
        record: dict[str, Any] = {"generation": g, "individuals": [n.id for n in individuals],
                                  "admitted": admitted, "evicted": evicted, "migration": None}
        record["migration"] = self._migrate(g, individuals)
        self.history.append(record)
        self.generation += 1

    def _arrive(self, graph: Graph, node: NodeView) -> None:
        """Steady state: admit an arriving individual, or close a chain that ended without one."""
        origin = chain_origin(graph, node.id)
        if origin.id in self._resolved:
            return
        if node.is_valid:
            self._window["individuals"].append(node.id)
            self._admit(node, seeding=origin.generation == 0, admitted=self._window["admitted"],
                        evicted=self._window["evicted"])
        elif not (node.is_buggy and within_limits(graph, node, self.limits)):
            pass  # the chain is closed: the slot is resolved without an individual
        else:
            return  # still open: its next DEBUG step will come
        self._resolved.add(origin.id)
        if len(self._resolved) % self.params.individuals_per_generation == 0:
            window, self._window = self._window, self._new_window()
            individuals = [graph[i] for i in window["individuals"]]
            record: dict[str, Any] = {"generation": self.generation, **window, "migration": None}
            record["migration"] = self._migrate(self.generation, individuals)
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

    def temperature(self, generation: int | None = None) -> float:
        """The sampling temperature of ``generation`` (default: the one offspring are made for now)."""
        return self.params.temperature_at(self.generation if generation is None else generation)

    def island_distribution(self, need: int = 1, temperature: float | None = None) -> dict[int, float]:
        """Island → probability of being picked, among islands with at least ``need`` members."""
        eligible = [i for i, m in enumerate(self.islands) if len(m) >= need]
        scores = [self._norm(fmean(self._fitness[m] for m in self.islands[i])) for i in eligible]
        temp = self.temperature() if temperature is None else temperature
        return dict(zip(eligible, softmax(scores, temp), strict=True))

    def parent_distribution(self, island: int, temperature: float | None = None) -> dict[int, float]:
        """Member id → probability of being drawn first as a parent on ``island``."""
        members = self.islands[island]
        temp = self.temperature() if temperature is None else temperature
        weights = softmax([self._norm(self._fitness[m]) for m in members], temp)
        return dict(zip(members, weights, strict=True))

    def _offspring(self, g: int, slot: int, rng: random.Random) -> Action:
        """The new node of slot number ``slot`` (counted within its generation, or overall) of generation ``g``."""
        p = self.params
        if g == 0 or not any(self.islands):
            return Action("draft", (), {"generation": g, "island": slot % p.num_islands})
        crossover = g >= p.crossover_after_generation and p.crossover_prob > 0 and rng.random() < p.crossover_prob
        if crossover and not any(len(m) >= 2 for m in self.islands):
            crossover = False
        need = 2 if crossover else 1
        temperature = p.temperature_at(g)
        islands = self.island_distribution(need, temperature)
        keys = list(islands)
        island = keys[weighted_choice(keys, list(islands.values()), rng)]
        parents = self.parent_distribution(island, temperature)
        chosen = sample_without_replacement(list(parents), list(parents.values()), need, rng)
        return Action("crossover" if crossover else "improve", tuple(chosen), {"generation": g, "island": island})

    def propose(self, graph: Graph, rng: random.Random) -> Action | None:
        if self._done():
            return None
        if self.steady:
            return self._propose_steady(graph, rng)
        nodes = self.members(graph, self.generation)
        tips = self._open_tips(nodes, graph)
        if tips:
            tip = tips[0]
            return Action("debug", (tip.id,), {"generation": self.generation, "island": tip.island})
        slots = sum(1 for n in nodes if not n.is_debug)
        if slots < self.params.individuals_per_generation:
            return self._offspring(self.generation, slots, rng)
        return None

    def slots_opened(self, graph: Graph) -> int:
        """Slots created so far (every node that is not a DEBUG node, pending ones included)."""
        return sum(1 for n in graph if not n.is_debug)

    def _propose_steady(self, graph: Graph, rng: random.Random) -> Action | None:
        tips = self._open_tips(graph.nodes(), graph)
        if tips:
            tip = tips[0]
            return Action("debug", (tip.id,), {"generation": tip.generation, "island": tip.island})
        slots = self.slots_opened(graph)
        limit = self._limit()
        if limit is not None and slots >= limit:
            return None  # every slot is open; the last chains are still running
        return self._offspring(slots // self.params.individuals_per_generation, slots, rng)
