"""A run's options: everything besides the plan that decides what a run does, recorded in ``run.json``.

Resuming a run restores every option it was started with, so a resumed run continues the same
experiment (a run started with ``--hidden-validation 0.2`` keeps scoring nodes on that split).
Options split in two: those that define the experiment (changing them mid-run would mix two
experiments in one journal: refused) and those that only say how to run it (more workers,
another endpoint URL, other GPUs: allowed).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

__all__ = ["OptionChangeError", "RunOptions"]


class OptionChangeError(ValueError):
    """A resume asked to change an option that defines the experiment."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


_PATHS = ("out", "llm_cache_path", "mlebench_data_dir", "task_cache_dir")


@dataclass
class RunOptions:
    task_ref: str
    out: Path
    seed: int = 0
    workers: int | None = None
    """Parallel workers; None takes the plan's ``execution.workers``."""
    llm_cache: str = "off"
    llm_cache_path: Path | None = None
    mlebench_data_dir: Path | None = None
    task_cache_dir: Path | None = None
    hidden_validation: float | None = None
    gpus: list[int] | None = None
    sandbox_dirs: list[Path] | None = None
    base_url: str | None = None
    """Overrides every model's endpoint (the demo points all models at its scripted server)."""
    task_options: dict[str, Any] = field(default_factory=dict)
    """Task options (aira_dsl.tasks.TASK_OPTIONS: submission.strict, competition_id, direction, validate_url)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Options of later features, recorded and restored as they are."""

    SEMANTIC: ClassVar[tuple[str, ...]] = ("task_ref", "seed", "hidden_validation", "task_options")
    OPERATIONAL_TASK_OPTIONS: ClassVar[tuple[str, ...]] = ("validate_url",)
    """Options that define the experiment: a resume may not change them."""

    def to_record(self) -> dict[str, Any]:
        """JSON-safe form for ``run.json`` (paths as text)."""
        data = dataclasses.asdict(self)
        for name in _PATHS:
            if data[name] is not None:
                data[name] = str(data[name])
        if data["sandbox_dirs"] is not None:
            data["sandbox_dirs"] = [str(p) for p in data["sandbox_dirs"]]
        return data

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> RunOptions:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in _PATHS:
            if values.get(name) is not None:
                values[name] = Path(values[name])
        if values.get("sandbox_dirs") is not None:
            values["sandbox_dirs"] = [Path(p) for p in values["sandbox_dirs"]]
        return cls(**values)

    @classmethod
    def from_run_info(cls, info: dict[str, Any], run_dir: Path) -> RunOptions:
        """The options a run directory's ``run.json`` recorded (older runs: what they kept)."""
        if isinstance(info.get("options"), dict):
            options = cls.from_record(info["options"])
        else:  # written before options were recorded whole
            recorded = info.get("task")
            task: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
            options = cls(task_ref=str(task.get("ref") or ""), out=run_dir, seed=int(info.get("seed", 0) or 0),
                          workers=info.get("workers"))
        options.out = run_dir
        return options

    def resumed(self, **overrides: Any) -> RunOptions:
        """These options with ``overrides`` applied (None means "as recorded").

        Raises :class:`OptionChangeError` for a change to an option that defines the experiment.
        """
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise OptionChangeError(f"unknown run option(s): {', '.join(unknown)}")
        values = {k: v for k, v in overrides.items() if v is not None}
        if "task_options" in values:  # given options add to the recorded ones
            values["task_options"] = {**self.task_options, **values["task_options"]}
        changed = dataclasses.replace(self, **values)
        for name in self.SEMANTIC:
            before, after = getattr(self, name), getattr(changed, name)
            if name == "task_options":  # where the grading server listens is not part of the experiment
                before = {k: v for k, v in before.items() if k not in self.OPERATIONAL_TASK_OPTIONS}
                after = {k: v for k, v in after.items() if k not in self.OPERATIONAL_TASK_OPTIONS}
            if before != after:
                flag = "--" + name.replace("_", "-").replace("task-ref", "task").replace("task-options", "task-option")
                raise OptionChangeError(
                    f"{flag} cannot change when a run is resumed: it was started with {before!r}, not {after!r}",
                    hint=f"leave {flag} out to continue with {before!r}, or start a new run directory")
        return changed
