"""validate never raises: mutated specs give exit 0 or 1 and diagnostics, never a traceback.

Bad input of every kind the red-team tried is fuzzed here: paths (absolute, ``..``, symbolic
links out of the project, package references, profile paths), huge and infinite numbers (in the
file, in ``${env:..}`` defaults, in ``--set``), and plan files edited and re-hashed. The goal is
0 exit-3 (internal error) results, and no byte of a file outside the allowed roots in any
output; a sample of cases runs the real command in a subprocess."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
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


SECRET = "FUZZ-SECRET-c0ffee"
"""Text of files outside the fuzz project: no output may ever contain it."""
HUGE = "__HUGE_INT__"
"""Stands for a 5000-digit integer (written into the YAML/JSON text after dumping)."""

PATH_VALUES = [
    "/etc/passwd", "/etc/hostname", "/etc/passwd.j2", "../../../../../../etc/passwd",
    "../../../../../../etc/shadow.yaml", "~/.ssh/id_rsa", "~/../../etc/passwd.yaml",
    "../../secret.j2", "../../secret.yaml", "../prompts/link.j2", "../prompts/outside/secret.j2",
    "link.yaml", "../prompts/draft.j2", "./../prompts/draft.j2", "../prompts/../../secret.j2",
    "aira-dsl:prompts/aira/draft.j2", "aira-dsl:specs/aira-greedy.yaml", "aira-dsl:specs/base.yaml",
    "aira-dsl:../../etc/passwd", "aira-dsl:/etc/passwd", "aira-dsl:", "aira-dsl:specs/nope.yaml",
    "runtimes/local.yaml", "../runtimes/mine.yaml", "local-unsafe", "../../../../etc/passwd.yaml",
    "/dev/zero", "/proc/self/environ", "spec.yaml",
]
PATHS = st.sampled_from(PATH_VALUES)
NUMBERS = st.sampled_from([HUGE, 10**30, -(10**25), 2**53, 2**53 - 1, 0, -1, float("inf"), float("-inf"),
                           "1e400", "${env:NOPE_HUGE:" + "9" * 5000 + "}", "${env:NOPE_INF:.inf}"])
BAD_INPUT = st.one_of(JUNK, PATHS, NUMBERS)
PATH_TARGETS = [("extends",), ("operators", "draft", "prompt"), ("operators", "improve", "prompt"),
                ("operators", "analyze", "prompt"), ("execution", "sandbox"), ("operators", "debug", "prompt")]
NUMBER_TARGETS = [("policy", "num_drafts"), ("budget", "steps"), ("budget", "exec_timeout"), ("budget", "time"),
                  ("vars", "folds"), ("models", "coder", "max_tokens"), ("models", "coder", "temperature"),
                  ("execution", "workers"), ("operators", "draft", "retries"), ("budget", "cost_usd")]


def make_project(tmp_path_factory: Any) -> Path:
    """``<base>/project`` (a project: pyproject.toml) with the fixture prompts, a ``valid/``
    folder for the spec, and links out of it; ``<base>`` holds the secrets, outside the roots."""
    base = tmp_path_factory.mktemp("fuzz")
    folder = base / "project"
    shutil.copytree(REPO / "tests/fixtures/prompts", folder / "prompts")
    (folder / "pyproject.toml").touch()
    (folder / "valid").mkdir()
    (folder / "runtimes").mkdir()
    (folder / "runtimes" / "mine.yaml").write_text("version: 1\nbackend: local\nisolation: none\n")
    (base / "secret.j2").write_text("{{ " + SECRET + " }\n")  # a syntax error a check would quote
    (base / "secret.yaml").write_text(f"version: 1\nname: {SECRET}\nbad: [\n")
    (folder / "prompts" / "link.j2").symlink_to(base / "secret.j2")
    (folder / "prompts" / "outside").symlink_to(base, target_is_directory=True)
    (folder / "valid" / "link.yaml").symlink_to(base / "secret.yaml")
    return folder


def dump(spec: dict[str, Any]) -> str:
    text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
    return text.replace(HUGE, "9" * 5000)


@st.composite
def bad_input_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A mutated spec with paths and numbers set where they matter."""
    spec = draw(mutated_specs())
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATH_TARGETS + NUMBER_TARGETS))
        value = draw(PATHS if path in PATH_TARGETS else st.one_of(NUMBERS, PATHS))
        node: Any = spec
        for part in path[:-1]:
            if not isinstance(node, dict):
                break
            node = node.setdefault(part, {})
        if isinstance(node, dict):
            node[path[-1]] = value
    return spec


