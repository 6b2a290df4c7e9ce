"""Build the template context of an operator call from the graph, the journal and the task.

The shape is declared in ``aira_dsl/templates/declarations.py`` (docs/templates.md): every
kind gets ``task, hardware, workspace, packages, vars, complexity, memory``; improve and debug
add ``parent``, crossover ``parents``, analyze ``node``.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aira_dsl.expr import evaluate, from_json
from aira_dsl.kinds import get_kind
from aira_dsl.plan import OperatorPlan, Plan
from aira_dsl.runtime.journal import Journal
from aira_dsl.search import Graph, NodeView, complexity_cue, memory_entries, rungs_from_plan, select_memory

__all__ = ["ML_PACKAGES", "ContextBuilder", "TimeInfo", "installed_packages"]

ML_PACKAGES = ("numpy", "pandas", "scikit-learn", "statsmodels", "xgboost", "lightgbm", "torch",
               "torchvision", "torch-geometric", "bayesian-optimization", "timm")
"""The ML packages prompts mention when installed (the paper's list)."""

WORKSPACE = {"data_dir": "./data", "working_dir": "./working", "submission_path": "./submission/submission.csv"}


def installed_packages() -> list[str]:
    """The ML packages importable by the interpreter that runs solutions (sorted, stable)."""
    found = []
    for name in ML_PACKAGES:
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found


@dataclass(frozen=True)
class TimeInfo:
    """Budget figures shown to prompts (seconds / steps; None without that budget)."""

    time_remaining: float | None
    steps_remaining: int | None
    execution_timeout: float | None


class ContextBuilder:
    """Everything constant over a run, plus the per-call assembly."""

    def __init__(self, plan: Plan, journal: Journal, *, task: Mapping[str, Any], hardware: Mapping[str, Any],
                 packages: list[str]):
        self.plan = plan
        self.journal = journal
        self.task = dict(task)
        self.hardware = dict(hardware)
        self.packages = packages
        self._where: dict[str, Callable[[NodeView], bool]] = {}
        for name, op in plan.operators.items():
            if op.memory.where is not None:
                self._where[name] = self._predicate(from_json(op.memory.where.ast))

    def _predicate(self, expr: Any) -> Callable[[NodeView], bool]:
        policy = {"kind": self.plan.policy.kind, **self.plan.policy.params}

        def where(node: NodeView) -> bool:
            env = {"node": {"step": node.id, "depth": node.depth, "debug_depth": node.debug_depth,
                            "num_children": 0, "operator": node.operator, "buggy": node.buggy,
                            "metric": node.metric},
                   "metric": node.metric, "policy": policy, "vars": self.plan.vars}
            try:
                return evaluate(expr, env) is True
            except Exception:
                return False

        return where

    def _details(self, node_id: int) -> dict[str, Any]:
        rows = self.journal.rows(
            "SELECT n.code, n.plan, n.metric, n.buggy, n.summary, e.output, e.exit_code, e.timed_out, e.duration,"
            " r.summary AS review_summary, r.is_bug FROM nodes n LEFT JOIN executions e ON e.node_id = n.id"
            " LEFT JOIN reviews r ON r.node_id = n.id WHERE n.id = ?", (node_id,))
        if not rows:
            return {}
        return dict(rows[0])

    def _parent(self, node_id: int) -> dict[str, Any]:
        d = self._details(node_id)
        return {"code": d.get("code") or "", "plan": d.get("plan") or "", "output": d.get("output") or "",
                "metric": d.get("metric"),
                "review": {"summary": d.get("review_summary") or d.get("summary"),
                           "is_bug": bool(d["is_bug"]) if d.get("is_bug") is not None else bool(d.get("buggy"))}}

    def _memory(self, graph: Graph, op: OperatorPlan, target: int | None) -> list[dict[str, Any]]:
        if op.memory.scope == "none":
            return []
        nodes = select_memory(graph, op.memory.scope, target=target, operator_kind=op.kind,
                              where=self._where.get(op.name), limit=op.memory.limit)
        entries = memory_entries(nodes)
        return [dict(e) for e in entries]

    def build(self, graph: Graph, op: OperatorPlan, node: NodeView, times: TimeInfo) -> dict[str, Any]:
        """The context for ``op`` creating ``node`` (already pending in ``graph``)."""
        target = node.parent_ids[0] if node.parent_ids else None
        task = {**self.task, "time_remaining": times.time_remaining, "steps_remaining": times.steps_remaining,
                "execution_timeout": times.execution_timeout}
        context: dict[str, Any] = {
            "task": task, "hardware": self.hardware, "workspace": dict(WORKSPACE), "packages": list(self.packages),
            "vars": dict(self.plan.vars),
            "complexity": complexity_cue(rungs_from_plan(op.complexity), graph, target, before=node.id),
            "memory": self._memory(graph, op, target),
        }
        wanted = get_kind(op.kind).context
        if "parent" in wanted and target is not None:
            context["parent"] = self._parent(target)
        if "parents" in wanted:
            context["parents"] = [{k: v for k, v in self._parent(p).items() if k in ("code", "plan", "metric")}
                                  for p in node.parent_ids]
        return context

    def analyze_context(self, graph: Graph, op: OperatorPlan, node_info: Mapping[str, Any],
                        times: TimeInfo) -> dict[str, Any]:
        task = {**self.task, "time_remaining": times.time_remaining, "steps_remaining": times.steps_remaining,
                "execution_timeout": times.execution_timeout}
        return {"task": task, "hardware": self.hardware, "workspace": dict(WORKSPACE),
                "packages": list(self.packages), "vars": dict(self.plan.vars), "complexity": None,
                "memory": [], "node": dict(node_info)}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
