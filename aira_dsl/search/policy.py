"""The policy registry: build a search policy from a plan's ``policy`` section.

``make_policy`` is the one entry point the engine needs; it checks parameter names, types and
ranges (the spec's names exactly) and that every role the policy uses is bound to an operator.
``apply_action`` turns a proposed action into the pending node the engine records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aira_dsl.search.base import Action, Policy, PolicyBase, PolicyConfigError, parse_params
from aira_dsl.search.evolutionary import EvolutionaryParams, EvolutionaryPolicy
from aira_dsl.search.graph import Graph, NodeView
from aira_dsl.search.greedy import GreedyParams, GreedyPolicy
from aira_dsl.search.mcts import MctsParams, MctsPolicy

__all__ = ["PARAMS", "POLICIES", "Action", "Policy", "PolicyConfigError", "apply_action", "make_policy"]

POLICIES: dict[str, type[PolicyBase]] = {
    "greedy": GreedyPolicy,
    "mcts": MctsPolicy,
    "evolutionary": EvolutionaryPolicy,
}
"""Policy kind (the spec's ``policy.kind``) → policy class."""

PARAMS: dict[str, type[Any]] = {
    "greedy": GreedyParams,
    "mcts": MctsParams,
    "evolutionary": EvolutionaryParams,
}
"""Policy kind → its parameter dataclass (field names and defaults are the spec's)."""


def make_policy(kind: str, params: Mapping[str, Any], roles: Mapping[str, str] | None = None) -> Policy:
    """A fresh policy of ``kind`` with ``params`` (missing ones take the paper's defaults).

    ``roles`` maps each role (draft, improve, debug, crossover) to the operator name that plays
    it; extra roles such as analyze are accepted and ignored. Raises :class:`PolicyConfigError`
    for an unknown kind, an unknown or invalid parameter, or an unbound role.
    """
    if kind not in POLICIES:
        raise PolicyConfigError(f"unknown policy kind '{kind}'; expected one of {', '.join(POLICIES)}")
    parsed = parse_params(PARAMS[kind], kind, params)
    cls: Any = POLICIES[kind]
    policy: Policy = cls(parsed, dict(roles) if roles is not None else None)
    return policy


def apply_action(graph: Graph, action: Action, *, node_id: int | None = None, plan: str = "",
                 roles: Mapping[str, str] | None = None, kinds: Mapping[str, str] | None = None) -> NodeView:
    """Add the pending node for ``action`` to ``graph`` (the engine's first step for each action).

    ``action.operator`` is a policy role (a key of ``roles``, resolved to the operator bound to
    it) or, for a policy that names operators directly, an operator name (the node's role is then
    empty). ``kinds`` maps operator names to their kinds; without it the operator name is taken
    to be a kind name (hand-built graphs in tests and simulations).
    """
    meta = action.meta
    generation = meta.get("generation")
    island = meta.get("island")
    if roles is not None and action.operator in roles:
        operator, role = roles[action.operator], action.operator
    elif roles is not None:
        operator, role = action.operator, ""
    else:
        operator, role = action.operator, action.operator
    kind = (kinds or {}).get(operator, operator)
    return graph.start(operator, action.parent_ids, node_id=node_id, plan=plan,
                       generation=generation if isinstance(generation, int) else None,
                       island=island if isinstance(island, int) else None, kind=kind, role=role)
