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
               env_mode: str = "warn", overrides: Sequence[str] = ()) -> CompileContext:
    """Load and check a spec; the context holds the typed spec, checked parts and diagnostics."""
    ctx = CompileContext(loaded=load_spec(path, env=env, env_mode=env_mode))
    if overrides and ctx.doc.data is not None:
        # Overrides edit the document: work on a copy (loaded documents may be shared).
        doc = ctx.doc
        doc.data = copy.deepcopy(doc.data)
        doc.spans, doc.key_spans, doc.scalars = dict(doc.spans), dict(doc.key_spans), dict(doc.scalars)
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
    return run_checks(ctx, CHECK_PASSES)


def compile_spec(path: str | os.PathLike[str], *, overrides: Sequence[str] = (),
                 env: Callable[[str], str | None] | None = None, env_mode: str = "error") -> CompileResult:
    """Check and lower a spec. ``plan`` is None when there were errors."""
    from aira_dsl.compiler.lower import lower  # not needed by `validate`: imported on demand

    ctx = check_spec(path, env=env, env_mode=env_mode, overrides=overrides)
    plan = lower(ctx) if not ctx.stop and not ctx.diagnostics.has_errors else None
    return CompileResult(plan=plan, diagnostics=ctx.diagnostics, context=ctx)


def load_plan_or_spec(path: str | os.PathLike[str], *, overrides: Sequence[str] = (),
                      env_mode: str = "error") -> Plan:
    """A plan from a plan file or a spec (compiled now). Raises DiagnosticError on problems.

    Overrides cannot be applied to a plan file (it is frozen); that is a usage error.
    """
    from aira_dsl.plan import is_plan_file, load_plan

    fs_path = Path(path)
    if not fs_path.exists():
        raise DiagnosticError(Diagnostic("unreadable-file", "no such file", file=str(path)))
    if is_plan_file(fs_path):
        if overrides:
            raise DiagnosticError(Diagnostic("bad-override", "--set cannot change a compiled plan",
                                             file=str(path), hint="pass the spec instead of the plan"))
        return load_plan(fs_path)
    result = compile_spec(path, overrides=overrides, env_mode=env_mode)
    if result.plan is None:
        raise DiagnosticError(result.diagnostics.sorted())
    return result.plan
