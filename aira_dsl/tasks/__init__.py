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

from aira_dsl.tasks.bundled import BundledInfo, list_bundled
from aira_dsl.tasks.bundled.prepare import prepare_bundled
from aira_dsl.tasks.errors import TaskError
from aira_dsl.tasks.grading import GradeReport, grade_submission
from aira_dsl.tasks.hidden import apply_hidden_validation, check_hidden_validation, score_hidden_validation
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
