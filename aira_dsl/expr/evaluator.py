"""Evaluation of an expression tree over an environment of plain values (no Python ``eval``).

The environment is a mapping from the context's top-level names to plain values (``exec`` to a
dict with ``exit_code`` etc.), as the runtime builds it. Semantics, in short (the full table is
in docs/expressions.md):

* null propagates through arithmetic, unary minus and every function but ``coalesce``;
* ``/`` and ``%`` by zero and ``log`` of x <= 0 give null;
* ``==``/``!=`` compare with null (``null == null`` is true), ordering with null is false;
* ``and``/``or``/``not`` follow Kleene logic (``false and null`` is false, ``true and null`` is
  null) and short-circuit; a null condition picks the ``else`` branch;
* NaN or infinite numbers read from the environment count as null.

Anything else that cannot be computed (a context value of the wrong type or missing, a result
too large for a float) raises :class:`ExprRuntimeError`, never another exception.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

from aira_dsl.expr.ast import (
    Attribute,
    Binary,
    Bool,
    BoolOp,
    Call,
    Compare,
    Conditional,
    Duration,
    Expr,
    Name,
    Null,
    Number,
    String,
    Unary,
    dotted_name,
)
from aira_dsl.expr.errors import ExprRuntimeError
from aira_dsl.expr.functions import FUNCTIONS
from aira_dsl.expr.types import AnyType, OpenRecordType, conforms, describe

__all__ = ["evaluate"]

MAX_EVAL_DEPTH = 200
"""Deepest tree the evaluator walks; checked trees are at most ``limits.MAX_DEPTH`` deep."""


def _fail(message: str, node: Expr) -> ExprRuntimeError:
    return ExprRuntimeError(message, node.start, node.end)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def _normalise(value: Any) -> Any:
    """Plain Python values from whatever the runtime put in the environment (numpy included)."""
    if value is None or isinstance(value, bool | str):
        return value
    kind = type(value)
    if kind.__module__ == "numpy" and kind.__name__ in ("bool_", "bool"):  # without importing numpy
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, tuple):
        return list(value)
    return value


def _finite(value: int | float, node: Expr) -> int | float:
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail("arithmetic overflow: the result is too large for a number", node)
    return value


def _number(value: Any, node: Expr) -> int | float | None:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise _fail(f"expected a number, got {_kind(value)}", node)


def _truth(value: Any, node: Expr) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise _fail(f"expected a boolean, got {_kind(value)}", node)


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return False


def _order(op: str, a: Any, b: Any, node: Expr) -> bool:
    if a is None or b is None:
        return False
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
    if not (numeric or (isinstance(a, str) and isinstance(b, str))):
        raise _fail(f"cannot order {_kind(a)} against {_kind(b)}", node)
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


class _Evaluator:
    """One evaluation over one environment."""

    def __init__(self, env: Mapping[str, Any]) -> None:
        self.env = env
        self._dispatch: dict[type, Callable[[Any, int], Any]] = {
            Number: lambda n, d: n.value,
            Duration: lambda n, d: n.seconds,
            String: lambda n, d: n.value,
            Bool: lambda n, d: n.value,
            Null: lambda n, d: None,
            Name: self._name,
            Attribute: self._attribute,
            Unary: self._unary,
            Binary: self._binary,
            Compare: self._compare,
            BoolOp: self._boolop,
            Conditional: self._conditional,
            Call: self._call,
        }

    def visit(self, node: Expr, depth: int) -> Any:
        if depth > MAX_EVAL_DEPTH:
            raise _fail("expression is nested too deeply to evaluate", node)
        handler = self._dispatch.get(type(node))
        if handler is None:
            raise _fail(f"not an expression node: {type(node).__name__}", node)
        return handler(node, depth + 1)

    def _checked(self, value: Any, node: Expr) -> Any:
        value = _normalise(value)
        if node.type is not None and not conforms(value, node.type):
            path = dotted_name(node) or "a value"
            raise _fail(f"the context value {path} should be {describe(node.type)}, "
                        f"got {_kind(value)}", node)
        return value

    def _name(self, node: Name, depth: int) -> Any:
        if node.name not in self.env:
            raise _fail(f"the context has no value for '{node.name}'", node)
        return self._checked(self.env[node.name], node)

    def _attribute(self, node: Attribute, depth: int) -> Any:
        obj = self.visit(node.value, depth)
        if not isinstance(obj, Mapping):
            raise _fail(f"cannot read attribute '{node.attr}' of {_kind(obj)}", node)
        if node.attr not in obj:
            if isinstance(node.value.type, OpenRecordType | AnyType):
                return None
            raise _fail(f"the context has no value for '{dotted_name(node) or node.attr}'", node)
        return self._checked(obj[node.attr], node)

    def _unary(self, node: Unary, depth: int) -> Any:
        value = self.visit(node.operand, depth)
        if node.op == "not":
            truth = _truth(value, node.operand)
            return None if truth is None else not truth
        number = _number(value, node.operand)
        return None if number is None else -number

    def _binary(self, node: Binary, depth: int) -> Any:
        a = self.visit(node.left, depth)
        b = self.visit(node.right, depth)
        if a is None or b is None:
            return None
        if node.op == "+" and (isinstance(a, str) or isinstance(b, str)):
            if not (isinstance(a, str) and isinstance(b, str)):
                raise _fail(f"cannot add {_kind(a)} and {_kind(b)}", node)
            return a + b
        x, y = _number(a, node.left), _number(b, node.right)
        assert x is not None and y is not None
        try:
            if node.op == "+":
                return _finite(x + y, node)
            if node.op == "-":
                return _finite(x - y, node)
            if node.op == "*":
                return _finite(x * y, node)
            if y == 0:
                return None
            if node.op == "/":
                return _finite(x / y, node)
            return _finite(x % y, node)
        except OverflowError:
            raise _fail("arithmetic overflow: the result is too large for a number", node) from None

    def _compare(self, node: Compare, depth: int) -> bool:
        a = self.visit(node.left, depth)
        b = self.visit(node.right, depth)
        if node.op == "==":
            return _equal(a, b)
        if node.op == "!=":
            return not _equal(a, b)
        return _order(node.op, a, b, node)

    def _boolop(self, node: BoolOp, depth: int) -> bool | None:
        decisive = node.op == "or"  # the value that ends the chain: true for or, false for and
        result: bool | None = not decisive
        for operand in node.operands:
            truth = _truth(self.visit(operand, depth), operand)
            if truth is decisive:
                return decisive
            if truth is None:
                result = None
        return result

    def _conditional(self, node: Conditional, depth: int) -> Any:
        truth = _truth(self.visit(node.condition, depth), node.condition)
        return self.visit(node.if_true if truth else node.if_false, depth)

    def _call(self, node: Call, depth: int) -> Any:
        spec = FUNCTIONS.get(node.func)
        if spec is None:
            raise _fail(f"unknown function '{node.func}'", node)
        count = len(node.args)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            raise _fail(f"{spec.name} takes {spec.arity_text()}, got {count}", node)
        if node.func == "coalesce":
            for arg in node.args:
                value = self.visit(arg, depth)
                if value is not None:
                    return value
            return None
        values = [self.visit(arg, depth) for arg in node.args]
        if any(v is None for v in values):
            return None
        if node.func == "len":
            if not isinstance(values[0], str | list):
                raise _fail(f"len needs a string or a list, got {_kind(values[0])}", node.args[0])
            return len(values[0])
        nums = [_number(v, arg) for v, arg in zip(values, node.args, strict=True)]
        result = self._math(node, [n for n in nums if n is not None])
        return None if result is None else _finite(result, node)

    @staticmethod
    def _math(node: Call, x: list[int | float]) -> int | float | None:
        try:
            if node.func == "min":
                return min(x)
            if node.func == "max":
                return max(x)
            if node.func == "abs":
                return abs(x[0])
            if node.func == "clip":
                return min(max(x[0], x[1]), x[2])
            if node.func == "exp":
                return math.exp(x[0])
            return math.log(x[0]) if x[0] > 0 else None  # log
        except OverflowError:
            raise _fail(f"{node.func}: the result is too large for a number", node) from None


def evaluate(expr: Expr, env: Mapping[str, Any]) -> Any:
    """The value of ``expr`` (a checked or unchecked tree) over ``env``.

    Returns a plain value: ``bool``, ``int``/``float`` (always finite), ``str``, ``None``, or for
    a bare record name the mapping from ``env``. Raises :class:`ExprRuntimeError` (with the
    failing node's offsets) when the value cannot be computed.
    """
    if not isinstance(env, Mapping):
        raise ExprRuntimeError(f"the environment must be a mapping, not {type(env).__name__}",
                               expr.start, expr.end)
    return _Evaluator(env).visit(expr, 0)
