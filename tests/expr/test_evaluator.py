"""Evaluation: values, null semantics, Kleene logic, short-circuiting and run-time errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from aira_dsl.expr import ExprRuntimeError, compile_expression, evaluate, parse

from .conftest import BUGGY, fitness_env


def run(source: str, env: dict[str, Any] | None = None, field: str = "fitness.value") -> Any:
    """Compile (must succeed) and evaluate ``source`` over ``env`` (a healthy node by default)."""
    expr, errors = compile_expression(source, field)
    assert expr is not None, errors
    return evaluate(expr, fitness_env() if env is None else env)


def value(source: str, **env: Any) -> Any:
    """Evaluate an unchecked expression over a small ad-hoc environment."""
    return evaluate(parse(source), env)


# --- the DESIGN's buggy rule -------------------------------------------------------------------

@pytest.mark.parametrize(("change", "buggy"), [
    ({}, False),
    ({"exec": {"exit_code": 1, "timed_out": False, "oom_killed": False, "duration": 1}}, True),
    ({"exec": {"exit_code": 0, "timed_out": True, "oom_killed": False, "duration": 1}}, True),
    ({"review": {"is_bug": True, "summary": "", "metric": 0.5}}, True),
    ({"metric": None}, True),
    ({"submission": {"exists": True, "valid": False, "reason": "wrong columns"}}, True),
])
def test_design_buggy_rule(change: dict[str, Any], buggy: bool) -> None:
    assert run(BUGGY, fitness_env(**change), "fitness.buggy") is buggy


# --- arithmetic and literals -------------------------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("7 / 2", 3.5),
    ("7 % 3", 1),
    ("-7 % 3", 2),  # the result has the divisor's sign
    ("2 - 3 - 4", -5),
    ("-exec.duration", -12.5),
    ("1h30m + 90s", 5490),
    ("exec.duration * 2", 25.0),
    ("abs(-3)", 3),
    ("min(3, 1, 2)", 1),
    ("max(3, 1, 2)", 3),
    ("clip(5, 0, 1)", 1),
    ("clip(-5, 0, 1)", 0),
    ("clip(0.5, 0, 1)", 0.5),
    ("len(review.summary)", len("trained a model")),
    ("metric * 100", 81.0),
    ("coalesce(reported.cv_score, metric)", 0.8),
    ("coalesce(reported.missing, metric)", 0.81),
    ("1 if exec.timed_out else 2", 2),
    ("1 if not exec.timed_out else 2", 1),
])
def test_numbers(source: str, expected: float) -> None:
    assert run(source) == pytest.approx(expected)


def test_exp_and_log() -> None:
    assert run("log(exp(2))") == pytest.approx(2.0)
    assert run("exp(0)") == 1.0


def test_strings_and_equality() -> None:
    assert value("'a' + 'b'") == "ab"
    assert value("x == 'greedy'", x="greedy") is True
    assert value("x < 'b'", x="a") is True
    assert value("1 == 1.0") is True
    assert value("true == 1") is False  # booleans are not numbers


def test_integer_results_stay_integers() -> None:
    assert type(value("2 + 3")) is int
    assert type(value("4 / 2")) is float


# --- null semantics --------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    ("m + 1", None),
    ("m * 2", None),
    ("-m", None),
    ("abs(m)", None),
    ("min(m, 1)", None),
    ("clip(m, 0, 1)", None),
    ("log(m)", None),
    ("m == null", True),
    ("m != null", False),
    ("null == null", True),
    ("m == 0", False),
    ("m > 0", False),
    ("m < 0", False),
    ("m >= 0", False),
    ("not (m > 0)", True),
    ("coalesce(m, 0)", 0),
    ("coalesce(m, m, 3)", 3),
    ("coalesce(m, m)", None),
    ("1 if b else 2", 2),  # a null condition takes the else branch
])
def test_null_semantics(source: str, expected: Any) -> None:
    assert value(source, m=None, b=None) == expected


@pytest.mark.parametrize(("source", "expected"), [
    ("t and n", None), ("f and n", False), ("n and f", False), ("n and t", None), ("n and n", None),
    ("t or n", True), ("f or n", None), ("n or t", True), ("n or f", None),
    ("not n", None), ("t and t and t", True), ("f or f or t", True),
])
def test_kleene_logic(source: str, expected: Any) -> None:
    assert value(source, t=True, f=False, n=None) is expected


def test_where_with_unknown_buggy_is_null() -> None:
    expr, _ = compile_expression("not node.buggy", "memory.where")
    assert expr is not None
    env = {"node": {**fitness_env()["node"], "metric": None}, "metric": None, "policy": {}, "vars": {}}
    assert evaluate(expr, env) is None
    env["node"]["buggy"] = False
    assert evaluate(expr, env) is True


# --- domain errors give null, overflow raises ----------------------------------------------

@pytest.mark.parametrize("source", ["1 / 0", "1 % 0", "1.5 / 0.0", "log(0)", "log(-1)",
                                    "metric / (exec.exit_code)"])
def test_domain_errors_give_null(source: str) -> None:
    assert run(source) is None


@pytest.mark.parametrize("source", ["exp(1000)", "1e308 * 10", "1e308 + 1e308", "-1e308 - 1e308"])
def test_overflow_is_a_clean_runtime_error(source: str) -> None:
    with pytest.raises(ExprRuntimeError) as info:
        run(source)
    assert "too large" in info.value.message


# --- short-circuit ---------------------------------------------------------------------------

def test_and_or_short_circuit() -> None:
    # 'missing' is not in the environment: evaluating it would raise.
    assert value("false and missing > 1") is False
    assert value("true or missing > 1") is True
    with pytest.raises(ExprRuntimeError, match="no value for 'missing'"):
        value("true and missing > 1")


def test_conditional_and_coalesce_evaluate_lazily() -> None:
    assert value("1 if true else missing") == 1
    assert value("missing if false else 2") == 2
    assert value("coalesce(1, missing)") == 1


# --- the environment ---------------------------------------------------------------------------

def test_missing_open_record_entry_is_null() -> None:
    assert run("reported.not_written") is None


def test_missing_closed_record_entry_is_an_error() -> None:
    env = fitness_env(exec={"exit_code": 0})
    with pytest.raises(ExprRuntimeError, match=r"no value for 'exec\.timed_out'") as info:
        run("exec.timed_out", env, "fitness.buggy")
    assert (info.value.start, info.value.end) == (0, 14)


def test_wrongly_typed_context_value_is_an_error() -> None:
    env = fitness_env(metric="0.8")
    with pytest.raises(ExprRuntimeError, match="metric should be a number or null, got a string"):
        run("metric + 1", env)


def test_numpy_values_and_non_finite_numbers_are_normalised() -> None:
    env = fitness_env(metric=np.float64(0.25), reported={"cv": float("nan"), "n": np.int64(3)})
    assert run("metric * 2", env) == 0.5
    assert run("reported.cv", env) is None  # NaN reads as null
    assert run("reported.n + 1", env) == 4
    env = fitness_env(exec={"exit_code": np.int64(0), "timed_out": np.bool_(False),
                            "oom_killed": False, "duration": 1.0})
    assert run("exec.exit_code != 0 or exec.timed_out", env, "fitness.buggy") is False


def test_unchecked_trees_evaluate_with_dynamic_checks() -> None:
    assert value("a.b + 1", a={"b": 2}) == 3
    with pytest.raises(ExprRuntimeError, match="expected a number, got a string"):
        value("x - 1", x="s")
    with pytest.raises(ExprRuntimeError, match="expected a boolean, got a number"):
        value("x and true", x=1)
    with pytest.raises(ExprRuntimeError, match="cannot read attribute 'b' of a number"):
        value("x.b", x=1)
    with pytest.raises(ExprRuntimeError, match="unknown function 'nope'"):
        value("nope(1)")
    with pytest.raises(ExprRuntimeError, match="cannot order a number against a string"):
        value("x < 'a'", x=1)


def test_environment_must_be_a_mapping() -> None:
    with pytest.raises(ExprRuntimeError, match="must be a mapping"):
        evaluate(parse("1"), [])  # type: ignore[arg-type]


def test_results_are_finite_numbers() -> None:
    for source in ["exec.duration / 3", "log(2)", "exp(1)", "metric - 1"]:
        result = run(source)
        assert isinstance(result, float) and math.isfinite(result)
