"""render: every operator of every shipped spec against its sample; diff: on a real git repo."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from tests_support import REPO, run_cli  # type: ignore[import-not-found]

from aira_dsl.compiler import compile_spec

SHIPPED = ["aide-greedy", "aira-greedy", "aira-mcts", "aira-evo"]
CASES = [(spec, op) for spec in SHIPPED
         for op in sorted(compile_spec(REPO / "specs" / f"{spec}.yaml").plan.operators)]  # type: ignore[union-attr]


@pytest.mark.parametrize(("spec", "operator"), CASES, ids=[f"{s}-{o}" for s, o in CASES])
def test_rendered_prompt_snapshot(spec: str, operator: str, snapshot: object) -> None:
    result = run_cli("render", f"specs/{spec}.yaml", operator, "--format", "json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [m["role"] for m in payload["messages"]] == ["system"]
    assert payload["messages"][0]["content"] == snapshot


def test_render_text_matches_json(repo_root: Path) -> None:
    text = run_cli("render", "specs/aira-greedy.yaml", "improve").stdout
    payload = json.loads(run_cli("render", "specs/aira-greedy.yaml", "improve", "--format", "json").stdout)
    assert payload["messages"][0]["content"] in text


def test_render_with_user_context_file(tmp_path: Path) -> None:
    sample = json.loads(run_cli("render", "specs/aira-greedy.yaml", "draft", "--format", "json").stdout)
    assert sample["kind"] == "draft"
    from aira_dsl.templates import load_sample_context

    context = load_sample_context("draft")
    context["task"]["name"] = "My own task"
    context["vars"] = {}
    path = tmp_path / "ctx.json"
    path.write_text(json.dumps(context))
    result = run_cli("render", "specs/aira-greedy.yaml", "draft", "--context", str(path))
    assert result.returncode == 0, result.stderr


def test_render_bad_context_and_unknown_operator(tmp_path: Path) -> None:
    bad = tmp_path / "ctx.yaml"
    bad.write_text("task: {name: x}\n")
    result = run_cli("render", "specs/aira-greedy.yaml", "draft", "--context", str(bad))
    assert result.returncode == 1 and "task.id: missing" in result.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("task: [\n")
    result = run_cli("render", "specs/aira-greedy.yaml", "draft", "--context", str(broken))
    assert result.returncode == 2 and "not valid YAML" in result.stderr
    result = run_cli("render", "specs/aira-greedy.yaml", "drift")
    assert result.returncode == 2 and "did you mean 'draft'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_system_role_false_folds_into_user() -> None:
    result = run_cli("render", "specs/aira-greedy.yaml", "draft", "--format", "json",
                     "--set", "models.coder.system_role=false")
    assert [m["role"] for m in json.loads(result.stdout)["messages"]] == ["user"]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@example.com", "HOME": str(repo), "PATH": "/usr/bin:/bin"})


@pytest.fixture
def spec_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "specs", repo / "specs")
    shutil.copytree(REPO / "prompts", repo / "prompts")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    # second commit: a parameter change
    path = repo / "specs" / "aira-greedy.yaml"
    path.write_text(path.read_text().replace("num_drafts: 5", "num_drafts: 8"))
    git(repo, "commit", "-q", "-am", "more drafts")
    # third commit: a prompt change in a shared fragment
    fragment = repo / "prompts" / "_constraints.j2"
    fragment.write_text(fragment.read_text() + "- Never print the full dataset.\n")
    git(repo, "commit", "-q", "-am", "prompt tweak")
    return repo


def test_diff_parameter_change_between_revisions(spec_repo: Path) -> None:
    result = run_cli("diff", "HEAD~2:specs/aira-greedy.yaml", "HEAD~1:specs/aira-greedy.yaml", cwd=spec_repo)
    assert result.returncode == 1, result.stderr
    assert "policy.params.num_drafts: 5 -> 8" in result.stdout
    assert "template" not in result.stdout


def test_diff_prompt_change_shows_unified_diff(spec_repo: Path) -> None:
    result = run_cli("diff", "HEAD~1:specs/aira-greedy.yaml", "specs/aira-greedy.yaml", "--format", "json",
                     cwd=spec_repo)
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert payload["changes"] == []
    (change,) = payload["templates"]
    assert change["name"] == "_constraints.j2" and change["status"] == "changed"
    assert "+- Never print the full dataset." in change["diff"]


def test_diff_no_change(spec_repo: Path) -> None:
    result = run_cli("diff", "HEAD:specs/aira-mcts.yaml", "specs/aira-mcts.yaml", cwd=spec_repo)
    assert result.returncode == 0 and "no semantic differences" in result.stdout


def test_diff_variant_against_its_base(repo_root: Path) -> None:
    result = run_cli("diff", "specs/aira-greedy.yaml", "specs/aira-greedy-no-memory.yaml", "--format", "json")
    payload = json.loads(result.stdout)
    paths = {c["path"] for c in payload["changes"]}
    assert {"operators.draft.memory.scope", "operators.improve.memory.scope"} <= paths


@pytest.mark.parametrize(
    ("a", "needle"),
    [("HEAD~9:specs/aira-greedy.yaml", "unknown revision"),
     ("HEAD:specs/nope.yaml", "does not exist at HEAD"),
     ("nope.yaml", "no such file")],
)
def test_diff_bad_references(spec_repo: Path, a: str, needle: str) -> None:
    result = run_cli("diff", a, "specs/aira-greedy.yaml", cwd=spec_repo)
    assert result.returncode == 2, result.stdout
    assert needle in result.stderr and "Traceback" not in result.stderr


def test_diff_outside_a_repository(tmp_path: Path) -> None:
    result = run_cli("diff", "HEAD:specs/a.yaml", "HEAD:specs/b.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "not inside a git repository" in result.stderr


def test_diff_swapped_prompt_file_is_one_template_diff(spec_repo: Path) -> None:
    """Issue 16: pointing an operator at another prompt file showed the old template removed and
    the new one added, all 80 lines each; it is one unified diff of old against new."""
    prompts = spec_repo / "prompts" / "aira"
    new = prompts / "draft_v2.j2"
    new.write_text((prompts / "draft.j2").read_text().replace("{{ task.description|fence }}",
                                                              "{{ task.description|fence }}\nBe brief.",
                                                              1))
    base = spec_repo / "specs" / "aira-base.yaml"
    base.write_text(base.read_text().replace("../prompts/aira/draft.j2", "../prompts/aira/draft_v2.j2"))
    result = run_cli("diff", "HEAD:specs/aira-greedy.yaml", "specs/aira-greedy.yaml", "--format", "json",
                     cwd=spec_repo)
    assert result.returncode == 1, result.stderr
    payload = json.loads(result.stdout)
    assert {"section": "operators", "path": "operators.draft.prompt.system", "before": "aira/draft.j2",
            "after": "aira/draft_v2.j2"} in payload["changes"]
    (change,) = payload["templates"]
    assert (change["name"], change["status"]) == ("aira/draft.j2 -> aira/draft_v2.j2", "replaced")
    lines = change["diff"].splitlines()
    assert lines[:2] == ["--- HEAD:specs/aira-greedy.yaml:aira/draft.j2",
                         "+++ specs/aira-greedy.yaml:aira/draft_v2.j2"]
    changed = [line for line in lines[2:] if line[:1] in "+-" and not line.startswith("@@")]
    assert changed == ["+Be brief."]
    text = run_cli("diff", "HEAD:specs/aira-greedy.yaml", "specs/aira-greedy.yaml", cwd=spec_repo)
    assert "template aira/draft.j2 -> aira/draft_v2.j2 (replaced):" in text.stdout
    assert "(removed)" not in text.stdout and "(added)" not in text.stdout
