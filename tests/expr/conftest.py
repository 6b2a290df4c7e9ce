"""Helpers for the expression tests: a well-formed fitness environment and a memory one."""

from __future__ import annotations

from typing import Any

import pytest

BUGGY = ("exec.exit_code != 0 or exec.timed_out or review.is_bug or metric == null "
         "or not submission.valid")
"""The DESIGN's example ``fitness.buggy`` expression."""


def fitness_env(**overrides: Any) -> dict[str, Any]:
    """A fitness-context environment for a healthy node; keyword arguments replace entries."""
    env: dict[str, Any] = {
        "exec": {"exit_code": 0, "timed_out": False, "oom_killed": False, "duration": 12.5},
        "review": {"is_bug": False, "summary": "trained a model", "metric": 0.81},
        "submission": {"exists": True, "valid": True, "reason": None},
        "reported": {"cv_score": 0.8},
        "hidden": {"score": 0.79},
        "node": {"step": 3, "depth": 2, "debug_depth": 0, "num_children": 1,
                 "operator": "improve", "buggy": None},
        "metric": 0.81,
        "policy": {"kind": "greedy", "num_drafts": 5},
        "vars": {"threshold": 0.5, "name": "x"},
    }
    env.update(overrides)
    return env


@pytest.fixture
def env() -> dict[str, Any]:
    return fitness_env()
