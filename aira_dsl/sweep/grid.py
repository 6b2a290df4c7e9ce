"""Expanding a sweep into jobs: one per variant × task × seed, with stable, readable keys.

A job's key names its run directory (``runs/<key>``) and its records (``jobs/<key>/``), so it
must be unique, filesystem-safe and the same every time the same sweep file is expanded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aira_dsl.sweep.model import Job, slug

if TYPE_CHECKING:
    from aira_dsl.sweep.model import Sweep

__all__ = ["expand", "task_labels"]


def _task_label(ref: str) -> str:
    """``penguins`` → ``penguins``; ``mlebench:leaf-classification`` → ``leaf-classification``;
    ``./tasks/my-task`` or ``.../my-task/task.yaml`` → ``my-task``."""
    text = ref.strip().rstrip("/")
    if text.startswith("mlebench:"):
        return slug(text.removeprefix("mlebench:"))
    parts = [p for p in text.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if parts and parts[-1] in ("task.yaml", "task.yml") and len(parts) > 1:
        parts = parts[:-1]
    last = parts[-1] if parts else text
    for suffix in (".yaml", ".yml"):
        last = last.removesuffix(suffix)
    return slug(last)


def task_labels(tasks: tuple[str, ...]) -> dict[str, str]:
    """A unique label per task reference (a clash gets ``-2``, ``-3``... in list order)."""
    labels: dict[str, str] = {}
    used: set[str] = set()
    for ref in tasks:
        base = _task_label(ref)
        label, n = base, 1
        while label in used:
            n += 1
            label = f"{base}-{n}"
        used.add(label)
        labels[ref] = label
    return labels


def expand(sweep: Sweep) -> list[Job]:
    labels = task_labels(sweep.tasks)
    return [Job(key=f"{variant.id}.{labels[task]}.s{seed}", variant=variant.id, task=task, seed=seed)
            for variant in sweep.variants for task in sweep.tasks for seed in sweep.seeds]
