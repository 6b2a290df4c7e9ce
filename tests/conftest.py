"""Shared fixtures. Helper functions live in ``tests_support.py`` (importable by name)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # makes `tests_support` importable everywhere
# Thousands of generated expressions and templates must not fill the user's caches of parsed trees
# (aira_dsl/usercache.py); tests/expr/test_tree_cache.py turns them on where they are the subject.
os.environ.setdefault("AIRA_DSL_NO_DERIVED_CACHE", "1")


@pytest.fixture
def repo_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from the repository root, so reported paths are short and stable."""
    monkeypatch.chdir(REPO)
    return REPO
