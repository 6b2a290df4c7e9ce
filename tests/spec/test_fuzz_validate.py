"""validate never raises: mutated specs give exit 0 or 1 and diagnostics, never a traceback."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aira_dsl.cli import cli
from aira_dsl.compiler import check_spec

REPO = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((REPO / "tests/fixtures/valid/complete.yaml").read_text())

JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
    st.sampled_from(["{{ task.name }", "{% for %}", "{{ parent.cod }}", "metric >", "not not",
                     "a if b", "coalesce()", "exec.exit_code ==", "((((", "'unterminated", "1h30x",
                     "${env:NOPE}", "yes", "on", "draft", "greedy", "../prompts/draft.j2"]),
)


def paths_of(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out.extend(paths_of(value, (*prefix, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out.extend(paths_of(value, (*prefix, index)))
    return out


ALL_PATHS = [p for p in paths_of(BASE) if p]


@st.composite
def mutated_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent: Any = spec
        try:
            for part in path[:-1]:
                parent = parent[part]
        except (KeyError, IndexError, TypeError):
            continue
        action = draw(st.sampled_from(["delete", "replace", "rename"]))
        key = path[-1]
        try:
            if action == "delete":
                del parent[key]
            elif action == "replace":
                parent[key] = draw(JUNK)
            elif isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=10))] = parent.pop(key)
        except (KeyError, IndexError, TypeError):
            continue
    return spec


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=mutated_specs())
def test_mutated_specs_never_raise(spec: dict[str, Any], tmp_path_factory: Any) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(REPO / "tests/fixtures/prompts", folder / "prompts")
    (folder / "valid").mkdir()
    path = folder / "valid" / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    ctx = check_spec(path)
    for diag in ctx.diagnostics:
        assert diag.message and diag.code
    # and through the command itself: exit 0 or 1, never an internal error
    result = CliRunner().invoke(cli, ["validate", str(path), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_random_text_never_raises(text: str, tmp_path_factory: Any) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "spec.yaml"
    path.write_text(text)
    check_spec(path)


@settings(max_examples=100, deadline=None)
@given(expr=st.text(max_size=80))
def test_random_expressions_never_raise(expr: str, tmp_path_factory: Any) -> None:
    spec = copy.deepcopy(BASE)
    spec["fitness"]["buggy"] = expr
    spec["operators"]["draft"]["memory"]["where"] = expr
    for op in spec["operators"].values():
        op["prompt"] = {"user": "x"}
    path = tmp_path_factory.mktemp("fuzz") / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    check_spec(path)


@settings(max_examples=100, deadline=None)
@given(template=st.text(max_size=120))
def test_random_inline_templates_never_raise(template: str, tmp_path_factory: Any) -> None:
    spec = copy.deepcopy(BASE)
    for op in spec["operators"].values():
        op["prompt"] = {"user": template or "x"}
    path = tmp_path_factory.mktemp("fuzz") / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    check_spec(path)
