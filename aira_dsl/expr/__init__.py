"""The expression language of aira-dsl specs: parse, type-check, evaluate, serialise.

Spec fields such as ``fitness.buggy`` hold small expressions
(``exec.exit_code != 0 or metric == null``). This package turns their text into a typed AST
(lark LALR grammar in ``grammar.lark``), checks it against the field's documented context,
evaluates it over plain values without Python ``eval``, and stores it in the plan as JSON.
Errors carry 0-based character offsets into the expression text; the spec layer maps them to
file positions. The language is documented in docs/expressions.md.

Typical use::

    expr, errors = compile_expression("metric == null or exec.timed_out", "fitness.buggy")
    if expr is not None:
        evaluate(expr, {"metric": None, "exec": {...}, ...})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aira_dsl.expr.ast import Expr, names_used
from aira_dsl.expr.checker import check, typecheck
from aira_dsl.expr.contexts import (
    CONTEXTS,
    FIELDS,
    ContextSpec,
    FieldSpec,
    build_context,
    field_spec,
)
from aira_dsl.expr.errors import ExprError, ExprRuntimeError, ExprSyntaxError
from aira_dsl.expr.evaluator import evaluate
from aira_dsl.expr.functions import FUNCTIONS, FunctionSpec
from aira_dsl.expr.limits import MAX_DEPTH, MAX_NODES, MAX_SOURCE_CHARS
from aira_dsl.expr.parser import parse
from aira_dsl.expr.reference import describe_fields, describe_functions
from aira_dsl.expr.serialize import from_json, to_json

__all__ = [
    "CONTEXTS",
    "FIELDS",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_SOURCE_CHARS",
    "ContextSpec",
    "Expr",
    "ExprError",
    "ExprRuntimeError",
    "ExprSyntaxError",
    "FieldSpec",
    "FunctionSpec",
    "build_context",
    "check",
    "compile_expression",
    "describe_fields",
    "describe_functions",
    "evaluate",
    "from_json",
    "names_used",
    "parse",
    "to_json",
    "typecheck",
]


def _as_source(source: Any) -> str | None:
    """Expression text from a YAML scalar: ``buggy: false`` arrives as a bool, ``value: 1`` as int."""
    if isinstance(source, str):
        return source
    if isinstance(source, bool):
        return "true" if source else "false"
    if isinstance(source, int | float):
        return repr(source)
    return None


def compile_expression(source: Any, field: str, *, policy: Mapping[str, Any] | None = None,
                       vars: Mapping[str, Any] | None = None) -> tuple[Expr | None, list[ExprError]]:
    """Parse and check ``source`` as the value of ``field``.

    Returns ``(typed_tree, problems)``: the tree is None when any problem is an error (warnings
    alone keep it). Never raises for bad text; a non-text ``source`` other than a YAML bool or
    number is an ``expr-syntax`` error. An unknown ``field`` raises ``ValueError`` (a
    programming error, see ``FIELDS``).
    """
    text = _as_source(source)
    if text is None:
        field_spec(field)  # an unknown field raises ValueError, whatever the text
        return None, [ExprError("expr-syntax",
                                f"an expression must be text, not {type(source).__name__}", 0, 0,
                                "quote the expression in the YAML file")]
    try:
        expr = parse(text)
    except ExprSyntaxError as err:
        field_spec(field)
        return None, [err]
    typed, problems = typecheck(expr, field, policy=policy, vars=vars)
    if any(p.is_error for p in problems):
        return None, problems
    return typed, problems
