"""``task.yaml`` declared once: every key with its type, default, range and description.

These frozen dataclasses (fields declared with :func:`~aira_dsl.settings.fields.setting`; the
``resources`` and ``hidden_validation`` sections are :class:`~aira_dsl.tasks.model.ResourceHints`
and :class:`~aira_dsl.tasks.model.HiddenValidationConfig` themselves) are the single source of

- the JSON Schema, ``schema/task.schema.json`` and its packaged copy, written by
  ``python -m aira_dsl.schemagen`` (a test fails when either is stale); editors use it through
  ``# yaml-language-server: $schema=...`` and :func:`aira_dsl.tasks.taskfile.check_task_dir`
  validates against the packaged copy (:func:`task_schema`), so the package works without the
  repository checkout;
- the defaults :mod:`aira_dsl.tasks.taskfile` fills in (it builds a :class:`TaskFile` from the
  checked data with :func:`~aira_dsl.settings.fields.build`);
- the key reference in ``docs/tasks.md``.

What a schema cannot say (the metric exists, files exist and agree) is checked by the task file
module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from aira_dsl.settings.fields import setting
from aira_dsl.tasks.model import DEFAULT_THRESHOLD_KIND, HiddenValidationConfig, ResourceHints

__all__ = [
    "MetricSpec",
    "ReferenceSolution",
    "SubmissionSettings",
    "TaskFile",
    "ThresholdSettings",
    "task_schema",
]

ValueKind = Literal["label", "integer", "probability", "real", "nonnegative", "ranking", "any"]
"""What a submission's predicted values may be required to be (``submission.values``)."""


@dataclass(frozen=True, kw_only=True)
class MetricSpec:
    __schema_doc__: ClassVar[str] = "A named metric with parameters."

    name: str = setting(min_length=1, doc="Metric name: accuracy, balanced_accuracy, roc_auc, log_loss, rmse, rmsle, "
                                          "mae, macro_f1, quadratic_weighted_kappa, or map@K (e.g. map@5).")
    params: dict[str, Any] = setting(
        default_factory=dict, schema={"additionalProperties": {"type": ["string", "number", "boolean"]}},
        doc="Metric parameters; roc_auc takes average (macro, weighted, micro, samples) and multi_class "
            "(ovr, ovo).")


@dataclass(frozen=True, kw_only=True)
class SubmissionSettings:
    __schema_doc__: ClassVar[str] = "What a submission looks like."

    sample: str = setting("sample_submission.csv", min_length=1,
                          doc="Sample submission CSV in public_dir; its columns are the required columns.")
    id_column: str = setting(min_length=1, doc="Column identifying each test row; ids must match the answers "
                                               "exactly.")
    target_columns: tuple[str, ...] = setting(
        min_items=1, item={"min_length": 1, "doc": "A predicted column."}, schema={"uniqueItems": True},
        doc="Predicted columns, scored against the same columns of the answers (one column per class for "
            "multi-class probabilities).")
    values: ValueKind | None = setting(None, show_default=False,
                                       doc="What each predicted value must be; default: what the metric needs (any "
                                           "for a custom grader).")
    max_bytes: int | None = setting(None, ge=1, show_default=False,
                                    doc="Largest submission file accepted, in bytes. Default: the larger of 16 MiB "
                                        "and 32 times the sample submission.")


@dataclass(frozen=True, kw_only=True)
class ThresholdSettings:
    __schema_doc__: ClassVar[str] = ("Explicit medal thresholds (scores at least this good earn the medal). Give "
                                     "these or a leaderboard, not both.")

    kind: Literal["kaggle", "reference", "custom"] = setting(
        DEFAULT_THRESHOLD_KIND, doc="Where the numbers come from: a Kaggle leaderboard, documented reference "
                                    "solutions, or your own choice.")
    gold: float | None = setting(None, show_default=False, doc="Gold medal threshold.")
    silver: float | None = setting(None, show_default=False, doc="Silver medal threshold.")
    bronze: float | None = setting(None, show_default=False, doc="Bronze medal threshold.")
    median: float | None = setting(None, show_default=False, doc="Median score; strictly better is 'above median'.")


@dataclass(frozen=True, kw_only=True)
class ReferenceSolution:
    name: str = setting(min_length=1, doc="Short name.")
    description: str = setting(min_length=1, doc="What the solution does (model, features).")
    score: float = setting(doc="Its score on the answers.")
    sets: Literal["gold", "silver", "bronze", "median"] | None = setting(
        None, show_default=False, doc="The threshold this score defines, if any.")


@dataclass(frozen=True, kw_only=True)
class TaskFile:
    """A ``task.yaml`` as written, defaults filled in (paths still relative)."""

    __schema_doc__: ClassVar[str] = ("A Kaggle-style machine-learning task: public data for the agent, private "
                                     "answers for grading, a metric and a submission format.")

    version: Literal[1] = setting(1, schema={"const": 1}, doc="Format version of this file; only 1 exists.")
    id: str = setting(min_length=1, pattern="^[a-z0-9][a-z0-9._-]*$", max_length=100,
                      doc="Short identifier: lowercase letters, digits, '.', '_' and '-'.")
    name: str = setting(min_length=1, doc="Human-readable title.")
    description: str = setting("description.md", min_length=1,
                               doc="Markdown file (relative to this file) that describes the task to agents, "
                                   "Kaggle style.")
    public_dir: str = setting("public", min_length=1,
                              doc="Directory (relative to this file) of the data agents see, mounted read-only at "
                                  "./data.")
    private_dir: str = setting("private", min_length=1,
                               doc="Directory (relative to this file) of the data only the grader sees. Must not be "
                                   "inside public_dir.")
    answers: str = setting("answers.csv", min_length=1,
                           doc="CSV in private_dir with the id column and the true target columns.")
    metric: str | MetricSpec | None = setting(
        None, min_length=1, show_default=False,
        doc="How submissions are scored: a metric name or {name, params}. Give either metric or grader.")
    grader: str | None = setting(
        None, min_length=1, pattern="^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$", show_default=False,
        doc="Custom grader entry point 'module:function' (the module may be a .py file next to task.yaml); "
            "called as function(submission_df, answers_df) -> float, raising to reject a submission. Needs "
            "direction.")
    direction: Literal["maximize", "minimize"] | None = setting(
        None, show_default=False, doc="Whether higher or lower scores are better. Optional with a named metric "
                                      "(which knows its direction), required with a grader.")
    submission: SubmissionSettings = setting(doc=SubmissionSettings.__schema_doc__)
    thresholds: ThresholdSettings | None = setting(None, show_default=False, schema={"minProperties": 1},
                                                   doc=ThresholdSettings.__schema_doc__)
    leaderboard: str | None = setting(
        None, min_length=1, show_default=False,
        doc="CSV (relative to this file) with a numeric 'score' column, one row per team; medal thresholds "
            "follow Kaggle's rules by team count.")
    resources: ResourceHints = setting(default_factory=ResourceHints, doc=ResourceHints.__schema_doc__)
    hidden_validation: HiddenValidationConfig | None = setting(None, show_default=False,
                                                               doc=HiddenValidationConfig.__schema_doc__)
    reference_solutions: tuple[ReferenceSolution, ...] = setting(
        (), doc="Documented reference solutions and their scores on the private answers (how reference thresholds "
                "were computed).")


def task_schema() -> dict[str, Any]:
    """The task schema, as packaged (generated from :class:`TaskFile`; loaded, not generated, so
    checking a task costs no schema generation)."""
    from aira_dsl.spec.schema_check import load_packaged_schema

    return load_packaged_schema("task.schema.json")

