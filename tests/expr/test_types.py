"""The type system: nullability, assignability, unification, value typing and the JSON form."""

from __future__ import annotations

import pytest

from aira_dsl.expr import build_context
from aira_dsl.expr.types import (
    ANY,
    BOOL,
    NULL,
    NUMBER,
    STRING,
    FieldInfo,
    ListType,
    Nullable,
    OpenRecordType,
    RecordType,
    Type,
    assignable,
    conforms,
    describe,
    nullable,
    render,
    type_from_json,
    type_of_value,
    type_to_json,
    unify,
)

N_NUM = Nullable(NUMBER)
REC = RecordType("exec", (FieldInfo("exit_code", NUMBER, "doc"), FieldInfo("ok", BOOL)))


def test_nullable_is_normalised() -> None:
    assert nullable(NUMBER) == N_NUM
    assert nullable(N_NUM) == N_NUM
    assert nullable(NULL) == NULL
    assert nullable(ANY) == ANY


@pytest.mark.parametrize(("actual", "expected", "ok"), [
    (NUMBER, N_NUM, True), (NULL, N_NUM, True), (N_NUM, NUMBER, False), (NULL, NUMBER, False),
    (BOOL, NUMBER, False), (ANY, BOOL, True), (STRING, ANY, True), (REC, REC, True),
    (Nullable(BOOL), BOOL, False), (BOOL, Nullable(BOOL), True),
])
def test_assignable(actual: Type, expected: Type, ok: bool) -> None:
    assert assignable(actual, expected) is ok


@pytest.mark.parametrize(("a", "b", "result"), [
    (NUMBER, NUMBER, NUMBER), (NUMBER, NULL, N_NUM), (NULL, STRING, Nullable(STRING)),
    (N_NUM, NUMBER, N_NUM), (NUMBER, STRING, None), (ANY, BOOL, ANY), (NULL, NULL, NULL),
])
def test_unify(a: Type, b: Type, result: Type | None) -> None:
    assert unify(a, b) == result


def test_descriptions_are_not_part_of_the_type() -> None:
    assert RecordType("exec", (FieldInfo("exit_code", NUMBER), FieldInfo("ok", BOOL))) == REC


@pytest.mark.parametrize(("t", "phrase", "code"), [
    (BOOL, "a boolean", "bool"), (N_NUM, "a number or null", "number | null"),
    (ListType(STRING), "a list", "list[string]"), (REC, "a record (exec)", "record"),
    (OpenRecordType("reported", N_NUM), "a record (reported)", "record of number | null"),
    (ANY, "any value", "any"), (NULL, "null", "null"),
])
def test_describe_and_render(t: Type, phrase: str, code: str) -> None:
    assert describe(t) == phrase
    assert render(t) == code


def test_types_of_plain_values() -> None:
    assert type_of_value(True) == BOOL
    assert type_of_value(3) == NUMBER
    assert type_of_value(None) == NULL
    assert type_of_value(["a", "b"]) == ListType(STRING)
    assert type_of_value([1, None]) == ListType(N_NUM)
    assert type_of_value([1, "a"]) == ListType(ANY)
    assert type_of_value([]) == ListType(ANY)
    assert type_of_value({"a": {"b": 1}}) == RecordType(
        "value", (FieldInfo("a", RecordType("value.a", (FieldInfo("b", NUMBER),))),))


def test_deeply_nested_user_values_stop_at_any() -> None:
    value: object = 1
    for _ in range(1000):
        value = {"k": value}
    t = type_of_value(value)  # no RecursionError
    depth = 0
    while isinstance(t, RecordType):
        t = t.fields[0].type
        depth += 1
    assert t == ANY and depth == 20


@pytest.mark.parametrize(("value", "t", "ok"), [
    (1, NUMBER, True), (1.5, NUMBER, True), (True, NUMBER, False), (float("inf"), NUMBER, False),
    (None, N_NUM, True), (None, NUMBER, False), ("x", STRING, True), ({}, REC, True),
    ([1], ListType(NUMBER), True), (1, ANY, True), (False, BOOL, True), (0, BOOL, False),
])
def test_conforms(value: object, t: Type, ok: bool) -> None:
    assert conforms(value, t) is ok


@pytest.mark.parametrize("t", [
    BOOL, NUMBER, STRING, NULL, ANY, N_NUM, Nullable(STRING), ListType(N_NUM), REC,
    Nullable(REC), OpenRecordType("reported", N_NUM), ListType(ListType(ANY)),
])
def test_json_round_trip(t: Type) -> None:
    assert type_from_json(type_to_json(t)) == t


@pytest.mark.parametrize("bad", ["null|null", "any|null", "int", {"list": "x"}, {"nullable": "null"},
                                 {"record": "r", "fields": [["a"]]}, 3, None])
def test_bad_type_json(bad: object) -> None:
    with pytest.raises(ValueError):
        type_from_json(bad)


def test_context_from_spec_mappings() -> None:
    ctx = build_context("fitness.value", policy={"kind": "mcts", "uct_c": 0.25},
                        vars={"folds": 5, "cols": ["a"]})
    policy = ctx.get("policy")
    assert policy is not None and isinstance(policy.type, RecordType)
    assert policy.type.names() == ["kind", "uct_c"]
    vars_entry = ctx.get("vars")
    assert vars_entry is not None and vars_entry.type == RecordType(
        "vars", (FieldInfo("folds", NUMBER), FieldInfo("cols", ListType(STRING))))
    assert build_context("fitness.metric").get("metric") is None
    with pytest.raises(ValueError, match="unknown expression field"):
        build_context("nope")
