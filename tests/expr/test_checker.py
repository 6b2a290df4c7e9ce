"""Type checking: names, attributes, operand types, calls, null rules and each field's result."""

from __future__ import annotations

from typing import Any

import pytest

from aira_dsl.expr import FIELDS, ExprError, check, compile_expression, parse, typecheck
from aira_dsl.expr.types import BOOL, NULL, NUMBER, STRING, Nullable

from .conftest import BUGGY

POLICY = {"kind": "greedy", "num_drafts": 5, "debug_prob": 1.0, "use": {"debug": "fix"}}
VARS = {"threshold": 0.5, "label": "best", "strict": True, "features": ["a", "b"], "nothing": None}


def problems(source: str, field: str = "fitness.value", **kw: Any) -> list[ExprError]:
    return check(parse(source), field, **kw)


def only(source: str, field: str = "fitness.value", **kw: Any) -> ExprError:
    found = [e for e in problems(source, field, **kw) if e.is_error]
    assert len(found) == 1, found
    return found[0]


def result_type(source: str, field: str = "fitness.value", **kw: Any) -> object:
    """The inferred type of ``source`` in ``field``'s context (whatever the field requires)."""
    typed, errors = typecheck(parse(source), field, **kw)
    assert [e for e in errors if e.is_error and e.code != "expr-result-type"] == []
    return typed.type


# --- valid expressions per field ---------------------------------------------------------------

@pytest.mark.parametrize(("field", "source"), [
    ("fitness.buggy", BUGGY),
    ("fitness.buggy", "exec.oom_killed or exec.duration > 4h or submission.reason != null"),
    ("fitness.buggy", "not submission.exists or len(review.summary) == 0"),
    ("fitness.buggy", "coalesce(node.buggy, false)"),
    ("fitness.value", "metric"),
    ("fitness.value", "-metric if policy.kind == 'greedy' else metric"),
    ("fitness.value", "clip(coalesce(reported.cv_score, metric, 0), 0, 1) * 100"),
    ("fitness.value", "log(metric) - exp(vars.threshold) + abs(min(1, 2, 3) - max(4, 5))"),
    ("fitness.value", "null"),
    ("fitness.value", "metric / 0"),
    ("fitness.metric", "review.metric"),
    ("fitness.metric", "reported.cv_score"),
    ("fitness.metric", "hidden.score"),
    ("fitness.metric", "(reported.auc + reported.f1) / 2"),
    ("memory.where", "not node.buggy"),
    ("memory.where", "node.metric != null and node.depth <= policy.num_drafts"),
    ("memory.where", "node.operator == policy.use.debug or metric > vars.threshold"),
    ("memory.where", "vars.strict and len(vars.features) > 1 and vars.label + '!' != 'x'"),
])
def test_valid_expressions_have_no_errors(field: str, source: str) -> None:
    expr, errors = compile_expression(source, field, policy=POLICY, vars=VARS)
    assert [e for e in errors if e.is_error] == []
    assert expr is not None and expr.type is not None


@pytest.mark.parametrize(("source", "expected"), [
    ("1 + 2", NUMBER),
    ("metric + 1", Nullable(NUMBER)),
    ("metric / 2", Nullable(NUMBER)),
    ("exec.duration / 2", NUMBER),         # a non-zero literal divisor cannot give null
    ("exec.duration / exec.exit_code", Nullable(NUMBER)),  # division by zero gives null
    ("exec.duration % 0", Nullable(NUMBER)),
    ("log(exec.duration)", Nullable(NUMBER)),
    ("exp(exec.duration)", NUMBER),
    ("coalesce(metric, 0)", NUMBER),
    ("coalesce(metric, reported.x)", Nullable(NUMBER)),
    ("min(metric, 1)", Nullable(NUMBER)),
    ("'a' + 'b'", STRING),
    ("'a' + submission.reason", Nullable(STRING)),
    ("null", NULL),
    ("1 if exec.timed_out else null", Nullable(NUMBER)),
    ("metric if metric > 0 else 0", Nullable(NUMBER)),
    ("-metric", Nullable(NUMBER)),
    ("len(vars.features)", NUMBER),
])
def test_inferred_types(source: str, expected: object) -> None:
    assert result_type(source, vars=VARS) == expected


@pytest.mark.parametrize(("source", "expected"), [
    ("exec.timed_out and review.is_bug", BOOL),
    ("node.buggy or exec.timed_out", Nullable(BOOL)),
    ("not node.buggy", Nullable(BOOL)),
    ("metric == null", BOOL),
    ("metric > 1", BOOL),  # ordering with null is false, never null
])
def test_boolean_types(source: str, expected: object) -> None:
    assert result_type(source) == expected


# --- names and attributes ------------------------------------------------------------------------

def test_unknown_name_suggests_the_closest() -> None:
    err = only("exce.exit_code != 0", "fitness.buggy")
    assert (err.code, err.message, err.start, err.end) == ("expr-unknown-name", "unknown name 'exce'", 0, 4)
    assert err.hint is not None and err.hint.startswith("did you mean 'exec'?")


