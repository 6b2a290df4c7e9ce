"""Tasks: what agents are run against, and how their submissions are graded.

A task is a directory with a ``task.yaml`` (see ``docs/tasks.md`` and
``schema/task.schema.json``), a bundled task prepared offline from data installed packages ship,
an MLE-bench competition prepared by the ``mlebench`` tool, or one seen from inside MLE-bench's
harness (``mlebench-public:DIR``). This package loads them, unpacks public archives
(:func:`resolve_task`), previews their data for prompts (:func:`data_preview`), checks and
grades submissions (:func:`check_submission`, :func:`grade_submission`) and scores the
hidden validation split (:func:`score_hidden_validation`). It depends on nothing else of
aira-dsl except diagnostics and the positioned YAML loader.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aira_dsl.tasks.bundled import BundledInfo, list_bundled
    from aira_dsl.tasks.bundled.prepare import prepare_bundled
    from aira_dsl.tasks.errors import TaskError
    from aira_dsl.tasks.grading import GradeReport, grade_submission
    from aira_dsl.tasks.hidden import (
        apply_hidden_validation,
        check_hidden_validation,
        score_hidden_validation,
    )
    from aira_dsl.tasks.medals import leaderboard_thresholds, medal_positions, rank_score
    from aira_dsl.tasks.metrics import Metric, get_metric, metric_names
    from aira_dsl.tasks.model import (
        HIDDEN_ANSWERS_FILE,
        HIDDEN_FEATURES_FILE,
        HIDDEN_PREDICTIONS_FILE,
        HiddenValidation,
        HiddenValidationConfig,
        ResourceHints,
        SubmissionFormat,
        Task,
        Thresholds,
    )
    from aira_dsl.tasks.preview import data_preview
    from aira_dsl.tasks.resolve import TASK_OPTIONS, default_cache_dir, make_agent_ready, resolve_task
    from aira_dsl.tasks.submission import SubmissionCheck, check_submission
    from aira_dsl.tasks.taskfile import check_task_dir, is_task_document, load_task_file, looks_like_task
    from aira_dsl.tasks.unpack import DataView, unpack_public_dir

_LAZY = {
    "BundledInfo": "aira_dsl.tasks.bundled",
    "DataView": "aira_dsl.tasks.unpack",
    "GradeReport": "aira_dsl.tasks.grading",
    "HIDDEN_ANSWERS_FILE": "aira_dsl.tasks.model",
    "HIDDEN_FEATURES_FILE": "aira_dsl.tasks.model",
    "HIDDEN_PREDICTIONS_FILE": "aira_dsl.tasks.model",
    "HiddenValidation": "aira_dsl.tasks.model",
    "HiddenValidationConfig": "aira_dsl.tasks.model",
    "Metric": "aira_dsl.tasks.metrics",
    "ResourceHints": "aira_dsl.tasks.model",
    "SubmissionCheck": "aira_dsl.tasks.submission",
    "SubmissionFormat": "aira_dsl.tasks.model",
    "TASK_OPTIONS": "aira_dsl.tasks.resolve",
    "Task": "aira_dsl.tasks.model",
    "TaskError": "aira_dsl.tasks.errors",
    "Thresholds": "aira_dsl.tasks.model",
    "apply_hidden_validation": "aira_dsl.tasks.hidden",
    "check_hidden_validation": "aira_dsl.tasks.hidden",
    "check_submission": "aira_dsl.tasks.submission",
    "check_task_dir": "aira_dsl.tasks.taskfile",
    "data_preview": "aira_dsl.tasks.preview",
    "default_cache_dir": "aira_dsl.tasks.resolve",
    "get_metric": "aira_dsl.tasks.metrics",
    "grade_submission": "aira_dsl.tasks.grading",
    "is_task_document": "aira_dsl.tasks.taskfile",
    "leaderboard_thresholds": "aira_dsl.tasks.medals",
    "list_bundled": "aira_dsl.tasks.bundled",
    "load_task_file": "aira_dsl.tasks.taskfile",
    "looks_like_task": "aira_dsl.tasks.taskfile",
    "make_agent_ready": "aira_dsl.tasks.resolve",
    "medal_positions": "aira_dsl.tasks.medals",
    "metric_names": "aira_dsl.tasks.metrics",
    "prepare_bundled": "aira_dsl.tasks.bundled.prepare",
    "rank_score": "aira_dsl.tasks.medals",
    "resolve_task": "aira_dsl.tasks.resolve",
    "score_hidden_validation": "aira_dsl.tasks.hidden",
    "unpack_public_dir": "aira_dsl.tasks.unpack",
}
"""Where each public name lives: imported on first use, so that a process that needs one
light part (the runtime reads the cache folder and the benchmark rules) does not load pandas
and scikit-learn with the graders."""

__all__ = [
    "HIDDEN_ANSWERS_FILE",
    "HIDDEN_FEATURES_FILE",
    "HIDDEN_PREDICTIONS_FILE",
    "TASK_OPTIONS",
    "BundledInfo",
    "DataView",
    "GradeReport",
    "HiddenValidation",
    "HiddenValidationConfig",
    "Metric",
    "ResourceHints",
    "SubmissionCheck",
    "SubmissionFormat",
    "Task",
    "TaskError",
    "Thresholds",
    "apply_hidden_validation",
    "check_hidden_validation",
    "check_submission",
    "check_task_dir",
    "data_preview",
    "default_cache_dir",
    "get_metric",
    "grade_submission",
    "is_task_document",
    "leaderboard_thresholds",
    "list_bundled",
    "load_task_file",
    "looks_like_task",
    "make_agent_ready",
    "medal_positions",
    "metric_names",
    "prepare_bundled",
    "rank_score",
    "resolve_task",
    "score_hidden_validation",
    "unpack_public_dir",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
