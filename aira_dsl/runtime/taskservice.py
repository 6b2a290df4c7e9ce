"""The task, loaded and graded in a helper process.

Grading needs pandas and scikit-learn (over 120 MB once imported) and holds the GIL while it
parses CSV files. Keeping both out of the orchestrator keeps its memory small and its event
loop responsive with many workers. The helper process loads the task once; the engine asks it
for the task's description, the data preview, and a grade per submission, and gets plain
values back. ``in_process=True`` runs the same functions directly (for tools and tests).
"""

from __future__ import annotations

import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aira_dsl.runtime.records import Grade, SubmissionCheck

__all__ = ["TaskInfo", "TaskService", "TaskServiceError"]


class TaskServiceError(Exception):
    """The task could not be loaded or graded; message and hint come from the task layer."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class TaskInfo:
    id: str
    name: str
    description: str
    metric: str
    direction: str
    public_dir: Path
    has_hidden_validation: bool
    data_preview: str
    hidden_predictions: str | None = None
    """File name the solution writes hidden-validation predictions to (None without hidden validation)."""


_TASK: Any = None  # the loaded task, in the helper process


def _ignore_interrupts() -> None:
    """Ctrl-C reaches the whole process group; the engine decides what it means, so the helper
    keeps grading until the engine shuts it down."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _load(ref: str, mlebench_data_dir: Path | None, cache_dir: Path | None,
          hidden_validation: float | None) -> tuple[str, Any]:
    global _TASK
    from aira_dsl.tasks import TaskError, data_preview, resolve_task

    try:
        _TASK = resolve_task(ref, mlebench_data_dir=mlebench_data_dir, cache_dir=cache_dir,
                             hidden_validation=hidden_validation)
    except TaskError as exc:
        return "error", (str(exc), getattr(exc, "hint", None))
    from aira_dsl.tasks.model import HIDDEN_PREDICTIONS_FILE

    task = _TASK
    hidden = task.hidden_validation is not None
    return "ok", TaskInfo(id=task.id, name=task.name, description=task.description, metric=task.metric,
                          direction=task.direction, public_dir=Path(task.public_dir),
                          has_hidden_validation=hidden, data_preview=data_preview(task.public_dir),
                          hidden_predictions=HIDDEN_PREDICTIONS_FILE if hidden else None)


def _check(path: str) -> SubmissionCheck:
    from aira_dsl.tasks import check_submission

    exists = Path(path).is_file()
    if not exists:
        return SubmissionCheck.missing()
    check = check_submission(_TASK, Path(path))
    return SubmissionCheck(True, bool(check.valid), None if check.valid else check.reason)


def _grade(path: str) -> Grade:
    from aira_dsl.tasks import grade_submission

    report = grade_submission(_TASK, Path(path))
    return Grade(hidden_score=None, test_score=report.score, valid_submission=bool(report.valid_submission),
                 gold=bool(report.gold_medal), silver=bool(report.silver_medal), bronze=bool(report.bronze_medal),
                 above_median=bool(report.above_median), report=report.to_dict())


def _hidden(submission_dir: str) -> float | None:
    from aira_dsl.tasks import score_hidden_validation

    return score_hidden_validation(_TASK, Path(submission_dir))


class TaskService:
    """A task loaded in a helper process (or in this one), answering grading requests."""

    def __init__(self, ref: str, *, mlebench_data_dir: Path | None = None, cache_dir: Path | None = None,
                 hidden_validation: float | None = None, in_process: bool = False):
        self._pool: ProcessPoolExecutor | None = None
        args = (ref, mlebench_data_dir, cache_dir, hidden_validation)
        if in_process:
            status, value = _load(*args)
        else:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_ignore_interrupts)
            status, value = self._pool.submit(_load, *args).result()
        if status != "ok":
            self.close()
            message, hint = value
            raise TaskServiceError(message, hint)
        self.info: TaskInfo = value

    @property
    def has_hidden_validation(self) -> bool:
        return self.info.has_hidden_validation

    @property
    def hidden_predictions(self) -> str | None:
        return self.info.hidden_predictions

    def check(self, submission: Path) -> SubmissionCheck:
        """Is the file a valid submission (format only; no score)?"""
        if self._pool is None:
            return _check(str(submission))
        return self._pool.submit(_check, str(submission)).result()

    def grade(self, submission: Path) -> Grade:
        """Check and score a submission on the private answers (never seen by the agent)."""
        if self._pool is None:
            return _grade(str(submission))
        return self._pool.submit(_grade, str(submission)).result()

    def hidden_score(self, submission_dir: Path) -> float | None:
        if self._pool is None:
            return _hidden(str(submission_dir))
        return self._pool.submit(_hidden, str(submission_dir)).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
