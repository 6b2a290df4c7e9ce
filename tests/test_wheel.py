"""The package carries its own specs, prompts and sandbox profiles (issue: package data).

A wheel is built from this working tree (committed into a fresh repository), installed into a fresh virtual environment outside it, and
used from a folder that has nothing of the checkout: `demo` must reach a valid best submission,
`validate` must pass a copied spec folder with no warning (the shipped profiles are found), and a
user's spec must extend a shipped one by its package reference.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from tests_support import REPO, working_tree_repository

ASSETS = ("specs", "prompts", "runtimes", "schema")


def test_package_assets_are_the_repository_folders() -> None:
    """One copy of each asset folder: the package's are links to the user-facing ones."""
    for name in ASSETS:
        link = REPO / "aira_dsl" / "assets" / name
        assert link.is_symlink(), f"{link} must be a link to ../../{name}"
        assert os.readlink(link) == f"../../{name}"
        assert link.resolve() == (REPO / name).resolve()


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the venv's bin folder, an empty working folder outside the checkout)."""
    root = tmp_path_factory.mktemp("wheel")
    # From a fresh repository holding the working tree, not from the checkout itself: its build
    # leftovers once hid a wheel that only failed from a clean clone.
    source = working_tree_repository(root / "source")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(source),
                            "-w", str(root / "dist")], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((root / "dist").glob("aira_dsl-*.whl"))
    # The dependencies come from this interpreter's site-packages (no download in the test);
    # aira_dsl itself must come from the wheel, which the check below makes sure of.
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(root / "venv")
    bin_dir = root / "venv" / "bin"
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install",
                                "-q", "--no-deps", str(wheel)], capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-3000:]
    work = root / "work"
    work.mkdir()
    return bin_dir, work


def _run(bin_dir: Path, work: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "OPENAI_BASE_URL")}
    env.update(NO_COLOR="1", AIRA_DSL_CACHE=str(work / ".cache"))
    return subprocess.run([str(bin_dir / "aira-dsl"), *args], cwd=work, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_the_wheel_imports_from_its_own_files(wheel_env: tuple[Path, Path]) -> None:
    bin_dir, work = wheel_env
    shown = subprocess.run([str(bin_dir / "python"), "-c",
                            "import aira_dsl.shipped as s; print(s.__file__); print(s.SHIPPED_DIR)"],
                           cwd=work, capture_output=True, text=True, timeout=60)
    module, assets = shown.stdout.split()
    venv_dir = bin_dir.parent.resolve()
    assert Path(module).resolve().is_relative_to(venv_dir), module
    for name in ASSETS:
        folder = Path(assets) / name
        assert folder.is_dir() and not folder.is_symlink(), f"{folder} must be a real folder in a wheel"
    assert (Path(assets) / "runtimes" / "docker" / "cuda.Dockerfile").is_file()


@pytest.mark.slow
def test_demo_runs_from_the_wheel(wheel_env: tuple[Path, Path]) -> None:
    bin_dir, work = wheel_env
    done = _run(bin_dir, work, "demo", "--steps", "4", "--out", "demo-run")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "no sandbox profile" not in done.stderr
    best = work / "demo-run" / "best" / "submission.csv"
    assert best.is_file()
    graded = _run(bin_dir, work, "grade", "--task", "penguins", str(best), "--format", "json")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert json.loads(graded.stdout)["valid_submission"] is True


@pytest.mark.slow
def test_validate_a_copied_spec_folder_and_extend_a_shipped_spec(wheel_env: tuple[Path, Path]) -> None:
    bin_dir, work = wheel_env
    project = work / "project"
    for name in ("specs", "prompts"):
        shutil.copytree(REPO / name, project / name)
    # A project is a git repository (or holds a pyproject.toml): paths in its specs may reach
    # anywhere inside it (`../prompts/...`), nothing outside (docs/spec-language.md).
    subprocess.run(["git", "init", "-q", str(project)], check=True, timeout=60)
    checked = _run(bin_dir, project, "validate", "specs/")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert " 0 errors, 0 warnings" in checked.stdout + checked.stderr, checked.stdout + checked.stderr

    mine = work / "elsewhere" / "mine.yaml"
    mine.parent.mkdir()
    mine.write_text("version: 1\nname: mine\nextends: aira-dsl:specs/aira-greedy.yaml\n"
                    "policy: {kind: greedy, num_drafts: 3}\n")
    compiled = _run(bin_dir, mine.parent, "compile", "mine.yaml", "-o", "plan.json")
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    plan = json.loads((mine.parent / "plan.json").read_text())
    assert plan["sources"] == ["mine.yaml", "aira-dsl:specs/aira-greedy.yaml", "aira-dsl:specs/aira-base.yaml",
                               "aira-dsl:specs/base.yaml"]
    assert plan["policy"]["params"]["num_drafts"] == 3
