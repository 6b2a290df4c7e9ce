"""Lowering: a checked spec becomes a self-contained, deterministic :class:`Plan`.

Runs only when every check passed. Nothing machine-specific enters the plan: sources are
named relative to the spec, templates by their stable names, secrets by their variable names.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path as FsPath

from aira_dsl.compiler.context import CompileContext
from aira_dsl.kinds import get_kind
from aira_dsl.plan import (
    ExpressionPlan,
    FitnessPlan,
    MemoryPlan,
    OperatorPlan,
    Plan,
    PolicyPlan,
    PromptPlan,
)
from aira_dsl.shipped import package_ref_of
from aira_dsl.spec.model import POLICY_ROLES
from aira_dsl.spec.yamlpos import Path

__all__ = ["lower"]


def _expression(ctx: CompileContext, path: Path, source: str) -> ExpressionPlan:
    from aira_dsl.expr import to_json

    return ExpressionPlan(source=source, ast=to_json(ctx.expressions[path]))


def _templates(ctx: CompileContext) -> tuple[dict[str, dict[str, str]], dict[tuple[str, str], str]]:
    """Every template source (entries and includes) by stable name, and each message's entry."""
    from aira_dsl.templates import collect_inline_sources, collect_sources

    table: dict[str, str] = {}
    entries: dict[tuple[str, str], str] = {}
    for ref in ctx.templates:
        if ref.path is not None:
            sources = collect_sources(ref.path, ref.search_paths)
        else:
            assert ref.inline is not None
            key = f"{ref.operator}.{ref.role}.inline.j2"
            sources = collect_inline_sources(ref.inline, key, ref.search_paths, file=ctx.file_of(ref.spec_path))
        entry = next(iter(sources))
        for name, text in sources.items():
            if name in table and table[name] != text:
                ctx.error("template-name-clash",
                          f"two different templates are both named '{name}' in this plan",
                          ref.spec_path, hint="give prompt files distinct names or keep them under one prompts/ folder")
            table[name] = text
        entries[(ref.operator, ref.role)] = entry
    templates = {name: {"source": text, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
                 for name, text in sorted(table.items())}
    return templates, entries


def lower(ctx: CompileContext) -> Plan | None:
    """The plan of a checked spec, or None when the spec had errors (or is abstract)."""
    spec = ctx.spec
    if spec is None or ctx.diagnostics.has_errors:
        return None
    if spec.abstract or spec.policy is None:
        ctx.error("abstract-spec", f"'{spec.name}' is abstract: it is meant to be extended, not compiled",
                  ("abstract",) if "abstract" in ctx.doc.data else (),
                  hint="compile a spec that extends it")
        return None
    templates, entries = _templates(ctx)
    if ctx.diagnostics.has_errors:
        return None
    first_dir = os.path.dirname(os.path.abspath(ctx.loaded.path))
    sources = [_source_name(p, first_dir) for p in ctx.loaded.chain]

    models = dict(sorted(spec.models.items()))

    operators = {}
    for name, op in sorted(spec.operators.items()):
        where_path: Path = ("operators", name, "memory", "where")
        where = _expression(ctx, where_path, op.memory.where) if op.memory.where is not None else None
        operators[name] = OperatorPlan(
            name=name, kind=op.kind, model=op.model,
            prompt=PromptPlan(system=entries.get((name, "system")), user=entries.get((name, "user"))),
            memory=MemoryPlan(scope=op.memory.scope, where=where, limit=op.memory.limit),
            complexity=[{"below": r.below, "cue": r.cue} for r in op.complexity], retries=op.retries)

    policy = spec.policy
    roles = {role: policy.role(role) for role in POLICY_ROLES[policy.kind]}
    analyze = spec.operators.get(policy.role("analyze"))
    if analyze is not None and "analyze" in get_kind(analyze.kind).roles:
        roles["analyze"] = policy.role("analyze")

    fitness = spec.fitness
    plan = Plan(
        name=spec.name, description=spec.description, sources=sources, vars=dict(sorted(spec.vars.items())),
        models=models, operators=operators, templates=templates,
        policy=PolicyPlan(kind=policy.kind, params=dict(sorted(policy.params.items())), roles=dict(sorted(roles.items()))),
        fitness=FitnessPlan(
            direction=fitness.direction,
            metric=_expression(ctx, ("fitness", "metric"), fitness.metric),
            buggy=_expression(ctx, ("fitness", "buggy"), fitness.buggy),
            value=_expression(ctx, ("fitness", "value"), fitness.value),
            select=fitness.select, oracle=fitness.oracle),
        budget=spec.budget,
        execution=spec.execution,
    )
    return plan.with_hash()


def _source_name(path: str, first_dir: str) -> str:
    """A chain file's name in the plan: relative to the spec's folder, or ``aira-dsl:...`` for a
    shipped base reached from outside (its installed location is machine-specific)."""
    relative = FsPath(os.path.relpath(os.path.abspath(path), first_dir)).as_posix()
    if relative.startswith("../"):
        return package_ref_of(path) or relative
    return relative
