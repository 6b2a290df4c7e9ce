"""Parsing: every construct, precedence, literals, durations and source spans."""

from __future__ import annotations

import pytest

from aira_dsl.expr import parse
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
    children,
    names_used,
)


def shape(node: Expr) -> str:
    """A compact fully parenthesised rendering, to assert on structure (not spans)."""
    if isinstance(node, Number):
        return repr(node.value)
    if isinstance(node, String):
        return repr(node.value)
    if isinstance(node, Bool):
        return "true" if node.value else "false"
    if isinstance(node, Null):
        return "null"
    if isinstance(node, Duration):
        return f"{node.seconds}s"
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Attribute):
        return f"{shape(node.value)}.{node.attr}"
    if isinstance(node, Unary):
        return f"({node.op} {shape(node.operand)})"
    if isinstance(node, Binary | Compare):
        return f"({shape(node.left)} {node.op} {shape(node.right)})"
    if isinstance(node, BoolOp):
        return "(" + f" {node.op} ".join(shape(o) for o in node.operands) + ")"
    if isinstance(node, Conditional):
        return f"({shape(node.if_true)} if {shape(node.condition)} else {shape(node.if_false)})"
    if isinstance(node, Call):
        return f"{node.func}(" + ", ".join(shape(a) for a in node.args) + ")"
    raise AssertionError(node)


@pytest.mark.parametrize(("source", "expected"), [
    ("1", "1"),
    ("2.5", "2.5"),
    ("1e3", "1000.0"),
    ("1.5E-2", "0.015"),
    (".5", "0.5"),
    ("-3", "-3"),
    ("- 3.5", "-3.5"),
    ("'it\\'s'", "\"it's\""),
    ('"a\\"b"', "'a\"b'"),
    ("'tab\\there'", "'tab\\there'"),
    ("'\\u00e9\\\\'", "'é\\\\'"),
    ("true", "true"),
    ("false", "false"),
    ("null", "null"),
    ("metric", "metric"),
    ("exec.exit_code", "exec.exit_code"),
    ("a.b.c", "a.b.c"),
    ("not x", "(not x)"),
    ("-x", "(- x)"),
    ("min(a, b, c)", "min(a, b, c)"),
    ("f()", "f()"),
    ("abs(-x)", "abs((- x))"),
])
def test_atoms_and_simple_forms(source: str, expected: str) -> None:
    assert shape(parse(source)) == expected


@pytest.mark.parametrize(("source", "expected"), [
    ("1 + 2 * 3", "(1 + (2 * 3))"),
    ("(1 + 2) * 3", "((1 + 2) * 3)"),
    ("1 - 2 - 3", "((1 - 2) - 3)"),
    ("8 / 4 / 2", "((8 / 4) / 2)"),
    ("7 % 3 * 2", "((7 % 3) * 2)"),
    ("-x * y", "((- x) * y)"),
    ("-x.y", "(- x.y)"),
    ("a + b < c * d", "((a + b) < (c * d))"),
    ("a == b and c != d", "((a == b) and (c != d))"),
    ("not a == b", "(not (a == b))"),
    ("not a and b", "((not a) and b)"),
    ("a or b and c", "(a or (b and c))"),
    ("a and b or c and d", "((a and b) or (c and d))"),
    ("a or b or c", "(a or b or c)"),
    ("a and b and c and d", "(a and b and c and d)"),
    ("x if c else y", "(x if c else y)"),
    ("x if c else y if d else z", "(x if c else (y if d else z))"),
    ("a or b if c or d else e", "((a or b) if (c or d) else e)"),
    ("x + 1 if x > 0 else -x", "((x + 1) if (x > 0) else (- x))"),
    ("a <= b", "(a <= b)"),
    ("a >= b", "(a >= b)"),
    ("a > b", "(a > b)"),
    ("nothing or android", "(nothing or android)"),  # keyword prefixes stay names
    ("notx", "notx"),
])
def test_precedence(source: str, expected: str) -> None:
    assert shape(parse(source)) == expected


@pytest.mark.parametrize(("source", "seconds"), [
    ("90s", 90), ("30m", 1800), ("4h", 14400), ("1d", 86400), ("1h30m", 5400),
    ("1d2h3m4s", 93784), ("1.5h", 5400), ("0.5s", 0.5), ("2m30s", 150),
])
def test_durations_are_seconds(source: str, seconds: float) -> None:
    node = parse(source)
    assert isinstance(node, Duration)
    assert node.seconds == seconds
    assert node.text == source


def test_duration_in_arithmetic() -> None:
    assert shape(parse("exec.duration > 1h30m + 90s")) == "(exec.duration > (5400s + 90s))"


@pytest.mark.parametrize(("source", "kind"), [("1", int), ("-7", int), ("1.0", float), ("1e2", float)])
def test_integers_stay_integers(source: str, kind: type) -> None:
    node = parse(source)
    assert isinstance(node, Number)
    assert type(node.value) is kind


def test_whitespace_and_newlines_are_ignored() -> None:
    assert shape(parse("  exec.exit_code\n  != 0\n")) == "(exec.exit_code != 0)"


def test_spans_cover_each_node() -> None:
    source = "exec.exit_code != 0 or (metric + 1) > 2"
    root = parse(source)
    assert (root.start, root.end) == (0, len(source))
    seen = {source[n.start:n.end] for n in _walk(root)}
    assert {"exec.exit_code", "exec", "0", "exec.exit_code != 0", "(metric + 1)", "metric",
            "(metric + 1) > 2", "2"} <= seen


def test_call_and_unary_spans() -> None:
    source = "  not  clip(x, 0, 1)"
    root = parse(source)
    assert isinstance(root, Unary)
    assert source[root.start:root.end] == "not  clip(x, 0, 1)"
    assert source[root.operand.start:root.operand.end] == "clip(x, 0, 1)"


def test_names_used_lists_dotted_paths() -> None:
    assert names_used(parse("exec.exit_code != 0 or coalesce(reported.cv, metric) > policy.x")) == (
        "exec.exit_code", "metric", "policy.x", "reported.cv")


def test_parse_results_are_shared_and_immutable() -> None:
    a, b = parse("metric > 1"), parse("metric > 1")
    assert a is b  # cached by text; safe because nodes are frozen
    with pytest.raises(AttributeError):
        a.start = 3  # type: ignore[misc]


def _walk(node: Expr) -> list[Expr]:
    out = [node]
    for child in children(node):
        out.extend(_walk(child))
    return out
