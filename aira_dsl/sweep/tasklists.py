"""Named task lists (``mlebench:lite``) a sweep's ``tasks:`` may use instead of single tasks.

The lists are data (``data/task_lists.yaml``, which says where each comes from), so a new
benchmark split is a new entry there, not code.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

__all__ = ["expand_task", "task_lists"]


@cache
def task_lists() -> dict[str, tuple[str, ...]]:
    """Every named list: name -> task references, in order."""
    text = resources.files("aira_dsl.sweep").joinpath("data/task_lists.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return {name: tuple(f"{entry.get('prefix', '')}{task}" for task in entry["tasks"])
            for name, entry in data.items()}


def expand_task(ref: str) -> tuple[str, ...]:
    """The task references ``ref`` stands for: the list's members, or ``ref`` itself."""
    return task_lists().get(ref.strip(), (ref,))
