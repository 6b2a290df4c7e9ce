"""Shared fixtures. Helper functions live in ``tests_support.py`` (importable by name)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # makes `tests_support` importable everywhere


@pytest.fixture
def repo_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from the repository root, so reported paths are short and stable."""
    monkeypatch.chdir(REPO)
    return REPO
