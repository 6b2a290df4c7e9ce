"""Plans of the shipped specs: snapshots, determinism across folders, round trip, hash checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests_support import REPO, run_cli  # type: ignore[import-not-found]

from aira_dsl.compiler import compile_spec, load_plan_or_spec
from aira_dsl.diagnostics import DiagnosticError
from aira_dsl.plan import Plan, load_plan

SHIPPED = ["aide-greedy", "aira-greedy", "aira-mcts", "aira-evo", "aira-greedy-no-memory"]


@pytest.mark.parametrize("name", SHIPPED)
def test_plan_snapshot(name: str, repo_root: Path, snapshot: object) -> None:
    result = compile_spec(f"specs/{name}.yaml")
    assert result.plan is not None, result.diagnostics.sorted()
    assert json.loads(result.plan.to_json()) == snapshot


@pytest.mark.parametrize("name", SHIPPED)
def test_same_bytes_from_different_working_directories(name: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "elsewhere" / "project"
    shutil.copytree(REPO / "specs", copy / "specs")
    shutil.copytree(REPO / "prompts", copy / "prompts")
    (copy / "pyproject.toml").touch()  # a project: specs/ may name ../prompts/ (aira_dsl.roots)
    monkeypatch.chdir(REPO)
    first = compile_spec(f"specs/{name}.yaml").plan
    monkeypatch.chdir(tmp_path)
    second = compile_spec(copy / "specs" / f"{name}.yaml").plan
    monkeypatch.chdir(copy / "specs")
    third = compile_spec(f"{name}.yaml").plan
    assert first is not None and second is not None and third is not None
    assert first.to_json() == second.to_json() == third.to_json()
    assert str(tmp_path) not in second.to_json() and str(REPO) not in first.to_json()


def test_round_trip(repo_root: Path, tmp_path: Path) -> None:
    plan = compile_spec("specs/aira-evo.yaml").plan
    assert plan is not None
    path = tmp_path / "plan.json"
    plan.write(path)
    loaded = load_plan(path)
    assert loaded == plan
    assert loaded.to_json() == plan.to_json()
    assert Plan.from_dict(json.loads(path.read_text())).plan_hash == plan.plan_hash


def test_plan_is_accepted_where_a_spec_is(repo_root: Path, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    result = run_cli("compile", "specs/aira-mcts.yaml", "-o", str(path))
    assert result.returncode == 0, result.stderr
    assert load_plan_or_spec(path) == load_plan_or_spec("specs/aira-mcts.yaml")
    render = run_cli("render", str(path), "draft")
    assert render.returncode == 0 and "TASK DESCRIPTION" in render.stdout
    assert run_cli("diff", str(path), "specs/aira-mcts.yaml").returncode == 0


def test_no_secrets_in_plans(repo_root: Path) -> None:
    result = run_cli("compile", "specs/aira-greedy.yaml", env={"OPENAI_API_KEY": "sk-very-secret-value"})
    assert result.returncode == 0
    assert "sk-very-secret-value" not in result.stdout
    assert '"api_key_env": "OPENAI_API_KEY"' in result.stdout


def test_defaults_filled_and_durations_in_seconds(repo_root: Path) -> None:
    plan = compile_spec("specs/aira-greedy.yaml").plan
    assert plan is not None
    assert plan.budget.time == 86400.0 and plan.budget.exec_timeout == 14400.0
    assert plan.policy.params == {"num_drafts": 5, "debug_prob": 1.0, "max_debug_depth": 20,
                                  "max_debug_time": None, "draft_debug_depth": 0}
    assert plan.policy.roles == {"draft": "draft", "improve": "improve", "debug": "debug", "analyze": "analyze"}
    assert plan.models["coder"].timeout == 1800.0
    for entry in plan.templates.values():
        assert len(entry["sha256"]) == 64
    draft = plan.operators["draft"]
    assert draft.prompt.system == "aira/draft.j2"
    assert any(name.startswith("_") for name in plan.templates), "includes are embedded too"


def test_set_overrides_change_the_plan(repo_root: Path) -> None:
    plan = compile_spec("specs/aira-greedy.yaml", overrides=["policy.num_drafts=3", "budget.steps=40",
                                                             "models.coder.model=o4-mini"]).plan
    assert plan is not None
    assert plan.policy.params["num_drafts"] == 3 and plan.budget.steps == 40
    assert plan.models["coder"].model == "o4-mini"


@pytest.mark.parametrize(
    ("override", "needle"),
    [("policy.num_draft=3", "did you mean 'num_drafts'?"),
     ("policy.num_drafts=three", "must be a whole number"),
     ("policy.num_drafts", "expected PATH=VALUE"),
     ("=3", "is not a dotted path"),
     ("policy.debug_prob=[1", "not valid YAML"),
     ("fitness.buggy=metric +", "expr-syntax")],
)
def test_bad_overrides(override: str, needle: str, repo_root: Path) -> None:
    result = run_cli("compile", "specs/aira-greedy.yaml", "--set", override)
    assert result.returncode == 1
    assert needle in result.stderr
    assert f"--set {override}" in result.stderr
    assert "Traceback" not in result.stderr


def test_abstract_spec_does_not_compile(repo_root: Path) -> None:
    result = run_cli("compile", "specs/aira-base.yaml")
    assert result.returncode == 1 and "abstract" in result.stderr


def test_wrong_plan_version_and_edited_plan(repo_root: Path, tmp_path: Path) -> None:
    plan = compile_spec("specs/aira-greedy.yaml").plan
    assert plan is not None
    data = json.loads(plan.to_json())
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**data, "plan_version": 99}))
    edited = tmp_path / "edited.json"
    data["policy"]["params"]["num_drafts"] = 50
    edited.write_text(json.dumps(data))
    template = tmp_path / "template.json"
    data = json.loads(plan.to_json())
    first = next(iter(data["templates"]))
    data["templates"][first]["source"] += "sneaky edit"
    template.write_text(json.dumps(data))
    for path, needle in [(wrong, "plan_version 99 is not supported"), (edited, "do not match plan_hash"),
                         (template, "plan_hash")]:
        with pytest.raises(DiagnosticError) as info:
            load_plan(path)
        assert needle in str(info.value)
        result = run_cli("render", str(path), "draft")
        assert result.returncode == 2 and needle in result.stderr and "Traceback" not in result.stderr


def test_truncated_plan_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"plan_version": 1, "name": ')
    result = run_cli("render", str(path), "draft")
    assert result.returncode == 2 and "not a valid plan file" in result.stderr


def test_compile_missing_file() -> None:
    result = run_cli("compile", "nowhere.yaml")
    assert result.returncode == 2 and "no such file" in result.stderr


@pytest.mark.parametrize("name", SHIPPED)
def test_plans_match_the_plan_schema(name: str, repo_root: Path) -> None:
    import jsonschema

    schema = json.loads((REPO / "schema" / "plan.schema.json").read_text())
    assert (REPO / "aira_dsl" / "schemas" / "plan.schema.json").read_text() == json.dumps(schema, indent=2) + "\n"
    plan = compile_spec(f"specs/{name}.yaml").plan
    assert plan is not None
    jsonschema.Draft202012Validator(schema).validate(json.loads(plan.to_json()))


def test_validate_accepts_plan_files(repo_root: Path, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    assert run_cli("compile", "specs/aira-mcts.yaml", "-o", str(path)).returncode == 0
    assert run_cli("validate", str(path)).returncode == 0
    path.write_text(path.read_text().replace('"num_children": 5', '"num_children": 6'))
    result = run_cli("validate", str(path))
    assert result.returncode == 1 and "plan-hash-mismatch" in result.stdout
