"""Finding run directories: a run is a folder holding ``run.json`` or ``journal.sqlite``.

Commands that take runs (``runs``, ``report``) accept run folders and folders that contain
runs at any depth (a sweep directory), so a whole experiment is one argument. The walk never
descends into a run (its ``nodes/`` folder can hold thousands of entries).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from aira_dsl.report.errors import ReportError
from aira_dsl.runtime.journal import JOURNAL_FILE

__all__ = ["RUN_FILE", "find_runs", "is_run_dir", "require_run_dir", "runs_below"]

RUN_FILE = "run.json"

_SKIP_DIRS = {".git", "__pycache__", "node_modules", ".venv", "venv"}


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` is a run directory (it holds ``run.json`` or the journal)."""
    return path.is_dir() and ((path / RUN_FILE).is_file() or (path / JOURNAL_FILE).is_file())


def require_run_dir(path: Path) -> Path:
    """``path`` if it is a run directory, else a :class:`ReportError` that says what it is."""
    if not path.exists():
        raise ReportError(f"{path}: no such file or directory",
                          "pass the folder a run wrote (it holds run.json and journal.sqlite)")
    if not path.is_dir():
        raise ReportError(f"{path}: not a run directory (it is a file)",
                          "pass the run's folder, not a file inside it")
    if not is_run_dir(path):
        below = runs_below(path)
        hint = ("pass the folder a run wrote (it holds run.json and journal.sqlite)" if not below else
                f"this folder holds {len(below)} run(s), e.g. {below[0]}; pass one of them")
        raise ReportError(f"{path}: not a run directory (no {RUN_FILE} or {JOURNAL_FILE})", hint)
    return path


def runs_below(root: Path) -> list[Path]:
    """Every run directory at or below ``root`` (``root`` itself if it is a run), sorted."""
    found: list[Path] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        if is_run_dir(folder):
            found.append(folder)
            continue
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        stack.extend(Path(e.path) for e in entries
                     if e.is_dir(follow_symlinks=False) and e.name not in _SKIP_DIRS)
    return sorted(found)


def find_runs(paths: Iterable[Path]) -> list[Path]:
    """Every run directory at or below each path, in path order, without duplicates.

    Raises :class:`ReportError` for a path that does not exist, or that neither is a run nor
    contains one (a typo should not silently shrink an experiment).
    """
    runs: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if not path.exists():
            raise ReportError(f"{path}: no such file or directory",
                              "pass run folders or folders that contain runs")
        if not path.is_dir():
            raise ReportError(f"{path}: not a directory", "pass run folders or folders that contain runs")
        found = runs_below(path)
        if not found:
            raise ReportError(f"{path}: no runs in this folder (no {RUN_FILE} or {JOURNAL_FILE} at any depth)",
                              "pass the folder a run wrote, or a folder that contains runs")
        for run in found:
            key = run.resolve()
            if key not in seen:
                seen.add(key)
                runs.append(run)
    return runs
