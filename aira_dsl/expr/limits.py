"""Size limits of expressions, and the iterative walk that enforces them.

Expressions are short rules, not programs; the limits keep validation fast and make every
later recursive walk (checker, evaluator, serialiser) safe, since none of them ever sees a tree
deeper than :data:`MAX_DEPTH`. The parser is a table-driven LALR parser and the measuring walk
below uses an explicit stack, so even pathological input (thousands of nested parentheses or
``not not not ...``) ends in a positioned ``expr-limit`` error, never a ``RecursionError``.
"""

from __future__ import annotations

from aira_dsl.expr.ast import Expr, children
from aira_dsl.expr.errors import ExprError

__all__ = ["MAX_DEPTH", "MAX_NODES", "MAX_SOURCE_CHARS", "limit_errors", "source_error"]

MAX_SOURCE_CHARS = 2000
"""Longest accepted expression source, in characters."""
MAX_DEPTH = 50
"""Deepest accepted AST (a leaf has depth 1; redundant parentheses add nothing)."""
MAX_NODES = 500
"""Most AST nodes (literals, names, operators, calls) in one expression."""

_HINT = "split the rule into simpler parts, e.g. move shared constants into vars:"


def source_error(source: str) -> ExprError | None:
    """An ``expr-limit`` error if ``source`` is too long to parse, else None."""
    if len(source) <= MAX_SOURCE_CHARS:
        return None
    return ExprError("expr-limit",
                     f"expression is {len(source)} characters long; the limit is {MAX_SOURCE_CHARS}",
                     MAX_SOURCE_CHARS, len(source), _HINT)


def limit_errors(expr: Expr) -> list[ExprError]:
    """``expr-limit`` errors for a tree that is too deep or has too many nodes (iterative)."""
    errors: list[ExprError] = []
    count = 0
    too_deep: Expr | None = None
    stack: list[tuple[Expr, int]] = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            if too_deep is None:
                too_deep = node
            continue
        stack.extend((child, depth + 1) for child in children(node))
    if too_deep is not None:
        errors.append(ExprError("expr-limit",
                                f"expression is nested more than {MAX_DEPTH} levels deep",
                                too_deep.start, too_deep.end, _HINT))
    elif count > MAX_NODES:
        errors.append(ExprError("expr-limit",
                                f"expression has {count} parts; the limit is {MAX_NODES}",
                                expr.start, expr.end, _HINT))
    return errors
