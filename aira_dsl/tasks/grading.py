"""Grading: check a submission, score it on the private answers, and place it against medals.

The report carries MLE-bench's ``CompetitionReport`` fields (so tools reading MLE-bench grading
output read ours), plus ``reason`` (why a submission is invalid), ``metric`` and
``threshold_kind`` (``kaggle``, ``reference`` or ``custom``: reference thresholds are scores of
documented reference solutions, never Kaggle medals).
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from aira_dsl.tasks.errors import TaskError
from aira_dsl.tasks.medals import rank_score
from aira_dsl.tasks.metrics import get_metric
from aira_dsl.tasks.model import Task
from aira_dsl.tasks.submission import Aligned, SubmissionCheck, prepare_submission

__all__ = ["GradeReport", "grade_submission", "load_grader", "score_aligned"]


@dataclass(frozen=True)
class GradeReport:
    """The outcome of grading one submission (MLE-bench's fields first)."""

    competition_id: str
    score: float | None
    gold_threshold: float | None
    silver_threshold: float | None
    bronze_threshold: float | None
    median_threshold: float | None
    any_medal: bool
    gold_medal: bool
    silver_medal: bool
    bronze_medal: bool
    above_median: bool
    submission_exists: bool
    valid_submission: bool
    is_lower_better: bool
    created_at: str
    submission_path: str
    reason: str | None = None
    metric: str = ""
    threshold_kind: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def medal(self) -> str | None:
        if self.gold_medal:
            return "gold"
        if self.silver_medal:
            return "silver"
        return "bronze" if self.bronze_medal else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data


@contextmanager
def _importable_from(directory: Path | None) -> Iterator[None]:
    """Let ``module:function`` graders live next to their ``task.yaml``."""
    if directory is None:
        yield
        return
    entry = str(directory)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        if entry in sys.path:
            sys.path.remove(entry)


def load_grader(entry_point: str, task_dir: Path | None) -> Callable[[pd.DataFrame, pd.DataFrame], Any]:
    """Import ``module:function`` (the module may sit in the task dir); TaskError if it cannot."""
    module_name, _, attr = entry_point.partition(":")
    if not module_name or not attr:
        raise TaskError(f"grader {entry_point!r} is not of the form module:function")
    with _importable_from(task_dir):
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # any import-time failure of user code is a task problem
            raise TaskError(f"cannot import the grader module {module_name!r}: {type(exc).__name__}: {exc}",
                            hint="the module must be importable, or a .py file next to task.yaml") from exc
    function = getattr(module, attr, None)
    if not callable(function):
        raise TaskError(f"the grader module {module_name!r} has no function {attr!r}")
    return function  # type: ignore[no-any-return]


class InvalidByGrader(Exception):
    """A custom grader refused the submission (it raised); the message says why."""


def score_aligned(task: Task, aligned: Aligned) -> float:
    """Score a checked, aligned submission with the task's metric or grader."""
    if task.mlebench is not None:  # hidden validation of an MLE-bench task: its own grader
        from aira_dsl.tasks.mlebench_adapter import score_with_mlebench_grader

        try:
            return score_with_mlebench_grader(task, aligned.submission.copy(), aligned.answers.copy())
        except TaskError:
            raise
        except Exception as exc:
            raise InvalidByGrader(f"the mlebench grader rejected the predictions: {type(exc).__name__}: {exc}") from exc
    if task.grader is not None:
        grader = load_grader(task.grader, task.root)
        try:
            value = grader(aligned.submission.copy(), aligned.answers.copy())
        except Exception as exc:  # the grader's way of saying "invalid", as in MLE-bench
            raise InvalidByGrader(f"the grader rejected the submission: {type(exc).__name__}: {exc}") from exc
        try:
            score = float(value)
        except (TypeError, ValueError):
            raise TaskError(f"grader {task.grader} returned {value!r}, not a number") from None
    else:
        metric = get_metric(task.metric)
        if metric is None:
            raise TaskError(f"unknown metric {task.metric!r}")
        try:
            score = metric(aligned.y_true, aligned.y_pred, task.metric_params)
        except ValueError as exc:
            raise TaskError(f"cannot compute {task.metric} on this task's answers: {exc}",
                            hint="check the task's answers (e.g. ROC AUC needs both classes)") from exc
    if math.isnan(score):
        raise TaskError(f"{task.metric} came out as NaN on this task's answers")
    return score


def _report(task: Task, path: Path, *, score: float | None, reason: str | None,
            notes: tuple[str, ...], exists: bool) -> GradeReport:
    thresholds = task.thresholds
    ranking = rank_score(score, thresholds, task.direction)
    return GradeReport(
        competition_id=task.id, score=score,
        gold_threshold=thresholds.gold if thresholds else None,
        silver_threshold=thresholds.silver if thresholds else None,
        bronze_threshold=thresholds.bronze if thresholds else None,
        median_threshold=thresholds.median if thresholds else None,
        any_medal=ranking.any_medal, gold_medal=ranking.gold, silver_medal=ranking.silver,
        bronze_medal=ranking.bronze, above_median=ranking.above_median,
        submission_exists=exists, valid_submission=score is not None,
        is_lower_better=task.is_lower_better,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        submission_path=str(path), reason=reason,
        metric=task.grader or task.metric,
        threshold_kind=thresholds.kind if thresholds else None, notes=notes)


def grade_submission(task: Task, path: Path | str,
                     prepared: tuple[SubmissionCheck, Aligned | None] | None = None) -> GradeReport:
    """Check and score the submission at ``path``; an invalid one gets a report with its reason.

    ``prepared`` is what :func:`prepare_submission` already returned for this very file (the
    engine checks a submission before it grades it: the second parse is skipped); it is used
    only for tasks graded by aira-dsl's own metrics.

    Raises :class:`TaskError` for problems of the task (unreadable answers, a broken grader,
    ``mlebench`` missing for an MLE-bench task), never for problems of the submission.
    """
    path = Path(path)
    if task.blind is not None:
        from aira_dsl.tasks.blind import grade_blind

        return grade_blind(task, path)
    if task.mlebench is not None:
        from aira_dsl.tasks.mlebench_adapter import grade_with_mlebench

        return grade_with_mlebench(task, path)
    exists = path.is_file()
    check, aligned = prepared if prepared is not None else prepare_submission(task, path)
    if aligned is None:
        return _report(task, path, score=None, reason=check.reason, notes=check.notes, exists=exists)
    try:
        score = score_aligned(task, aligned)
    except InvalidByGrader as exc:
        return _report(task, path, score=None, reason=str(exc), notes=check.notes, exists=exists)
    return _report(task, path, score=score, reason=None, notes=check.notes, exists=exists)