def test_unknown_name_that_is_a_field_of_a_record() -> None:
    err = only("exit_code != 0", "fitness.buggy")
    assert err.hint == "did you mean 'exec.exit_code'?"


@pytest.mark.parametrize(("name", "literal"), [("True", "true"), ("False", "false"), ("None", "null")])
def test_python_spellings_of_literals(name: str, literal: str) -> None:
    err = only(f"metric == {name}", "fitness.buggy")
    assert err.code == "expr-unknown-name"
    assert err.hint is not None and f"'{literal}'" in err.hint


def test_unknown_attribute_points_at_the_attribute() -> None:
    source = "exec.exit_codee != 0"
    err = only(source, "fitness.buggy")
    assert err.code == "expr-unknown-name"
    assert err.message == "exec has no attribute 'exit_codee'"
    assert source[err.start:err.end] == "exit_codee"
    assert err.hint is not None and "did you mean 'exit_code'?" in err.hint and "timed_out" in err.hint


def test_fitness_metric_cannot_use_metric() -> None:
    err = only("metric", "fitness.metric")
    assert err.code == "expr-unknown-name"
    assert err.hint == "fitness.metric defines metric, so it cannot use it"


def test_memory_context_has_no_exec() -> None:
    err = only("exec.timed_out", "memory.where")
    assert err.code == "expr-unknown-name"
    assert err.hint is not None and "node, metric, policy, vars" in err.hint


def test_reported_accepts_any_name() -> None:
    assert result_type("reported.whatever_the_solution_wrote") == Nullable(NUMBER)


def test_policy_and_vars_are_typed_from_the_spec() -> None:
    err = only("policy.num_draft > 1", "fitness.buggy", policy=POLICY)
    assert err.message == "policy has no attribute 'num_draft'"
    assert err.hint is not None and "did you mean 'num_drafts'?" in err.hint
    err = only("vars.label > 1", "fitness.buggy", vars=VARS)
    assert err.code == "expr-type"  # a string ordered against a number
    err = only("vars.missing", "fitness.value", vars={})
    assert err.hint == "vars is empty in this spec"


def test_policy_and_vars_are_open_when_unknown() -> None:
    assert problems("vars.anything + policy.whatever") == []


def test_attribute_of_a_non_record() -> None:
    source = "metric.value"
    err = only(source)
    assert err.code == "expr-type"
    assert err.message == "cannot read attribute 'value' of a number or null"
    assert source[err.start:err.end] == "value"


# --- operand types ---------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "span_text", "message"), [
    ("exec.timed_out + 1", "exec.timed_out", "'+' needs numbers (or two strings), this is a boolean"),
    ("review.summary * 2", "review.summary", "'*' needs numbers, this is a string"),
    ("'a' + 1", "1", "'+' joins two strings, this is a number"),
    ("-review.summary", "review.summary", "'-' needs a number, this is a string"),
    ("exec", "exec", "value must be a number, this expression is a record (exec)"),
])
def test_arithmetic_operand_types(source: str, span_text: str, message: str) -> None:
    err = only(source)
    assert err.message == message
    assert source[err.start:err.end] == span_text


@pytest.mark.parametrize(("source", "span_text", "message"), [
    ("exec.exit_code or exec.timed_out", "exec.exit_code", "'or' needs booleans, this is a number"),
    ("not review.summary", "review.summary", "'not' needs a boolean, this is a string"),
    ("exec.timed_out and 1", "1", "'and' needs booleans, this is a number"),
    ("1 if metric else 2", "metric", "the condition must be a boolean, this is a number or null"),
])
def test_logic_needs_booleans(source: str, span_text: str, message: str) -> None:
    err = only(source, "fitness.value" if source.startswith("1 if") else "fitness.buggy")
    assert (err.code, err.message) == ("expr-type", message)
    assert source[err.start:err.end] == span_text


def test_logic_hint_suggests_an_explicit_comparison() -> None:
    err = only("exec.exit_code or exec.timed_out", "fitness.buggy")
    assert err.hint == "compare it explicitly, e.g. exec.exit_code != 0"


@pytest.mark.parametrize(("source", "message"), [
    ("exec.exit_code == 'zero'", "comparing a number with a string is always false"),
    ("exec.timed_out != 1", "comparing a boolean with a number is always true"),
    ("exec == review", "cannot compare a record (exec) with a record (review)"),
    ("review.summary < 1", "cannot order a string against a number"),
    ("exec.timed_out < true", "'<' orders numbers or strings, this is a boolean"),
    ("metric > null", "'>' with null is always false"),
])
def test_comparison_types(source: str, message: str) -> None:
    found = [e for e in problems(source, "fitness.buggy") if e.is_error]
    assert message in [e.message for e in found]
    assert {e.code for e in found} == {"expr-type"}


def test_branches_must_agree() -> None:
    err = only("1 if exec.timed_out else 'x'")
    assert err.message == "the two branches differ: a number and a string"


def test_one_mistake_is_reported_once() -> None:
    # The unknown name makes its operands "any", so the enclosing operators stay quiet.
    errors = problems("(exce.exit_code + 1) * 2 > 3 and not exce.x", "fitness.buggy")
    assert [e.message for e in errors] == ["unknown name 'exce'", "unknown name 'exce'"]