def no_exit_3(result: Any) -> str:
    """The text of a CliRunner result, after checking it ended with 0, 1 or 2 and no secret.

    CliRunner calls the command group, not ``main``: a ``DiagnosticError`` (which ``main``
    prints as a usage error, exit 2) arrives as the exception; anything else is an exit 3."""
    from aira_dsl.diagnostics import DiagnosticError

    out = result.output + (getattr(result, "stderr", "") if result.stderr_bytes is not None else "")
    if isinstance(result.exception, DiagnosticError):
        out += " ".join(f"{d.message} {d.hint}" for d in result.exception.diagnostics)
    else:
        assert result.exception is None or isinstance(result.exception, SystemExit), (result.exception, out)
        assert result.exit_code in (0, 1, 2), out
    assert SECRET not in out, out
    return str(out)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=bad_input_specs())
def test_paths_and_huge_numbers_never_end_in_an_internal_error(spec: dict[str, Any], tmp_path_factory: Any) -> None:
    folder = make_project(tmp_path_factory)
    path = folder / "valid" / "spec.yaml"
    path.write_text(dump(spec))
    ctx = check_spec(path)
    for diag in ctx.diagnostics:
        assert diag.message and diag.code and SECRET not in f"{diag.message} {diag.hint}"
    result = CliRunner().invoke(cli, ["validate", str(path), "--format", "json"])
    assert result.exit_code in (0, 1), no_exit_3(result)
    json.loads(result.stdout)
    no_exit_3(CliRunner().invoke(cli, ["validate", str(path)]))  # the text renderer reads snippets


SET_PATHS = st.sampled_from(["policy.num_drafts", "budget.steps", "budget.exec_timeout", "vars.x", "vars.x.y",
                             "execution.sandbox", "operators.draft.prompt", "operators.0", "models.coder.temperature",
                             "budget.time", "a..b", "", "operators.draft.complexity.0.below"])
SET_VALUES = st.one_of(PATHS, st.sampled_from([
    "9" * 5000, str(10**30), ".inf", "-.inf", ".nan", "0", "-1", "[1, {a: " + "9" * 5000 + "}]", "[" * 3000,
    "{a: [" * 500, "'quoted'", "x: y", "!!python/object:os.system", "&a [*a]", "0x" + "f" * 4000, "1e400",
]), st.text(max_size=30))


@settings(max_examples=200, deadline=None)
@given(overrides=st.lists(st.tuples(SET_PATHS, SET_VALUES).map(lambda kv: f"{kv[0]}={kv[1]}"), min_size=1,
                          max_size=3))
def test_set_overrides_never_end_in_an_internal_error(overrides: list[str], tmp_path_factory: Any) -> None:
    out = tmp_path_factory.mktemp("fuzz-set") / "plan.json"
    check_spec(REPO / "tests/fixtures/valid/complete.yaml", overrides=overrides)
    args = ["compile", str(REPO / "tests/fixtures/valid/complete.yaml"), "-o", str(out)]
    result = CliRunner().invoke(cli, [*args, *(a for o in overrides for a in ("--set", o))])
    text = no_exit_3(result)
    assert len(text) < 20_000  # one screen or so, whatever was typed


_PLAN: dict[str, Any] = {}


def compiled_plan() -> dict[str, Any]:
    if not _PLAN:
        from aira_dsl.compiler import compile_spec

        plan = compile_spec(REPO / "tests/fixtures/valid/complete.yaml").plan
        assert plan is not None
        _PLAN.update(json.loads(plan.to_json()))
    return copy.deepcopy(_PLAN)


