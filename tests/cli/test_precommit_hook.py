"""The pre-commit hooks, run for real: pre-commit installs this checkout as a hook repository.

The hook repository is a fresh git repository holding the current working tree (uncommitted
files included: what `git ls-files --cached --others --exclude-standard` lists), committed and
tagged v0.2.0, the tag the README's snippet names. pre-commit clones it at that tag and
pip-installs it into its own virtualenv, as it does for users; pip uses its usual cache and
index. Then, in scratch repositories configured from the README:

- ``aira-dsl-validate``: a commit of a broken spec is blocked with the diagnostic (file:line:col),
  a clean spec commits, a CI workflow beside it is skipped (not an aira-dsl document), and a
  broken prompt template is blocked with its position;
- ``aira-dsl-validate-folders`` with ``args: [agents/]``: a repository whose specs live in
  ``agents/`` is checked there.

Skipped (with the reason) only without git or pre-commit, or when pip cannot reach an index;
in CI, which provides them (``pre-commit`` in AIRA_CI_PROVIDED), that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests_support import skip_unless_provided, working_tree_repository

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TAG = "v0.2.0"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_CONFIG_NOSYSTEM": "1"}

CLEAN_SPEC = """\
version: 1
name: clean
models:
  coder: {model: test-coder}
operators:
  draft: {kind: draft, model: coder, prompt: ../prompts/draft.j2}
  improve: {kind: improve, model: coder, prompt: ../prompts/draft.j2}
  debug: {kind: debug, model: coder, prompt: ../prompts/draft.j2}
policy: {kind: greedy, num_drafts: 2}
fitness: {metric: reported.score, buggy: "exec.exit_code != 0"}
"""
TEMPLATE = "Solve {{ task.name }}.\n{{ task.description }}\n"
WORKFLOW = "name: CI\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps: [{run: pytest}]\n"


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV})


def pre_commit(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return subprocess.run([sys.executable, "-m", "pre_commit", *args, "--color", "never"], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=900)


def commit(cwd: Path, home: Path, message: str) -> subprocess.CompletedProcess[str]:
    """``git commit`` through the installed hook (what a user's commit runs)."""
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1",
           "PRE_COMMIT_COLOR": "never"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return subprocess.run(["git", "commit", "-q", "-m", message], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=900)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree as a git repository tagged v0.2.0 (what a user's `repo:` points at)."""
    if shutil.which("git") is None:
        skip_unless_provided("pre-commit", "git is not installed: the pre-commit hook test needs it")
    try:
        import pre_commit  # noqa: F401
    except ImportError:
        skip_unless_provided("pre-commit", "pre-commit is not installed (pip install -e '.[dev]' has it)")
    target = working_tree_repository(tmp_path_factory.mktemp("hook") / "aira-dsl")
    git(target, "tag", "-a", TAG, "-m", f"{TAG}: the release the README's pre-commit snippet names")
    return target


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pre-commit cache for the module: the hook's virtualenv is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


def config(hook_repo: Path, hook: str, args: list[str] | None = None) -> str:
    """The README's snippet, pointing at the local clone."""
    lines = ["repos:", f"  - repo: {hook_repo}", f"    rev: {TAG}", "    hooks:", f"      - id: {hook}"]
    if args is not None:
        lines.append(f"        args: [{', '.join(args)}]")
    return "\n".join(lines) + "\n"


def scratch_repo(root: Path, files: dict[str, str], config_text: str) -> Path:
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (root / ".pre-commit-config.yaml").write_text(config_text, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    return root


def install_hooks(repo: Path, home: Path) -> None:
    """``pre-commit install`` and ``install-hooks``; a pip that reaches no index skips."""
    result = pre_commit(repo, home, "install-hooks")
    if result.returncode != 0:
        output = result.stdout + result.stderr
        offline = ("No matching distribution" in output or "NewConnectionError" in output
                   or "Temporary failure in name resolution" in output or "Could not find a version" in output)
        if offline:
            skip_unless_provided("pre-commit", "pip could not reach a package index to install the hook's "
                                 f"environment: {output.strip().splitlines()[-1]}")
        pytest.fail(f"pre-commit install-hooks failed:\n{output}")
    installed = pre_commit(repo, home, "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr


def test_files_hook_blocks_a_broken_spec_and_passes_a_clean_one(hook_repo: Path, pre_commit_home: Path,
                                                                 tmp_path: Path) -> None:
    repo = scratch_repo(tmp_path / "user", {"specs/clean.yaml": CLEAN_SPEC, "prompts/draft.j2": TEMPLATE,
                                            ".github/workflows/ci.yml": WORKFLOW},
                        config(hook_repo, "aira-dsl-validate"))
    install_hooks(repo, pre_commit_home)

    # A clean spec, its template and a CI workflow (no aira-dsl document: skipped) commit.
    git(repo, "add", "-A")
    result = commit(repo, pre_commit_home, "a clean agent")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "aira-dsl validate" in result.stdout + result.stderr  # the hook ran, and passed

    # A broken spec is blocked, with the diagnostic at its position.
    (repo / "specs/broken.yaml").write_text(CLEAN_SPEC.replace("name: clean", "name: broken")
                                            .replace("num_drafts: 2", "num_draft: 2"), encoding="utf-8")
    git(repo, "add", "specs/broken.yaml")
    result = commit(repo, pre_commit_home, "a broken agent")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "specs/broken.yaml:9:" in output and "unknown key 'num_draft' in policy [unknown-key]" in output
    assert "did you mean 'num_drafts'?" in output
    assert "ci.yml" not in output  # only the staged files are passed; foreign YAML is never reported

    # Fixed, it commits.
    (repo / "specs/broken.yaml").write_text(CLEAN_SPEC.replace("name: clean", "name: fixed"), encoding="utf-8")
    git(repo, "add", "specs/broken.yaml")
    result = commit(repo, pre_commit_home, "fixed")
    assert result.returncode == 0, result.stdout + result.stderr

    # A template change alone is checked through the specs that use it.
    (repo / "prompts/draft.j2").write_text("Solve {{ task.nam }}.\n", encoding="utf-8")
    git(repo, "add", "prompts/draft.j2")
    result = commit(repo, pre_commit_home, "a typo in a template")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "prompts/draft.j2:1:15: error: task has no attribute 'nam'" in output


def test_folders_hook_checks_specs_where_args_say(hook_repo: Path, pre_commit_home: Path, tmp_path: Path) -> None:
    broken = CLEAN_SPEC.replace("model: coder, prompt: ../prompts/draft.j2}\n  improve",
                                "model: codr, prompt: ../prompts/draft.j2}\n  improve")
    repo = scratch_repo(tmp_path / "user", {"agents/mine.yaml": broken, "prompts/draft.j2": TEMPLATE,
                                            "docker-compose.yml": "version: '3.8'\nservices: {db: {image: x}}\n"},
                        config(hook_repo, "aira-dsl-validate-folders", ["agents/"]))
    install_hooks(repo, pre_commit_home)
    git(repo, "add", "-A")
    result = pre_commit(repo, pre_commit_home, "run", "--all-files")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "agents/mine.yaml:6:" in output and "uses model 'codr', which is not defined [unknown-model]" in output
    assert "docker-compose" not in output

    (repo / "agents/mine.yaml").write_text(CLEAN_SPEC, encoding="utf-8")
    git(repo, "add", "-A")
    result = pre_commit(repo, pre_commit_home, "run", "--all-files")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout
