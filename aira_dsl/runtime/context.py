"""Build the template and expression contexts of an operator call from the graph, the journal and the task.

The shapes are declared elsewhere — template variables in ``aira_dsl/templates/declarations.py``
(docs/templates.md), expression contexts in ``aira_dsl/expr/contexts.py`` — and the functions here
fill exactly those shapes (tests check them against the declarations). Every kind gets ``task,
hardware, sandbox, workspace, packages, vars, complexity, memory``; the extra variables a kind
receives (``parent``, ``parents``, ``node``) are named by its row of the operator-kind table.
Parents and the analyzed node carry their ``submission {exists, valid, reason}``, so a prompt can
show why a submission was rejected.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aira_dsl.expr import ExprRuntimeError, evaluate, from_json
from aira_dsl.kinds import get_kind
from aira_dsl.plan import OperatorPlan, Plan
from aira_dsl.runtime.journal import Journal
from aira_dsl.sandbox.probe import ML_PACKAGES as _PROBED
from aira_dsl.search import Graph, NodeView, complexity_cue, memory_entries, rungs_from_plan, select_memory

__all__ = ["ML_PACKAGES", "WORKSPACE", "ContextBuilder", "TimeInfo", "installed_packages", "memory_env", "node_env"]

ML_PACKAGES = tuple(_PROBED)
"""The ML packages prompts mention when installed (the paper's list; defined in sandbox/probe.py)."""
NOT_RUN = {"exists": False, "valid": False, "reason": "the node was not executed (it produced no usable code)"}

WORKSPACE = {"data_dir": "./data", "working_dir": "./working", "submission_path": "./submission/submission.csv"}


def installed_packages() -> list[str]:
    """The ML packages installed for *this* interpreter (the engine asks the sandbox's instead)."""
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


def node_env(graph: Graph, node: NodeView) -> dict[str, Any]:
    """The ``node`` record of the expression contexts (``aira_dsl.expr.contexts``)."""
    return {"step": node.id, "depth": node.depth, "debug_depth": node.debug_depth,
            "num_children": graph.num_children(node.id), "operator": node.operator, "buggy": node.buggy}


def memory_env(graph: Graph, node: NodeView, plan: Plan, submission: Mapping[str, Any]) -> dict[str, Any]:
    """The environment of ``memory.where`` for one candidate past node (the ``memory`` context)."""
    return {"node": {**node_env(graph, node), "metric": node.metric, "submission": dict(submission)},
            "metric": node.metric, "policy": {"kind": plan.policy.kind, **plan.policy.params}, "vars": plan.vars}


@dataclass
class ContextBuilder:
    """Everything constant over a run, plus the per-call assembly.

    ``problems`` collects what went wrong while building contexts (a ``memory.where`` that failed
    on some node) once per operator and message, for the engine to journal: nothing is swallowed.
    """

    plan: Plan
    journal: Journal
    task: Mapping[str, Any]
    hardware: Mapping[str, Any]
    packages: list[str]
    sandbox: Mapping[str, Any] = field(default_factory=lambda: {"network": False, "caches": []})
    """What the solution's sandbox offers beyond compute: ``{network, caches}``."""
    problems: list[str] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)
    _where: dict[str, Any] = field(default_factory=dict)
    _submissions: dict[int, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.task = dict(self.task)
        self.hardware = dict(self.hardware)
        self.sandbox = dict(self.sandbox)
        for name, op in self.plan.operators.items():
            if op.memory.where is not None:
                self._where[name] = from_json(op.memory.where.ast)

    def _report(self, text: str) -> None:
        if text not in self._seen:
            self._seen.add(text)
            self.problems.append(text)

    def _predicate(self, graph: Graph, op: OperatorPlan) -> Callable[[NodeView], bool] | None:
        expr = self._where.get(op.name)
        if expr is None:
            return None

        def where(node: NodeView) -> bool:
            try:
                return evaluate(expr, memory_env(graph, node, self.plan, self.submission(node.id))) is True
            except ExprRuntimeError as exc:
                self._report(f"operator '{op.name}': memory.where failed on node {node.id} ({exc}); "
                             "such nodes are left out of its memory")
                return False

        return where

    def submission(self, node_id: int) -> dict[str, Any]:
        """``{exists, valid, reason}`` of a node's submission (cached once executed: it never changes)."""
        if node_id in self._submissions:
            return dict(self._submissions[node_id])
        execution = self.journal.execution(node_id)
        if execution is None:
            return dict(NOT_RUN)
        found = {"exists": execution.submission_exists, "valid": execution.submission_valid,
                 "reason": None if execution.submission_valid else execution.submission_reason}
        self._submissions[node_id] = found
        return dict(found)

    def _parent(self, node_id: int) -> dict[str, Any]:
        record = self.journal.node(node_id)
        execution = self.journal.execution(node_id)
        review = self.journal.review(node_id)
        summary = review.summary if review is not None else (record.summary if record else None)
        is_bug = review.is_bug if review is not None else bool(record and record.buggy)
        return {"code": (record.code if record else None) or "", "plan": (record.plan if record else None) or "",
                "output": execution.output if execution else "", "metric": record.metric if record else None,
                "review": {"summary": summary, "is_bug": is_bug}, "submission": self.submission(node_id)}

    def _memory(self, graph: Graph, op: OperatorPlan, target: int | None) -> list[dict[str, Any]]:
        if op.memory.scope == "none":
            return []
        nodes = select_memory(graph, op.memory.scope, target=target, operator_kind=op.kind,
                              where=self._predicate(graph, op), limit=op.memory.limit)
        return [dict(e) for e in memory_entries(nodes)]

    def _common(self, times: TimeInfo) -> dict[str, Any]:
        task = {**self.task, "time_remaining": times.time_remaining, "steps_remaining": times.steps_remaining,
                "execution_timeout": times.execution_timeout}
        return {"task": task, "hardware": dict(self.hardware), "sandbox": dict(self.sandbox),
                "workspace": dict(WORKSPACE), "packages": list(self.packages), "vars": dict(self.plan.vars)}

    def build(self, graph: Graph, op: OperatorPlan, node: NodeView, times: TimeInfo) -> dict[str, Any]:
        """The context for ``op`` creating ``node`` (already pending in ``graph``)."""
        target = node.parent_ids[0] if node.parent_ids else None
        context = self._common(times)
        context["complexity"] = complexity_cue(rungs_from_plan(op.complexity), graph, target, before=node.id)
        context["memory"] = self._memory(graph, op, target)
        wanted = get_kind(op.kind).context
        if "parent" in wanted and target is not None:
            context["parent"] = self._parent(target)
        if "parents" in wanted:
            context["parents"] = [{k: v for k, v in self._parent(p).items()
                                   if k in ("code", "plan", "metric", "submission")} for p in node.parent_ids]
        return context

    def analyze_context(self, graph: Graph, op: OperatorPlan, node_info: Mapping[str, Any],
                        times: TimeInfo) -> dict[str, Any]:
        """The context of an analyze call reviewing the run described by ``node_info``."""
        context = self._common(times)
        context.update({"complexity": None, "memory": [], "node": dict(node_info)})
        return context
