"""Helpers importable from any test module (``from tests_support import run_cli``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m aira_dsl ARGS`` as a real process (exit code, stdout, stderr)."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    full_env.pop("FORCE_COLOR", None)
    return subprocess.run([sys.executable, "-m", "aira_dsl", *args], cwd=cwd or REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout, input=input)


PROVIDED_ENV = "AIRA_CI_PROVIDED"
"""Comma-separated components `.ci/run` installed (bubblewrap, docker, chromium, slurm, ...)."""


def provided_components() -> set[str]:
    """What the CI script says it installed; empty on a developer's machine."""
    return {part.strip() for part in os.environ.get(PROVIDED_ENV, "").split(",") if part.strip()}


def skip_unless_provided(component: str, reason: str) -> None:
    """Skip with ``reason``, or fail when CI says it provided ``component``.

    A test that needs something a fresh machine lacks skips on a developer's machine; in CI,
    where `.ci/run` installed that component and exported it in ``AIRA_CI_PROVIDED``, the same
    condition is a failure, so a green CI means the test really ran.
    """
    import pytest

    if component in provided_components():
        pytest.fail(f"{component} was provided by .ci/run but is unusable: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def import_or_skip(module: str, component: str, reason: str) -> object:
    """``pytest.importorskip`` that fails instead when CI provided ``component``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        skip_unless_provided(component, f"{reason} ({exc})")
        raise  # unreachable: skip_unless_provided raises


def working_tree_repository(target: Path) -> Path:
    """This checkout's working tree (tracked and untracked-not-ignored files, links kept as
    links) committed into a fresh git repository at ``target``, with none of the checkout's
    build leftovers: what a clone of the code under test looks like (a wheel built from it sees
    git's file list, as in CI and in pre-commit's hook environment)."""
    import shutil

    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                            check=True, capture_output=True).stdout.decode("utf-8", "surrogateescape")
    for name in filter(None, listed.split("\0")):
        source, copy = REPO / name, target / name
        if source.is_symlink():
            copy.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(source), copy)
        elif source.is_file():  # not deleted in the working tree
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
    env = {**os.environ, "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", "the working tree under test"]):
        subprocess.run(["git", *args], cwd=target, check=True, capture_output=True, env=env, timeout=300)
    return target
