"""Fixtures for the sandbox tests (helpers are in ``sandbox_support``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # makes `sandbox_support` importable (importlib mode)


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "runs" / "workspaces"
    root.mkdir(parents=True)
    yield root
