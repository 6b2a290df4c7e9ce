"""The typed AST of expressions: immutable nodes with source offsets and an inferred type.

Nodes are frozen dataclasses, so a parsed tree can be cached and shared (the same expression
text appears in many specs) and checking returns a new tree with ``type`` filled in rather than
mutating one. ``start``/``end`` are 0-based character offsets into the expression source
(``end`` exclusive); a parenthesised sub-expression's span includes its parentheses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from aira_dsl.expr.types import Type

__all__ = [
    "ARITHMETIC_OPS",
    "BOOL_OPS",
    "COMPARISON_OPS",
    "UNARY_OPS",
    "Attribute",
    "Binary",
    "Bool",
    "BoolOp",
    "Call",
    "Compare",
    "Conditional",
    "Duration",
    "Expr",
    "Name",
    "Null",
    "Number",
    "String",
    "Unary",
    "children",
    "dotted_name",
    "names_used",
    "with_type",
]

ARITHMETIC_OPS = ("+", "-", "*", "/", "%")
COMPARISON_OPS = ("==", "!=", "<", "<=", ">", ">=")
BOOL_OPS = ("and", "or")
UNARY_OPS = ("-", "not")


@dataclass(frozen=True, kw_only=True)
class Expr:
    """Base of every node: its span in the source and, once checked, its type."""

    start: int = 0
    end: int = 0
    type: Type | None = None


@dataclass(frozen=True)
class Number(Expr):
    """A number literal (``3``, ``0.5``, ``1e-3``); ints stay ints."""

    value: int | float


@dataclass(frozen=True)
class String(Expr):
    """A string literal, escapes already decoded."""

    value: str


@dataclass(frozen=True)
class Bool(Expr):
    """``true`` or ``false``."""

    value: bool


@dataclass(frozen=True)
class Null(Expr):
    """``null``."""


@dataclass(frozen=True)
class Duration(Expr):
    """A duration literal (``90s``, ``1h30m``): a number of seconds; ``text`` is as written."""

    seconds: int | float
    text: str


@dataclass(frozen=True)
class Name(Expr):
    """A top-level name of the context (``exec``, ``metric``, ``vars``)."""

    name: str


@dataclass(frozen=True)
class Attribute(Expr):
    """``value.attr``; the attribute's own span is ``end - len(attr)`` to ``end``."""

    value: Expr
    attr: str


@dataclass(frozen=True)
class Unary(Expr):
    """``-operand`` or ``not operand``."""

    op: str
    operand: Expr


@dataclass(frozen=True)
class Binary(Expr):
    """Arithmetic: ``left op right`` with op in ``+ - * / %``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Compare(Expr):
    """A comparison ``left op right`` with op in ``== != < <= > >=`` (never chained)."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class BoolOp(Expr):
    """``a and b and c`` or ``a or b or c``: n-ary, so long chains stay shallow."""

    op: str
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Conditional(Expr):
    """``if_true if condition else if_false``."""

    condition: Expr
    if_true: Expr
    if_false: Expr


@dataclass(frozen=True)
class Call(Expr):
    """A call of an allow-listed function; the name's span is ``start`` to ``start+len(func)``."""

    func: str
    args: tuple[Expr, ...]


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``node``, left to right."""
    if isinstance(node, Attribute):
        return (node.value,)
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary | Compare):
        return (node.left, node.right)
    if isinstance(node, BoolOp):
        return node.operands
    if isinstance(node, Conditional):
        return (node.if_true, node.condition, node.if_false)
    if isinstance(node, Call):
        return node.args
    return ()


def with_type(node: Expr, t: Type) -> Expr:
    """A copy of ``node`` carrying type ``t``."""
    return replace(node, type=t)


def dotted_name(node: Expr) -> str | None:
    """``exec.exit_code`` for a chain of attributes on a name, else None."""
    parts: list[str] = []
    current = node
    while isinstance(current, Attribute):
        parts.append(current.attr)
        current = current.value
    if not isinstance(current, Name):
        return None
    parts.append(current.name)
    return ".".join(reversed(parts))


def names_used(expr: Expr) -> tuple[str, ...]:
    """The sorted, distinct context paths an expression reads (``exec.exit_code``, ``metric``).

    Callers use it to know what an expression depends on (e.g. whether it reads
    ``hidden.score``) without walking the tree themselves. Iterative: safe on any depth.
    """
    found: set[str] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        path = dotted_name(node)
        if path is not None:
            found.add(path)
            continue
        stack.extend(children(node))
    return tuple(sorted(found))
