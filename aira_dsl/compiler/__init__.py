"""The compiler: load → check (ordered passes) → lower to a plan.

``check_spec`` runs every check ``compile`` runs, offline, with no API key and no container;
``aira-dsl validate`` is a thin wrapper around it. The compiler never imports the runtime.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aira_dsl.compiler.checks import CHECK_PASSES, run_checks
from aira_dsl.compiler.context import CompileContext
from aira_dsl.compiler.overrides import Override, apply_overrides, parse_override
from aira_dsl.diagnostics import Diagnostic, DiagnosticError, Diagnostics
from aira_dsl.spec.loader import load_spec

if TYPE_CHECKING:
    from aira_dsl.plan import Plan

__all__ = ["CHECK_PASSES", "CompileContext", "CompileResult", "check_spec", "compile_spec", "load_plan_or_spec"]


@dataclass
class CompileResult:
    plan: Plan | None
    diagnostics: Diagnostics
    context: CompileContext | None


def check_spec(path: str | os.PathLike[str], *, env: Callable[[str], str | None] | None = None,
               env_mode: str = "warn", overrides: Sequence[str] = (), models: Sequence[str] = (),
               model_settings: Sequence[str] = ()) -> CompileContext:
    """Load and check a spec; the context holds the typed spec, checked parts and diagnostics.

    ``models`` (``NAME=PROVIDER/MODEL``) and ``model_settings`` (``NAME.KEY=VALUE``) are the
    ``--model``/``-M`` sugar (:mod:`.model_choice`), applied before ``overrides`` (``--set``).
    """
    from aira_dsl.compiler.model_choice import apply_model_choices, resolve_providers, uses_providers

    ctx = CompileContext(loaded=load_spec(path, env=env, env_mode=env_mode))
    doc = ctx.doc
    if doc.data is not None and (overrides or models or model_settings or uses_providers(doc.data)):
        # Overrides and providers edit the document: work on a copy (loaded documents may be shared).
        doc.data = copy.deepcopy(doc.data)
        doc.spans, doc.key_spans, doc.scalars = dict(doc.spans), dict(doc.key_spans), dict(doc.scalars)
        ctx.diagnostics.extend(apply_model_choices(doc, models, model_settings))
        parsed: list[Override] = []
        for text in overrides:
            item = parse_override(text)
            if isinstance(item, Diagnostic):
                ctx.diagnostics.add(item)
            else:
                parsed.append(item)
        ctx.diagnostics.extend(apply_overrides(ctx.doc, parsed))
        if ctx.diagnostics.has_errors:
            ctx.stop = True
        ctx.diagnostics.extend(resolve_providers(doc, env or os.environ.get, env_mode))
    return run_checks(ctx, CHECK_PASSES)


def compile_spec(path: str | os.PathLike[str], *, overrides: Sequence[str] = (),
                 env: Callable[[str], str | None] | None = None, env_mode: str = "error",
                 models: Sequence[str] = (), model_settings: Sequence[str] = ()) -> CompileResult:
    """Check and lower a spec. ``plan`` is None when there were errors."""
    from aira_dsl.compiler.lower import lower  # not needed by `validate`: imported on demand

    ctx = check_spec(path, env=env, env_mode=env_mode, overrides=overrides, models=models,
                     model_settings=model_settings)
    plan = lower(ctx) if not ctx.stop and not ctx.diagnostics.has_errors else None
    return CompileResult(plan=plan, diagnostics=ctx.diagnostics, context=ctx)


def load_plan_or_spec(path: str | os.PathLike[str], *, overrides: Sequence[str] = (),
                      env_mode: str = "error", models: Sequence[str] = (),
                      model_settings: Sequence[str] = ()) -> Plan:
    """A plan from a plan file or a spec (compiled now). Raises DiagnosticError on problems.

    Overrides (``--set``, ``--model``, ``-M``) cannot be applied to a plan file (it is frozen);
    that is a usage error.
    """
    from aira_dsl.plan import is_plan_file, load_plan

    fs_path = Path(path)
    if not fs_path.exists():
        raise DiagnosticError(Diagnostic("unreadable-file", "no such file", file=str(path)))
    if is_plan_file(fs_path):
        given = [flag for flag, values in (("--set", overrides), ("--model", models), ("-M", model_settings))
                 if values]
        if given:
            raise DiagnosticError(Diagnostic("bad-override", f"{'/'.join(given)} cannot change a compiled plan",
                                             file=str(path), hint="pass the spec instead of the plan"))
        return load_plan(fs_path)
    result = compile_spec(path, overrides=overrides, env_mode=env_mode, models=models,
                          model_settings=model_settings)
    if result.plan is None:
        raise DiagnosticError(result.diagnostics.sorted())
    return result.plan
