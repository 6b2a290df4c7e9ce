"""Fitness: evaluate the plan's ``metric``, ``buggy`` and ``value`` expressions for a node.

The metric's direction comes from the task (or the spec), never from the reviewer. The stored
``fitness`` is oriented so that higher is better (minimised metrics are negated), which is
what policies compare.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aira_dsl.expr import Expr, ExprRuntimeError, evaluate, from_json, names_used
from aira_dsl.plan import ExpressionPlan, Plan

__all__ = ["FitnessEvaluator", "FitnessOutcome"]


@dataclass(frozen=True)
class FitnessOutcome:
    metric: float | None
    buggy: bool
    value: float | None
    fitness: float | None
    error: str | None = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class FitnessEvaluator:
    """The plan's fitness rules, compiled once from their ASTs."""

    def __init__(self, plan: Plan, task_direction: str):
        self.plan = plan
        direction = plan.fitness.direction
        self.direction = task_direction if direction == "task" else direction
        self.metric: Expr = from_json(plan.fitness.metric.ast)
        self.buggy: Expr = from_json(plan.fitness.buggy.ast)
        self.value: Expr = from_json(plan.fitness.value.ast)
        self.policy_env = {"kind": plan.policy.kind, **plan.policy.params}

    def reads(self, root: str) -> bool:
        """Whether any fitness expression reads ``root.*`` (e.g. ``review``)."""
        exprs: list[ExpressionPlan] = [self.plan.fitness.metric, self.plan.fitness.buggy, self.plan.fitness.value]
        return any(any(name == root or name.startswith(root + ".") for name in names_used(from_json(e.ast)))
                   for e in exprs)

    def evaluate(self, env: Mapping[str, Any]) -> FitnessOutcome:
        scope = {**env, "policy": self.policy_env, "vars": self.plan.vars}
        try:
            metric = _number(evaluate(self.metric, scope))
            scope["metric"] = metric
            buggy = evaluate(self.buggy, scope) is not False
            value = None if buggy else _number(evaluate(self.value, scope))
        except ExprRuntimeError as exc:
            return FitnessOutcome(None, True, None, None, f"fitness expression failed: {exc}")
        if not buggy and value is None:
            return FitnessOutcome(metric, True, None, None, "fitness value is null")
        fitness = None if value is None else (value if self.direction == "maximize" else -value)
        return FitnessOutcome(metric, buggy, value, fitness)