@st.composite
def tampered_plans(draw: st.DrawFn) -> tuple[str, bool]:
    """Plan JSON text with leaves replaced or deleted, re-hashed (as an attacker would), and
    whether its hash was recomputed."""
    from aira_dsl.plan import canonical_json

    plan = compiled_plan()
    leaves = [p for p in paths_of(plan) if p and p[0] != "plan_hash"]
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(leaves))
        parent: Any = plan
        try:
            for part in path[:-1]:
                parent = parent[part]
            if draw(st.booleans()):
                parent[path[-1]] = draw(BAD_INPUT)
            else:
                del parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
    body = {k: v for k, v in plan.items() if k != "plan_hash"}
    try:
        plan["plan_hash"] = hashlib.sha256(canonical_json(body).encode()).hexdigest()
        rehashed = True
    except (ValueError, TypeError):  # inf or an unhashable value: keep a wrong hash
        plan["plan_hash"] = "0" * 64
        rehashed = False
    text = json.dumps(plan, indent=2, sort_keys=True).replace(f'"{HUGE}"', "9" * 5000)
    return text, rehashed


@settings(max_examples=300, deadline=None)
@given(tampered=tampered_plans())
def test_tampered_plans_never_end_in_an_internal_error(tampered: tuple[str, bool], tmp_path_factory: Any) -> None:
    folder = tmp_path_factory.mktemp("fuzz-plan")
    path = folder / "plan.json"
    path.write_text(tampered[0])
    original = folder / "original.json"
    original.write_text(json.dumps(compiled_plan(), indent=2, sort_keys=True))
    result = CliRunner().invoke(cli, ["validate", str(path), "--format", "json"])
    no_exit_3(result)
    assert result.exit_code in (0, 1)
    json.loads(result.stdout)
    no_exit_3(CliRunner().invoke(cli, ["diff", str(original), str(path)]))


@pytest.mark.parametrize("seed", range(12))
def test_a_sample_through_the_real_command(seed: int, tmp_path_factory: Any) -> None:
    """The same bad inputs through ``python -m aira_dsl`` (main's exception handling included)."""
    import random

    rng = random.Random(seed)
    folder = make_project(tmp_path_factory)
    spec = copy.deepcopy(BASE)
    path_target = PATH_TARGETS[seed % len(PATH_TARGETS)]
    node: Any = spec
    for part in path_target[:-1]:
        node = node.setdefault(part, {})
    node[path_target[-1]] = rng.choice(PATH_VALUES)
    number_target = NUMBER_TARGETS[seed % len(NUMBER_TARGETS)]
    node = spec
    for part in number_target[:-1]:
        node = node.setdefault(part, {})
    node[number_target[-1]] = [HUGE, 10**30, float("inf"), "${env:NOPE:" + "9" * 5000 + "}"][seed % 4]
    path = folder / "valid" / "spec.yaml"
    path.write_text(dump(spec))
    for args in (["validate", str(path)], ["compile", str(path), "-o", str(folder / "plan.json")],
                 ["compile", str(REPO / "tests/fixtures/valid/complete.yaml"), "-o", str(folder / "p2.json"),
                  "--set", f"{'.'.join(map(str, number_target))}={'9' * 5000}",
                  "--set", f"execution.sandbox={rng.choice(['../../../../etc/passwd', '/etc/shadow.yaml'])}"]):
        done = subprocess.run([sys.executable, "-m", "aira_dsl", *args], capture_output=True, text=True,
                              timeout=120, cwd=folder, check=False)
        out = done.stdout + done.stderr
        assert done.returncode in (0, 1, 2) and "internal error" not in out and "Traceback" not in out, out
        assert SECRET not in out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=mutated_specs())
def test_mutated_specs_never_raise(spec: dict[str, Any], tmp_path_factory: Any) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(REPO / "tests/fixtures/prompts", folder / "prompts")
    (folder / "pyproject.toml").touch()  # a project: valid/ may name ../prompts/ (aira_dsl.roots)
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
