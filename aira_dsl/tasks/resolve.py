"""Turning a task reference (what users type after ``--task``) into a loaded Task.

A reference is a bundled id (``penguins``), a task directory, a path to a task YAML file, or
``mlebench:<competition-id>``. Bundled tasks are prepared on first use into the cache dir:
``cache_dir`` if given, else ``$AIRA_DSL_CACHE``, else ``$XDG_CACHE_HOME/aira-dsl/tasks``
(``~/.cache/aira-dsl/tasks``).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from aira_dsl.tasks.errors import TaskError
from aira_dsl.tasks.model import HiddenValidationConfig, Task

__all__ = ["CACHE_ENV", "default_cache_dir", "resolve_task"]

CACHE_ENV = "AIRA_DSL_CACHE"


def default_cache_dir() -> Path:
    """Where bundled tasks and hidden splits are prepared when no cache dir is given."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "aira-dsl" / "tasks"


def _looks_like_path(ref: str) -> bool:
    return "/" in ref or os.sep in ref or ref.startswith(".") or ref.endswith((".yaml", ".yml"))


def resolve_task(ref: str, *, mlebench_data_dir: Path | None = None, cache_dir: Path | None = None,
                 hidden_validation: float | HiddenValidationConfig | bool | None = None) -> Task:
    """Load the task ``ref`` names (see the module docstring).

    ``hidden_validation`` overrides the task's own setting: a fraction or a config turns a
    hidden validation split on, ``False`` turns it off, ``None`` keeps what the task says.
    """
    from aira_dsl.tasks.bundled import BUNDLED
    from aira_dsl.tasks.hidden import apply_hidden_validation
    from aira_dsl.tasks.taskfile import load_task_file

    ref = ref.strip()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if ref.startswith("mlebench:"):
        from aira_dsl.tasks.mlebench_adapter import load_mlebench_task

        competition = ref.removeprefix("mlebench:")
        if not competition:
            raise TaskError("mlebench: needs a competition id, e.g. mlebench:spaceship-titanic")
        task = load_mlebench_task(competition, mlebench_data_dir)
    elif ref in BUNDLED and not _looks_like_path(ref):
        from aira_dsl.tasks.bundled.prepare import prepare_one

        task = load_task_file(prepare_one(ref, cache), source="bundled")
    elif Path(ref).exists():
        task = load_task_file(Path(ref))
    else:
        guess = difflib.get_close_matches(ref, list(BUNDLED), n=1)
        raise TaskError(f"no task '{ref}': not a bundled task, a task directory or a task.yaml",
                        hint=(f"did you mean '{guess[0]}'? " if guess else "")
                        + f"bundled tasks: {', '.join(BUNDLED)}; MLE-bench: mlebench:<id> --mlebench-data-dir DIR")
    if hidden_validation is False:
        return task
    if hidden_validation is None or hidden_validation is True:
        config = task.hidden_validation_config
        if hidden_validation is True and config is None:
            config = HiddenValidationConfig(fraction=0.2)
    elif isinstance(hidden_validation, HiddenValidationConfig):
        config = hidden_validation
    else:
        config = HiddenValidationConfig(fraction=float(hidden_validation))
    return apply_hidden_validation(task, config, cache_dir=cache) if config is not None else task
