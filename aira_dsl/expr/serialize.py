"""The JSON form of a typed AST, as stored in the plan, and its exact inverse.

The runtime evaluates the plan's trees without re-parsing, so the form keeps everything the
evaluator needs: node kinds, operators, literal values, inferred types (open records decide what
a missing ``reported.<name>`` means) and source spans (for run-time error messages). The output
is plain JSON (dicts, lists, str, int, float, bool, None) with a fixed key order, so the same
tree always serialises to the same bytes. :func:`from_json` validates its input and enforces the
same size limits as the parser; anything malformed raises ``ValueError`` with a JSON path.
"""

from __future__ import annotations

import math
from typing import Any

from aira_dsl.expr.ast import (
    ARITHMETIC_OPS,
    BOOL_OPS,
    COMPARISON_OPS,
    UNARY_OPS,
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
)
from aira_dsl.expr.limits import MAX_DEPTH, MAX_NODES
from aira_dsl.expr.types import type_from_json, type_to_json

__all__ = ["from_json", "to_json"]


def _fields(node: Expr) -> dict[str, Any]:
    if isinstance(node, Number):
        return {"kind": "number", "value": node.value}
    if isinstance(node, String):
        return {"kind": "string", "value": node.value}
    if isinstance(node, Bool):
        return {"kind": "bool", "value": node.value}
    if isinstance(node, Null):
        return {"kind": "null"}
    if isinstance(node, Duration):
        return {"kind": "duration", "seconds": node.seconds, "text": node.text}
    if isinstance(node, Name):
        return {"kind": "name", "name": node.name}
    if isinstance(node, Attribute):
        return {"kind": "attribute", "object": to_json(node.value), "attr": node.attr}
    if isinstance(node, Unary):
        return {"kind": "unary", "op": node.op, "operand": to_json(node.operand)}
    if isinstance(node, Binary):
        return {"kind": "binary", "op": node.op, "left": to_json(node.left),
                "right": to_json(node.right)}
    if isinstance(node, Compare):
        return {"kind": "compare", "op": node.op, "left": to_json(node.left),
                "right": to_json(node.right)}
    if isinstance(node, BoolOp):
        return {"kind": "boolop", "op": node.op, "operands": [to_json(o) for o in node.operands]}
    if isinstance(node, Conditional):
        return {"kind": "conditional", "condition": to_json(node.condition),
                "if_true": to_json(node.if_true), "if_false": to_json(node.if_false)}
    if isinstance(node, Call):
        return {"kind": "call", "func": node.func, "args": [to_json(a) for a in node.args]}
    raise TypeError(f"not an expression node: {node!r}")


def to_json(expr: Expr) -> dict[str, Any]:
    """The JSON form of a (checked or unchecked) tree; ``type`` is present once checked.

    Trees come from :func:`parse` or :func:`from_json`, both of which bound their depth, so
    this recursion is shallow.
    """
    data = _fields(expr)
    if expr.type is not None:
        data["type"] = type_to_json(expr.type)
    data["span"] = [expr.start, expr.end]
    return data


