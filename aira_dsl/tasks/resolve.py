"""Turning a task reference (what users type after ``--task``) into a loaded Task.

A reference is a bundled id (``penguins``), a task directory, a path to a task YAML file,
``mlebench:<competition-id>``, or ``mlebench-public:DIR`` (inside MLE-bench's harness). Bundled
tasks are prepared on first use into the cache dir: ``cache_dir`` if given, else
``$AIRA_DSL_CACHE``, else ``$XDG_CACHE_HOME/aira-dsl/tasks`` (``~/.cache/aira-dsl/tasks``).

Whatever the kind, archives in the public folder are then unpacked into a view under the same
cache (:mod:`aira_dsl.tasks.unpack`), and ``task.data_notes`` says what was done.

Task options (``options``, from ``--task-option KEY=VALUE`` and the flags named after them) are
settings of MLE-bench tasks, which have no ``task.yaml`` to hold them: see :data:`TASK_OPTIONS`.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aira_dsl.tasks.errors import TaskError
from aira_dsl.tasks.model import HiddenValidationConfig, Task

__all__ = ["CACHE_ENV", "TASK_OPTIONS", "default_cache_dir", "make_agent_ready", "parse_task_options",
           "resolve_task"]

CACHE_ENV = "AIRA_DSL_CACHE"

TASK_OPTIONS: Mapping[str, tuple[type, str]] = {
    "submission.strict": (bool, "mlebench:/mlebench-public: run the built-in format pre-check (the sample's "
                                "columns and ids) before MLE-bench's own validation"),
    "competition_id": (str, "mlebench-public: the competition id (default: $COMPETITION_ID)"),
    "direction": (str, "mlebench-public: maximize | minimize, when no MLE-bench leaderboard says it"),
    "validate_url": (str, "mlebench-public: the validation endpoint (default: $MLEBENCH_VALIDATE_URL, else the "
                          "URL in validate_submission.sh next to DIR; empty: format checks only)"),
}
"""Task options by name: (type, what it does)."""
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def parse_task_options(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check and convert task options (text values from the command line are accepted)."""
    out: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if key not in TASK_OPTIONS:
            guess = difflib.get_close_matches(key, list(TASK_OPTIONS), n=1)
            raise TaskError(f"unknown task option '{key}'",
                            hint=(f"did you mean '{guess[0]}'? " if guess else "")
                            + f"task options: {', '.join(TASK_OPTIONS)}")
        kind = TASK_OPTIONS[key][0]
        if kind is bool and not isinstance(value, bool):
            text = str(value).strip().lower()
            if text not in _TRUE + _FALSE:
                raise TaskError(f"task option {key} takes true or false, not {value!r}")
            value = text in _TRUE
        elif kind is str:
            value = "" if value is None else str(value)
        out[key] = value
    if "direction" in out and out["direction"] not in ("maximize", "minimize"):
        raise TaskError(f"task option direction takes maximize or minimize, not {out['direction']!r}")
    return out


def make_agent_ready(task: Task, cache_dir: Path) -> Task:
    """``task`` with its public archives unpacked into a cached view and ``data_notes`` filled in."""
    from aira_dsl.tasks.datanotes import archive_notes, join_notes
    from aira_dsl.tasks.unpack import unpack_public_dir

    view = unpack_public_dir(task.public_dir, cache_dir, task.id)
    notes = join_notes(archive_notes(view, task.public_dir), task.data_notes)
    if view is None:
        return dataclasses.replace(task, data_notes=notes)
    return dataclasses.replace(task, public_dir=view.root, data_source=task.public_dir, data_notes=notes)


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
                 hidden_validation: float | HiddenValidationConfig | bool | None = None,
                 options: Mapping[str, Any] | None = None) -> Task:
    """Load the task ``ref`` names (see the module docstring).

    ``hidden_validation`` overrides the task's own setting: a fraction or a config turns a
    hidden validation split on, ``False`` turns it off, ``None`` keeps what the task says.
    ``options`` are task options (:data:`TASK_OPTIONS`).
    """
    from aira_dsl.tasks.bundled import BUNDLED
    from aira_dsl.tasks.hidden import apply_hidden_validation
    from aira_dsl.tasks.taskfile import load_task_file

    ref = ref.strip()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    opts = parse_task_options(options)
    mlebench_only = [k for k in opts if k != "submission.strict"]
    if mlebench_only and not ref.startswith("mlebench-public:"):
        raise TaskError(f"task option {mlebench_only[0]} applies to mlebench-public: tasks only")
    if "submission.strict" in opts and not ref.startswith(("mlebench:", "mlebench-public:")):
        raise TaskError("task option submission.strict applies to mlebench: and mlebench-public: tasks only",
                        hint="task directories always get the full built-in checks")
    if ref.startswith("mlebench-public:"):
        from aira_dsl.tasks.blind import load_blind_task

        task = load_blind_task(ref.removeprefix("mlebench-public:"), competition_id=opts.get("competition_id"),
                               direction=opts.get("direction"), validate_url=opts.get("validate_url"),
                               strict=bool(opts.get("submission.strict", False)))
    elif ref.startswith("mlebench:"):
        from aira_dsl.tasks.mlebench_adapter import load_mlebench_task

        competition = ref.removeprefix("mlebench:")
        if not competition:
            raise TaskError("mlebench: needs a competition id, e.g. mlebench:spaceship-titanic")
        task = load_mlebench_task(competition, mlebench_data_dir, strict=bool(opts.get("submission.strict", False)))
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
    task = make_agent_ready(task, cache)
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
