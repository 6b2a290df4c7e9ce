"""The JSON Schema (2020-12) of ``task.yaml``, kept here as the single source.

``schema/task.schema.json`` at the repository root is this dict written out (a test keeps the
two identical); editors use that file through ``# yaml-language-server: $schema=...``, and
:func:`aira_dsl.tasks.taskfile.check_task_dir` validates against this one, so the package works
without the repository checkout.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["SCHEMA_ID", "task_schema", "task_schema_json"]

SCHEMA_ID = "https://aira-dsl.dev/schema/task.schema.json"

_VALUE_KINDS = ["label", "integer", "probability", "real", "nonnegative", "ranking", "any"]


def _str(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "description": description, **extra}


def task_schema() -> dict[str, Any]:
    """The schema as a fresh dict."""
    metric_object = {
        "type": "object",
        "description": "A named metric with parameters.",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": _str("Metric name: accuracy, balanced_accuracy, roc_auc, log_loss, rmse, rmsle, "
                         "mae, macro_f1, quadratic_weighted_kappa, or map@K (e.g. map@5)."),
            "params": {
                "type": "object",
                "description": "Metric parameters; roc_auc takes average (macro, weighted, micro, "
                               "samples) and multi_class (ovr, ovo).",
                "additionalProperties": {"type": ["string", "number", "boolean"]},
            },
        },
    }
    threshold = {"type": "number", "description": ""}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "aira-dsl task",
        "description": "A Kaggle-style machine-learning task: public data for the agent, private "
                       "answers for grading, a metric and a submission format.",
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "name", "submission"],
        "properties": {
            "version": {"const": 1, "description": "Format version of this file; only 1 exists."},
            "id": _str("Short identifier: lowercase letters, digits, '.', '_' and '-'.",
                       pattern="^[a-z0-9][a-z0-9._-]*$", maxLength=100),
            "name": _str("Human-readable title."),
            "description": _str("Markdown file (relative to this file) that describes the task to "
                                "agents, Kaggle style. Default: description.md."),
            "public_dir": _str("Directory (relative to this file) of the data agents see, mounted "
                               "read-only at ./data. Default: public."),
            "private_dir": _str("Directory (relative to this file) of the data only the grader sees. "
                                "Must not be inside public_dir. Default: private."),
            "answers": _str("CSV in private_dir with the id column and the true target columns. "
                            "Default: answers.csv."),
            "metric": {
                "description": "How submissions are scored: a metric name or {name, params}. Give "
                               "either metric or grader.",
                "oneOf": [_str("Metric name."), metric_object],
            },
            "grader": _str("Custom grader entry point 'module:function' (the module may be a .py "
                           "file next to task.yaml); called as function(submission_df, answers_df) "
                           "-> float, raising to reject a submission. Needs direction.",
                           pattern="^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$"),
            "direction": {"enum": ["maximize", "minimize"],
                          "description": "Whether higher or lower scores are better. Optional with a "
                                         "named metric (which knows its direction), required with a "
                                         "grader."},
            "submission": {
                "type": "object",
                "description": "What a submission looks like.",
                "additionalProperties": False,
                "required": ["id_column", "target_columns"],
                "properties": {
                    "sample": _str("Sample submission CSV in public_dir; its columns are the "
                                   "required columns. Default: sample_submission.csv."),
                    "id_column": _str("Column identifying each test row; ids must match the "
                                      "answers exactly."),
                    "target_columns": {
                        "type": "array", "minItems": 1, "uniqueItems": True,
                        "items": _str("A predicted column."),
                        "description": "Predicted columns, scored against the same columns of the "
                                       "answers (one column per class for multi-class probabilities).",
                    },
                    "values": {"enum": _VALUE_KINDS,
                               "description": "What each predicted value must be; default: what "
                                              "the metric needs (any for a custom grader)."},
                    "max_bytes": {"type": "integer", "minimum": 1,
                                  "description": "Largest submission file accepted, in bytes. "
                                                 "Default: the larger of 16 MiB and 32 times the "
                                                 "sample submission."},
                },
            },
            "thresholds": {
                "type": "object",
                "description": "Explicit medal thresholds (scores at least this good earn the "
                               "medal). Give these or a leaderboard, not both.",
                "additionalProperties": False,
                "minProperties": 1,
                "properties": {
                    "kind": {"enum": ["kaggle", "reference", "custom"],
                             "description": "Where the numbers come from: a Kaggle leaderboard, "
                                            "documented reference solutions, or your own choice. "
                                            "Default: custom."},
                    "gold": {**threshold, "description": "Gold medal threshold."},
                    "silver": {**threshold, "description": "Silver medal threshold."},
                    "bronze": {**threshold, "description": "Bronze medal threshold."},
                    "median": {**threshold, "description": "Median score; strictly better is "
                                                           "'above median'."},
                },
            },
            "leaderboard": _str("CSV (relative to this file) with a numeric 'score' column, one row "
                                "per team; medal thresholds follow Kaggle's rules by team count."),
            "resources": {
                "type": "object",
                "description": "Resource hints for solutions (advisory).",
                "additionalProperties": False,
                "properties": {
                    "cpus": {"type": "integer", "minimum": 1, "description": "CPU cores."},
                    "memory_gb": {"type": "number", "exclusiveMinimum": 0,
                                  "description": "Memory in GB."},
                    "gpus": {"type": "integer", "minimum": 0, "description": "GPUs."},
                    "time_limit": {
                        "description": "Expected wall time per solution run: seconds, or a "
                                       "duration like 90s, 30m, 4h, 1d.",
                        "oneOf": [{"type": "number", "exclusiveMinimum": 0},
                                  {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?(s|m|h|d)$"}],
                    },
                },
            },
            "hidden_validation": {
                "type": "object",
                "description": "Hold back a fraction of the labelled training rows as "
                               "framework-owned validation data: solutions see their features in "
                               "./data/hidden_val_features.csv and must write "
                               "./submission/hidden_val_predictions.csv.",
                "additionalProperties": False,
                "required": ["fraction"],
                "properties": {
                    "fraction": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1,
                                 "description": "Share of the training rows held back."},
                    "seed": {"type": "integer", "minimum": 0,
                             "description": "Seed of the random choice of rows. Default: 0."},
                    "train_file": _str("Labelled CSV in public_dir to split (it must hold the id "
                                       "column and the target columns). Default: train.csv."),
                },
            },
            "reference_solutions": {
                "type": "array",
                "description": "Documented reference solutions and their scores on the private "
                               "answers (how reference thresholds were computed).",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "description", "score"],
                    "properties": {
                        "name": _str("Short name."),
                        "description": _str("What the solution does (model, features)."),
                        "score": {"type": "number", "description": "Its score on the answers."},
                        "sets": {"enum": ["gold", "silver", "bronze", "median"],
                                 "description": "The threshold this score defines, if any."},
                    },
                },
            },
        },
    }


def task_schema_json() -> str:
    """The schema as the exact text of ``schema/task.schema.json``."""
    return json.dumps(task_schema(), indent=2, ensure_ascii=False) + "\n"
