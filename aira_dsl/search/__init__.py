"""Search policies: decide what to do next on the graph of candidate solutions.

Policies (``greedy``, ``mcts``, ``evolutionary``) are pure decision makers: given the graph,
including nodes still in flight, they propose the next operator and parents, and they observe
finished nodes. They never call the LLM or the sandbox. Memory scopes and the complexity cue,
which shape an operator's prompt from the graph, and the debug-chain limits every policy shares
(``debugging``) live here too. See ``docs/search.md``.
"""

from __future__ import annotations

from aira_dsl.search.base import Action, Policy, PolicyConfigError
from aira_dsl.search.complexity import complexity_cue, rungs_from_plan
from aira_dsl.search.debugging import DebugLimits, may_debug
from aira_dsl.search.evolutionary import SCHEDULES, EvolutionaryParams, EvolutionaryPolicy
from aira_dsl.search.graph import Graph, GraphError, NodeView
from aira_dsl.search.greedy import GreedyParams, GreedyPolicy
from aira_dsl.search.mcts import EXPANSIONS, MctsParams, MctsPolicy, uct_value
from aira_dsl.search.memory import memory_entries, select_memory
from aira_dsl.search.policy import PARAMS, POLICIES, apply_action, make_policy

__all__ = [
    "EXPANSIONS",
    "PARAMS",
    "POLICIES",
    "SCHEDULES",
    "Action",
    "DebugLimits",
    "EvolutionaryParams",
    "EvolutionaryPolicy",
    "Graph",
    "GraphError",
    "GreedyParams",
    "GreedyPolicy",
    "MctsParams",
    "MctsPolicy",
    "NodeView",
    "Policy",
    "PolicyConfigError",
    "apply_action",
    "complexity_cue",
    "make_policy",
    "may_debug",
    "memory_entries",
    "rungs_from_plan",
    "select_memory",
    "uct_value",
]