def test_several_independent_errors_are_all_reported_in_order() -> None:
    source = "exce.exit_code != 0 or review.is_bugg or metrc == null"
    errors = problems(source, "fitness.buggy")
    assert [source[e.start:e.end] for e in errors] == ["exce", "is_bugg", "metrc"]


# --- calls -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "message", "hint"), [
    ("clip(metric)", "clip takes 3 arguments, got 1", "usage: clip(x, low, high)"),
    ("min(metric)", "min takes 2 or more arguments, got 1", "usage: min(a, b, ...)"),
    ("abs(1, 2)", "abs takes 1 argument, got 2", "usage: abs(x)"),
    ("coalesce()", "coalesce takes 2 or more arguments, got 0", "usage: coalesce(a, b, ...)"),
])
def test_arity(source: str, message: str, hint: str) -> None:
    err = only(source)
    assert (err.code, err.message, err.hint) == ("expr-arity", message, hint)
    assert (err.start, err.end) == (0, len(source))


def test_unknown_function() -> None:
    source = "mx(metric, 1)"
    err = only(source)
    assert (err.code, err.message) == ("expr-unknown-name", "unknown function 'mx'")
    assert source[err.start:err.end] == "mx"
    assert err.hint is not None and err.hint.startswith("did you mean 'max'")


def test_python_builtins_are_not_callable() -> None:
    for source in ["round(metric)", "eval('1')", "__import__('os')", "open('x')"]:
        err = only(source)
        assert err.code == "expr-unknown-name"


@pytest.mark.parametrize(("source", "span_text", "message"), [
    ("log(review.summary)", "review.summary", "log needs numbers, this is a string"),
    ("max(1, exec.timed_out)", "exec.timed_out", "max needs numbers, this is a boolean"),
    ("len(metric)", "metric", "len needs a string or a list, this is a number or null"),
    ("coalesce(metric, 'none')", "metric, 'none'",
     "coalesce's arguments must all have one type: a number or null, a string"),
])
def test_argument_types(source: str, span_text: str, message: str) -> None:
    err = only(source)
    assert (err.code, err.message) == ("expr-type", message)
    assert source[err.start:err.end] == span_text


def test_function_name_used_as_a_value() -> None:
    err = only("max")
    assert err.hint == "max is a function: call it, e.g. max(a, b, ...)"


# --- warnings --------------------------------------------------------------------------------

def test_comparing_a_never_null_value_with_null_warns() -> None:
    errors = problems("exec.exit_code == null", "fitness.buggy")
    assert [(e.code, e.severity, e.message) for e in errors] == [
        ("expr-redundant", "warning", "exec.exit_code is never null, so this is always false")]
    expr, errors = compile_expression("exec.exit_code == null", "fitness.buggy")
    assert expr is not None  # warnings keep the expression


def test_useless_coalesce_arguments_warn() -> None:
    source = "coalesce(metric, 0, 1)"
    (warning,) = problems(source)
    assert warning.severity == "warning" and warning.code == "expr-redundant"
    assert source[warning.start:warning.end] == "1"


# --- the field's result type ---------------------------------------------------------------

def test_buggy_must_be_boolean() -> None:
    err = only("exec.exit_code + 1", "fitness.buggy")
    assert (err.code, err.message) == ("expr-result-type",
                                       "buggy must be a boolean, this expression is a number")
    assert err.hint == "compare it to get a boolean, e.g. (...) > 0"
    assert (err.start, err.end) == (0, 18)


def test_buggy_may_not_be_null() -> None:
    err = only("node.buggy or exec.timed_out", "fitness.buggy")
    assert err.message == "buggy must be a boolean, this expression can be null"
    assert err.hint == "say what null means with coalesce(..., false)"


def test_where_accepts_a_nullable_boolean() -> None:
    assert problems("not node.buggy", "memory.where") == []
    err = only("node.metric", "memory.where")
    assert err.message == "where must be a boolean, this expression is a number or null"


@pytest.mark.parametrize("field", ["fitness.value", "fitness.metric"])
def test_numbers_fields_reject_booleans_and_records(field: str) -> None:
    err = only("exec.timed_out", field)
    short = field.split(".")[1]
    assert err.message == f"{short} must be a number, this expression is a boolean"
    err = only("reported", field)
    assert err.hint == "pick one value by name, e.g. reported.<name>"


def test_every_field_is_checkable() -> None:
    for field in FIELDS:
        assert isinstance(check(parse("null"), field), list)


def test_unknown_field_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match=r"unknown expression field 'fitness\.bugy'"):
        compile_expression("true", "fitness.bugy")


def test_errors_are_sorted_and_bounded_by_the_source() -> None:
    source = "foo(bar) + exec.nope * 'x' > review or baz"
    for err in problems(source, "fitness.buggy"):
        assert 0 <= err.start <= err.end <= len(source)
    starts = [e.start for e in problems(source, "fitness.buggy")]
    assert starts == sorted(starts)
