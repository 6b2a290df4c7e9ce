"""The plan's JSON form of typed ASTs: deterministic, JSON-safe, and an exact round trip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from aira_dsl.expr import compile_expression, evaluate, from_json, parse, to_json

from .conftest import BUGGY, fitness_env

SOURCES = [
    ("fitness.buggy", BUGGY),
    ("fitness.value", "-metric if policy.kind == 'min' else coalesce(metric, 0) * 1h30m / 7"),
    ("fitness.value", "clip(log(exec.duration + 1), 0, 10) % 3 + len(\"a\\nb\")"),
    ("fitness.metric", "reported.cv_score"),
    ("memory.where", "not node.buggy and (node.metric > vars.t or node.operator != null)"),
    ("fitness.value", "null"),
    ("fitness.buggy", "true"),
]


def compiled(field: str, source: str) -> Any:
    expr, errors = compile_expression(source, field, policy={"kind": "max"}, vars={"t": 0.5})
    assert expr is not None, errors
    return expr


@pytest.mark.parametrize(("field", "source"), SOURCES)
def test_round_trip_is_exact(field: str, source: str) -> None:
    expr = compiled(field, source)
    data = to_json(expr)
    text = json.dumps(data, sort_keys=True, allow_nan=False)  # JSON-safe
    assert from_json(json.loads(text)) == expr


def test_serialisation_is_the_same_bytes_in_another_process() -> None:
    script = (
        "import json, sys\n"
        "from aira_dsl.expr import compile_expression, to_json\n"
        "pairs = json.loads(sys.stdin.read())\n"
        "out = [to_json(compile_expression(s, f, policy={'kind': 'max'}, vars={'t': 0.5})[0])"
        " for f, s in pairs]\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], input=json.dumps(SOURCES),
                            capture_output=True, text=True, timeout=60, check=True,
                            env={**os.environ, "PYTHONHASHSEED": "123"})
    here = json.dumps([to_json(compiled(f, s)) for f, s in SOURCES])
    assert result.stdout.strip() == here


def test_the_form_of_a_node() -> None:
    data = to_json(compiled("fitness.buggy", "metric == null"))
    assert data == {
        "kind": "compare", "op": "==",
        "left": {"kind": "name", "name": "metric", "type": "number|null", "span": [0, 6]},
        "right": {"kind": "null", "type": "null", "span": [10, 14]},
        "type": "bool", "span": [0, 14],
    }


def test_record_types_keep_what_the_evaluator_needs() -> None:
    data = to_json(compiled("fitness.metric", "reported.cv"))
    assert data["object"]["type"] == {"open_record": "reported", "value": "number|null"}
    # A missing reported value reads as null only because the type says "open record".
    assert evaluate(from_json(data), fitness_env(reported={})) is None


def test_unchecked_trees_have_no_type_key() -> None:
    data = to_json(parse("1 + x"))
    assert "type" not in data and "type" not in data["left"]
    assert from_json(data) == parse("1 + x")


def test_evaluating_the_stored_tree_matches_the_original() -> None:
    for field, source in SOURCES:
        expr = compiled(field, source)
        env = fitness_env()
        if field == "memory.where":
            env = {"node": {**env["node"], "metric": 0.7}, "metric": 0.7, "policy": {"kind": "max"},
                   "vars": {"t": 0.5}}
        assert evaluate(from_json(to_json(expr)), env) == evaluate(expr, env)


@pytest.mark.parametrize(("data", "message"), [
    ([], r"\$: expected an object"),
    ({"kind": "nope"}, r"\$\.kind: unknown node kind 'nope'"),
    ({"kind": "get"}, r"unknown node kind 'get'"),
    ({"kind": "number"}, r"\$: missing 'value'"),
    ({"kind": "number", "value": True}, r"\$\.value: unexpected value True"),
    ({"kind": "number", "value": float("nan")}, r"must be finite"),
    ({"kind": "binary", "op": "**", "left": {"kind": "null"}, "right": {"kind": "null"}},
     r"\$\.op: '\*\*' is not one of"),
    ({"kind": "binary", "op": "+", "left": {"kind": "null"}, "right": {"kind": "x"}},
     r"\$\.right\.kind: unknown node kind 'x'"),
    ({"kind": "null", "extra": 1}, r"unknown keys \['extra'\]"),
    ({"kind": "null", "span": [1]}, r"\$\.span: expected \[start, end\]"),
    ({"kind": "null", "type": "numbr"}, r"\$\.type: unknown type 'numbr'"),
    ({"kind": "boolop", "op": "and", "operands": [{"kind": "null"}]}, r"at least two operands"),
    ({"kind": "call", "func": "min", "args": {"a": 1}}, r"\$\.args: unexpected value"),
])
def test_malformed_json_is_a_value_error(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_json(data)


def test_from_json_enforces_the_depth_limit_without_recursing_forever() -> None:
    data: dict[str, Any] = {"kind": "bool", "value": True}
    for _ in range(10_000):
        data = {"kind": "unary", "op": "not", "operand": data}
    with pytest.raises(ValueError, match="nested more than 50 levels"):
        from_json(data)


def test_from_json_enforces_the_node_limit() -> None:
    data = {"kind": "call", "func": "min", "args": [{"kind": "number", "value": 1}] * 600}
    with pytest.raises(ValueError, match="more than 500 nodes"):
        from_json(data)