class _Reader:
    """Validating reader of the JSON form; counts nodes to enforce the parser's limits."""

    def __init__(self) -> None:
        self.count = 0

    def read(self, data: Any, path: str, depth: int) -> Expr:
        if depth > MAX_DEPTH:
            raise ValueError(f"{path}: expression nested more than {MAX_DEPTH} levels deep")
        self.count += 1
        if self.count > MAX_NODES:
            raise ValueError(f"{path}: expression has more than {MAX_NODES} nodes")
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected an object, got {type(data).__name__}")
        kind = data.get("kind")
        span = data.get("span", [0, 0])
        if not (isinstance(span, list) and len(span) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in span)):
            raise ValueError(f"{path}.span: expected [start, end], got {span!r}")
        extra: dict[str, Any] = {"start": span[0], "end": span[1]}
        if "type" in data:
            try:
                extra["type"] = type_from_json(data["type"])
            except ValueError as err:
                raise ValueError(f"{path}.type: {err}") from None
        if not isinstance(kind, str) or kind not in _KEYS:
            raise ValueError(f"{path}.kind: unknown node kind {kind!r}")
        builder = getattr(self, f"_{kind}")
        expected = _KEYS[kind] | {"kind", "span", "type"}
        unknown = set(data) - expected
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)} for a {kind} node")
        node: Expr = builder(data, path, depth, extra)
        return node

    def _get(self, data: dict[str, Any], key: str, path: str, kinds: type | tuple[type, ...]) -> Any:
        if key not in data:
            raise ValueError(f"{path}: missing {key!r}")
        value = data[key]
        allowed = kinds if isinstance(kinds, tuple) else (kinds,)
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise ValueError(f"{path}.{key}: unexpected value {value!r}")
        return value

    def _op(self, data: dict[str, Any], path: str, allowed: tuple[str, ...]) -> str:
        op = self._get(data, "op", path, str)
        if op not in allowed:
            raise ValueError(f"{path}.op: {op!r} is not one of {', '.join(allowed)}")
        return str(op)

    def _number_value(self, data: dict[str, Any], key: str, path: str) -> int | float:
        value = self._get(data, key, path, (int, float))
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{path}.{key}: numbers must be finite")
        return value  # type: ignore[no-any-return]

    def _child(self, data: dict[str, Any], key: str, path: str, depth: int) -> Expr:
        if key not in data:
            raise ValueError(f"{path}: missing {key!r}")
        return self.read(data[key], f"{path}.{key}", depth + 1)

    def _children(self, data: dict[str, Any], key: str, path: str, depth: int) -> tuple[Expr, ...]:
        items = self._get(data, key, path, list)
        return tuple(self.read(item, f"{path}.{key}[{i}]", depth + 1) for i, item in enumerate(items))

    def _number(self, d: dict[str, Any], p: str, depth: int, x: dict[str, Any]) -> Expr:
        return Number(self._number_value(d, "value", p), **x)

    def _string(self, d: dict[str, Any], p: str, depth: int, x: dict[str, Any]) -> Expr:
        return String(self._get(d, "value", p, str), **x)

    def _bool(self, d: dict[str, Any], p: str, depth: int, x: dict[str, Any]) -> Expr:
        return Bool(self._get(d, "value", p, bool), **x)

    def _null(self, d: dict[str, Any], p: str, depth: int, x: dict[str, Any]) -> Expr:
        return Null(**x)

    def _duration(self, d: dict[str, Any], p: str, depth: int, x: dict[str, Any]) -> Expr:
        return Duration(self._number_value(d, "seconds", p), self._get(d, "text", p, str), **x)

    def _name(self, d: dict[str, Any], p: str, depth: int, x: dict[str, Any]) -> Expr:
        return Name(self._get(d, "name", p, str), **x)

    def _attribute(self, d: dict[str, Any], p: str, depth: int, x: dict[str, Any]) -> Expr:
        return Attribute(self._child(d, "object", p, depth), self._get(d, "attr", p, str), **x)

    def _unary(self, d: dict[str, Any], p: str, depth: int, x: dict[str, Any]) -> Expr:
        return Unary(self._op(d, p, UNARY_OPS), self._child(d, "operand", p, depth), **x)

    def _binary(self, d: dict[str, Any], p: str, depth: int, x: dict[str, Any]) -> Expr:
        return Binary(self._op(d, p, ARITHMETIC_OPS), self._child(d, "left", p, depth),
                      self._child(d, "right", p, depth), **x)

    def _compare(self, d: dict[str, Any], p: str, depth: int, x: dict[str, Any]) -> Expr:
        return Compare(self._op(d, p, COMPARISON_OPS), self._child(d, "left", p, depth),
                       self._child(d, "right", p, depth), **x)

    def _boolop(self, d: dict[str, Any], p: str, depth: int, x: dict[str, Any]) -> Expr:
        op = self._op(d, p, BOOL_OPS)
        operands = self._children(d, "operands", p, depth)
        if len(operands) < 2:
            raise ValueError(f"{p}.operands: '{op}' needs at least two operands")
        return BoolOp(op, operands, **x)

    def _conditional(self, d: dict[str, Any], p: str, depth: int, x: dict[str, Any]) -> Expr:
        return Conditional(self._child(d, "condition", p, depth), self._child(d, "if_true", p, depth),
                           self._child(d, "if_false", p, depth), **x)

    def _call(self, d: dict[str, Any], p: str, depth: int, x: dict[str, Any]) -> Expr:
        return Call(self._get(d, "func", p, str), self._children(d, "args", p, depth), **x)


_KEYS: dict[str, set[str]] = {
    "number": {"value"}, "string": {"value"}, "bool": {"value"}, "null": set(),
    "duration": {"seconds", "text"}, "name": {"name"}, "attribute": {"object", "attr"},
    "unary": {"op", "operand"}, "binary": {"op", "left", "right"},
    "compare": {"op", "left", "right"}, "boolop": {"op", "operands"},
    "conditional": {"condition", "if_true", "if_false"}, "call": {"func", "args"},
}


def from_json(data: Any) -> Expr:
    """The tree :func:`to_json` produced; ``ValueError`` (with a ``$.path``) if malformed."""
    return _Reader().read(data, "$", 1)
