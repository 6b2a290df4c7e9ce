"""Fixtures for the tasks tests: bundled tasks prepared once per session, and small task dirs
written on the fly (real files; nothing is mocked)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from aira_dsl.tasks import prepare_bundled

Maker = Callable[..., Path]


@pytest.fixture(scope="session")
def bundled_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every bundled task, prepared once for the whole session."""
    cache = tmp_path_factory.mktemp("bundled-cache")
    prepare_bundled(None, cache)
    return cache


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


DEFAULT_YAML = """
    version: 1
    id: tiny
    name: Tiny task
    metric: {metric}
    submission:
      id_column: id
      target_columns: [{targets}]
"""


@pytest.fixture
def make_task(tmp_path: Path) -> Maker:
    """Write a small task dir and return it.

    ``answers`` and ``sample`` are CSV texts; ``yaml`` replaces the whole task.yaml (``{metric}``
    and ``{targets}`` are filled in); ``extra`` maps relative paths to file contents.
    """
    counter = {"n": 0}

    def make(*, metric: str = "accuracy", targets: str = "y",
             answers: str = "id,y\na,1\nb,0\nc,1\n", sample: str | None = None,
             yaml: str | None = None, extra: dict[str, str] | None = None) -> Path:
        counter["n"] += 1
        root = tmp_path / f"task{counter['n']}"
        _write(root / "task.yaml", (yaml or DEFAULT_YAML).replace("{metric}", metric).replace("{targets}", targets))
        _write(root / "description.md", "# Tiny\n\nPredict y.\n")
        _write(root / "private" / "answers.csv", answers)
        if sample is None:
            lines = answers.strip().splitlines()
            header = lines[0]
            width = header.count(",")
            sample = header + "\n" + "".join(line.split(",")[0] + ",0" * width + "\n" for line in lines[1:])
        _write(root / "public" / "sample_submission.csv", sample)
        for rel, text in (extra or {}).items():
            _write(root / rel, text)
        return root

    return make


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m aira_dsl ARGS`` as a real subprocess."""
    import os

    full_env = {**os.environ, **(env or {})}
    full_env.pop("AIRA_DSL_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "aira_dsl", *args], capture_output=True, text=True,
                          env=full_env, timeout=120, check=False)


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli
