"""Size limits: long, deep or huge expressions are positioned errors, never a crash."""

from __future__ import annotations

import sys

import pytest

from aira_dsl.expr import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_SOURCE_CHARS,
    ExprRuntimeError,
    ExprSyntaxError,
    check,
    compile_expression,
    evaluate,
    parse,
)
from aira_dsl.expr.ast import Expr, Name, Unary


def limit_error(source: str) -> ExprSyntaxError:
    with pytest.raises(ExprSyntaxError) as info:
        parse(source)
    assert info.value.code == "expr-limit"
    return info.value


def test_long_source() -> None:
    source = "metric + " * 300 + "1"
    err = limit_error(source)
    assert (err.start, err.end) == (MAX_SOURCE_CHARS, len(source))
    assert str(MAX_SOURCE_CHARS) in err.message


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_ten_thousand_parentheses(depth: int) -> None:
    err = limit_error("(" * depth + "1" + ")" * depth)
    assert err.start == MAX_SOURCE_CHARS


def test_deep_nesting_within_the_length_limit() -> None:
    source = "-(" * 330 + "metric" + ")" * 330  # 331 levels in 1,326 characters
    err = limit_error(source)
    assert err.message == f"expression is nested more than {MAX_DEPTH} levels deep"
    assert 0 < err.start < err.end <= len(source)
    # The first node past the limit: an operand, whose span includes its parentheses.
    assert source[err.start:err.end].startswith("(-(-(")


@pytest.mark.parametrize("source", [
    "not " * 499 + "x",
    "-" * 1999 + "x",
    "abs(" * 399 + "x" + ")" * 399,
    "1 if x else " * 150 + "2",
    "(" * 999 + "1" + ")" * 999,  # redundant parentheses add no depth, but must not crash either
], ids=["not", "minus", "calls", "conditionals", "parentheses"])
def test_pathological_nesting_is_an_error_not_a_recursion_error(source: str) -> None:
    sys_limit = sys.getrecursionlimit()
    assert len(source) <= MAX_SOURCE_CHARS
    expr, errors = compile_expression(source, "fitness.value")
    if source.startswith("(("):
        assert expr is not None  # depth 1
    else:
        assert expr is None
        assert [e.code for e in errors] == ["expr-limit"]
    assert sys.getrecursionlimit() == sys_limit


def test_depth_just_within_the_limit_is_fine() -> None:
    source = "not " * (MAX_DEPTH - 2) + "exec.timed_out"  # depth: 48 'not' + attribute + name
    expr, errors = compile_expression(source, "fitness.buggy")
    assert errors == [] and expr is not None
    assert evaluate(expr, {"exec": {"exit_code": 0, "timed_out": True, "oom_killed": False,
                                    "duration": 1}}) is True
    err = limit_error("not " * (MAX_DEPTH - 1) + "exec.timed_out")
    assert err.message == f"expression is nested more than {MAX_DEPTH} levels deep"


def test_flat_chains_are_shallow() -> None:
    # 100 'or' operands are one n-ary node: no depth problem, within the node limit.
    expr, errors = compile_expression(" or ".join(["exec.timed_out"] * 100), "fitness.buggy")
    assert errors == [] and expr is not None


def test_too_many_nodes() -> None:
    source = "min(" + ", ".join(["1"] * (MAX_NODES - 1)) + ")"  # exactly MAX_NODES nodes
    assert compile_expression(source, "fitness.value")[1] == []
    source = "min(" + ",".join(["1"] * MAX_NODES) + ")"  # one node too many
    err = limit_error(source)
    assert err.message == f"expression has {MAX_NODES + 1} parts; the limit is {MAX_NODES}"
    assert (err.start, err.end) == (0, len(source))


def test_check_and_evaluate_guard_hand_built_deep_trees() -> None:
    node: Expr = Name("x")
    for _ in range(5000):
        node = Unary("not", node)
    errors = check(node, "fitness.buggy")
    assert [e.code for e in errors] == ["expr-limit"]
    with pytest.raises(ExprRuntimeError, match="nested too deeply"):
        evaluate(node, {"x": True})
