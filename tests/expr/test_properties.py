"""Property tests: no input crashes compilation; checked expressions evaluate soundly.

Two generators: arbitrary text (and token soup) for robustness, and a type-directed generator of
well-typed expressions, which must all compile (the checker accepts what it should), evaluate
to a value of their inferred type or raise only ``ExprRuntimeError`` for a genuine overflow, and
survive the JSON round trip.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aira_dsl.expr import (
    FIELDS,
    FUNCTIONS,
    ExprRuntimeError,
    compile_expression,
    evaluate,
    from_json,
    to_json,
    typecheck,
)
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
from aira_dsl.expr.types import conforms

POLICY = {"kind": "greedy", "num_drafts": 5}
VARS = {"threshold": 0.5, "label": "x", "features": ["a", "b"]}
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TOKENS = ["metric", "exec", ".", "exit_code", "timed_out", "review", "is_bug", "node", "buggy",
          "reported", "cv", "(", ")", ",", "and", "or", "not", "if", "else", "==", "!=", "<", "<=",
          ">", ">=", "+", "-", "*", "/", "%", "null", "true", "false", "1", "0", "2.5", "1e9",
          "90s", "1h30m", "'s'", '"t"', "min", "max", "abs", "log", "exp", "coalesce", "clip",
          "len", "=", "&&", "'", "[", "x", "True", "policy", "vars", "kind", "threshold"]


@SETTINGS
@given(source=st.text(max_size=80), field=st.sampled_from(sorted(FIELDS)))
def test_compile_never_raises_on_random_text(source: str, field: str) -> None:
    expr, errors = compile_expression(source, field, policy=POLICY, vars=VARS)
    assert (expr is None) == any(e.is_error for e in errors)
    for err in errors:
        assert 0 <= err.start <= err.end <= len(source)
        assert err.code.startswith("expr-") and err.message


@SETTINGS
@given(tokens=st.lists(st.sampled_from(TOKENS), max_size=25), field=st.sampled_from(sorted(FIELDS)))
def test_compile_never_raises_on_token_soup(tokens: list[str], field: str) -> None:
    source = " ".join(tokens)
    expr, errors = compile_expression(source, field, policy=POLICY, vars=VARS)
    assert (expr is None) == any(e.is_error for e in errors)
    for err in errors:
        assert 0 <= err.start <= err.end <= len(source)


# --- a type-directed generator of well-typed fitness expressions --------------------------------

NUM_ATOMS = ["metric", "exec.exit_code", "exec.duration", "review.metric", "reported.cv",
             "reported.auc", "hidden.score", "node.depth", "node.step", "policy.num_drafts",
             "vars.threshold", "0", "1", "-3", "2.5", "1e300", "0.001", "90s", "1h30m",
             "len(vars.features)"]
BOOL_ATOMS = ["exec.timed_out", "exec.oom_killed", "review.is_bug", "submission.valid",
              "submission.exists", "node.buggy", "true", "false"]
STR_ATOMS = ["review.summary", "submission.reason", "node.operator", "policy.kind", "vars.label",
             "'a'", "''"]


def _bin(op: str, a: st.SearchStrategy[str], b: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(a, b).map(lambda t: f"({t[0]} {op} {t[1]})")


def _call(name: str, *args: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*args).map(lambda t: f"{name}({', '.join(t)})")


def _cond(value: st.SearchStrategy[str], depth: int) -> st.SearchStrategy[str]:
    return st.tuples(value, booleans(depth - 1), value).map(
        lambda t: f"({t[0]} if {t[1]} else {t[2]})")


@functools.cache
def strings(depth: int) -> st.SearchStrategy[str]:
    atoms = st.sampled_from(STR_ATOMS)
    if depth == 0:
        return atoms
    sub = strings(depth - 1)
    return st.one_of(atoms, _bin("+", sub, sub), _cond(sub, depth))


@functools.cache
def numbers(depth: int) -> st.SearchStrategy[str]:
    atoms = st.sampled_from(NUM_ATOMS)
    if depth == 0:
        return atoms
    sub = numbers(depth - 1)
    return st.one_of(
        atoms,
        *[_bin(op, sub, sub) for op in ("+", "-", "*", "/", "%")],
        sub.map(lambda x: f"(-{x})"),
        *[_call(f, sub) for f in ("abs", "log", "exp")],
        _call("min", sub, sub), _call("max", sub, sub, sub), _call("clip", sub, sub, sub),
        _call("coalesce", sub, sub), _call("len", strings(depth - 1)), _cond(sub, depth),
    )


@functools.cache
def booleans(depth: int) -> st.SearchStrategy[str]:
    atoms = st.sampled_from(BOOL_ATOMS)
    if depth == 0:
        return atoms
    sub, nums, strs = booleans(depth - 1), numbers(depth - 1), strings(depth - 1)
    return st.one_of(
        atoms,
        *[_bin(op, nums, nums) for op in ("==", "!=", "<", "<=", ">", ">=")],
        *[_bin(op, strs, strs) for op in ("==", "!=", "<")],
        _bin("and", sub, sub), _bin("or", sub, sub), sub.map(lambda x: f"(not {x})"),
        nums.map(lambda x: f"({x} == null)"), _call("coalesce", sub, sub),
    )


def fitness_env_strategy() -> st.SearchStrategy[dict[str, Any]]:
    number = st.one_of(st.integers(-5, 5), st.floats(-1e6, 1e6, allow_nan=False), st.just(0))
    maybe = st.one_of(st.none(), number)
    flag = st.booleans()
    return st.fixed_dictionaries({
        "exec": st.fixed_dictionaries({"exit_code": st.integers(-9, 255), "timed_out": flag,
                                       "oom_killed": flag, "duration": st.floats(0, 1e5)}),
        "review": st.fixed_dictionaries({"is_bug": flag, "summary": st.text(max_size=5),
                                         "metric": maybe}),
        "submission": st.fixed_dictionaries({"exists": flag, "valid": flag,
                                             "reason": st.one_of(st.none(), st.text(max_size=3))}),
        "reported": st.dictionaries(st.sampled_from(["cv", "auc"]), maybe),
        "hidden": st.fixed_dictionaries({"score": maybe}),
        "node": st.fixed_dictionaries({"step": st.integers(0, 99), "depth": st.integers(0, 9),
                                       "debug_depth": st.integers(0, 9),
                                       "num_children": st.integers(0, 9),
                                       "operator": st.sampled_from(["draft", "improve"]),
                                       "buggy": st.one_of(st.none(), flag)}),
        "metric": maybe,
        "policy": st.just(POLICY),
        "vars": st.just(VARS),
    })


def _outcome(expr: Any, env: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "value", evaluate(expr, env)
    except ExprRuntimeError as err:
        return "error", err.message


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_well_typed_expressions_compile_and_evaluate_soundly(data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(["fitness.value", "fitness.buggy"]))
    depth = data.draw(st.integers(0, 3))
    body = data.draw(numbers(depth) if field == "fitness.value" else booleans(depth))
    source = body if field == "fitness.value" else f"coalesce({body}, false)"
    expr, errors = compile_expression(source, field, policy=POLICY, vars=VARS)
    assert expr is not None, (source, errors)
    assert all(e.code == "expr-redundant" for e in errors)
    assert expr.type is not None

    env = data.draw(fitness_env_strategy())
    kind, result = _outcome(expr, env)
    if kind == "error":
        assert "too large" in result, (source, result)  # only overflow may fail at run time
    else:
        assert conforms(result, expr.type), (source, result, expr.type)
        assert conforms(result, FIELDS[field].result)

    stored = from_json(json.loads(json.dumps(to_json(expr), allow_nan=False)))
    assert stored == expr
    assert _outcome(stored, env) == (kind, result)


# --- random trees, built directly (not from text): checking and evaluating never crash ------------

_NAMES = ["metric", "exec", "review", "reported", "node", "policy", "vars", "nope", "x"]
_ATTRS = ["exit_code", "timed_out", "metric", "cv", "buggy", "kind", "num_drafts", "zzz"]
_FUNCS = [*sorted(FUNCTIONS), "round", "eval"]

leaves: st.SearchStrategy[Expr] = st.one_of(
    st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False)).map(
        lambda v: Number(v)),
    st.text(max_size=4).map(lambda v: String(v)),
    st.booleans().map(lambda v: Bool(v)),
    st.just(Null()),
    st.integers(0, 10**6).map(lambda v: Duration(v, f"{v}s")),
    st.sampled_from(_NAMES).map(lambda v: Name(v)),
)


def _compound(sub: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.tuples(sub, st.sampled_from(_ATTRS)).map(lambda t: Attribute(t[0], t[1])),
        st.tuples(st.sampled_from(UNARY_OPS), sub).map(lambda t: Unary(t[0], t[1])),
        st.tuples(st.sampled_from(ARITHMETIC_OPS), sub, sub).map(lambda t: Binary(*t)),
        st.tuples(st.sampled_from(COMPARISON_OPS), sub, sub).map(lambda t: Compare(*t)),
        st.tuples(st.sampled_from(BOOL_OPS), st.lists(sub, min_size=2, max_size=4)).map(
            lambda t: BoolOp(t[0], tuple(t[1]))),
        st.tuples(sub, sub, sub).map(lambda t: Conditional(*t)),
        st.tuples(st.sampled_from(_FUNCS), st.lists(sub, max_size=4)).map(
            lambda t: Call(t[0], tuple(t[1]))),
    )


trees = st.recursive(leaves, _compound, max_leaves=25)


@SETTINGS
@given(tree=trees, field=st.sampled_from(sorted(FIELDS)), env=fitness_env_strategy())
def test_random_trees_never_crash(tree: Expr, field: str, env: dict[str, Any]) -> None:
    typed, errors = typecheck(tree, field, policy=POLICY, vars=VARS)
    assert all(e.code.startswith("expr-") for e in errors)
    _outcome(tree, env)  # unchecked: every operation checks its operands at run time
    if not any(e.is_error for e in errors):
        kind, result = _outcome(typed, env)
        if kind == "value":
            assert conforms(result, FIELDS[field].result), (tree, result)
    assert from_json(json.loads(json.dumps(to_json(typed), allow_nan=False))) == typed
