"""Named metrics, each with its direction and the kind of values a submission must hold.

Scores come from scikit-learn's implementations wherever one exists; only MAP@k (which
scikit-learn lacks in Kaggle's form) is written here. Every function receives the answers and
the predictions already aligned row by row (same ids, same order) and already converted to the
metric's value kind by :mod:`aira_dsl.tasks.submission`, so the functions only compute.

With several target columns, label metrics (accuracy, balanced accuracy, macro F1, QWK) are the
mean of the per-column scores; regression metrics average per-column errors (scikit-learn's
``multioutput="uniform_average"``); probability metrics treat the columns as classes (see
:func:`roc_auc` and :func:`log_loss`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from aira_dsl.tasks.model import Direction

__all__ = [
    "Metric",
    "ValueKind",
    "get_metric",
    "metric_names",
    "suggest_metric",
    "validate_metric_params",
]

ValueKind = Literal["label", "integer", "probability", "real", "nonnegative", "ranking"]
"""What each predicted value must be: a class label, a whole number, a probability in [0, 1],
any finite number, a finite number >= 0, or space-separated ranked labels."""

def _sk() -> Any:
    """scikit-learn's metrics, imported on first use (it costs a second; validate never needs it)."""
    from sklearn import metrics

    return metrics


Compute = Callable[[pd.DataFrame, pd.DataFrame, Mapping[str, Any]], float]

LOG_LOSS_EPS = 1e-15
"""Probabilities are clipped to [eps, 1 - eps] before log loss, as Kaggle does."""


@dataclass(frozen=True)
class Metric:
    """A named metric: how to compute it, which way is better, and what values it needs."""

    name: str
    direction: Direction
    values: ValueKind
    description: str
    compute: Compute
    params: Mapping[str, tuple[str, ...]]
    """Accepted ``metric.params`` keys, each with its allowed values."""

    def __call__(self, y_true: pd.DataFrame, y_pred: pd.DataFrame,
                 params: Mapping[str, Any] | None = None) -> float:
        return float(self.compute(y_true, y_pred, params or {}))


def _columns_mean(score: Callable[[np.ndarray, np.ndarray], float]) -> Compute:
    """A label metric over several target columns: the mean of the per-column scores."""

    def compute(y_true: pd.DataFrame, y_pred: pd.DataFrame, _params: Mapping[str, Any]) -> float:
        values = [score(y_true.iloc[:, i].to_numpy(), y_pred.iloc[:, i].to_numpy())
                  for i in range(y_true.shape[1])]
        return float(np.mean(values))

    return compute


def _accuracy(t: np.ndarray, p: np.ndarray) -> float:
    return float(_sk().accuracy_score(t, p))


def _balanced_accuracy(t: np.ndarray, p: np.ndarray) -> float:
    return float(_sk().balanced_accuracy_score(t, p))


def _macro_f1(t: np.ndarray, p: np.ndarray) -> float:
    return float(_sk().f1_score(t, p, average="macro", zero_division=0))


def _qwk(t: np.ndarray, p: np.ndarray) -> float:
    return float(_sk().cohen_kappa_score(t.astype(np.int64), p.astype(np.int64), weights="quadratic"))


def _rmse(y_true: pd.DataFrame, y_pred: pd.DataFrame, _params: Mapping[str, Any]) -> float:
    return float(_sk().root_mean_squared_error(y_true.to_numpy(float), y_pred.to_numpy(float)))


def _rmsle(y_true: pd.DataFrame, y_pred: pd.DataFrame, _params: Mapping[str, Any]) -> float:
    return float(_sk().root_mean_squared_log_error(y_true.to_numpy(float), y_pred.to_numpy(float)))


def _mae(y_true: pd.DataFrame, y_pred: pd.DataFrame, _params: Mapping[str, Any]) -> float:
    return float(_sk().mean_absolute_error(y_true.to_numpy(float), y_pred.to_numpy(float)))


def _class_indices(onehot: np.ndarray) -> np.ndarray:
    """Answers given as one column per class (1 for the true class) -> class index per row."""
    return np.asarray(np.argmax(onehot, axis=1))


def _normalised(probs: np.ndarray) -> np.ndarray:
    """Rows rescaled to sum to 1 (an all-zero row becomes uniform), then clipped, as Kaggle does."""
    sums = probs.sum(axis=1, keepdims=True)
    width = probs.shape[1]
    scaled = np.where(sums > 0, probs / np.where(sums > 0, sums, 1.0), 1.0 / width)
    return np.asarray(np.clip(scaled, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS))


def log_loss(y_true: pd.DataFrame, y_pred: pd.DataFrame, _params: Mapping[str, Any]) -> float:
    """Binary log loss (one column: probability of class 1) or multi-class (one column per class).

    Multi-class answers are one-hot columns; predicted rows are rescaled to sum to 1 and clipped
    to [1e-15, 1 - 1e-15] (Kaggle's convention) before scikit-learn's ``log_loss``.
    """
    truth = y_true.to_numpy(float)
    probs = y_pred.to_numpy(float)
    if truth.shape[1] == 1:
        p = np.clip(probs[:, 0], LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
        return float(_sk().log_loss(truth[:, 0].astype(np.int64), p, labels=[0, 1]))
    labels = list(range(truth.shape[1]))
    return float(_sk().log_loss(_class_indices(truth), _normalised(probs), labels=labels))


def roc_auc(y_true: pd.DataFrame, y_pred: pd.DataFrame, params: Mapping[str, Any]) -> float:
    """ROC AUC: binary (one column), or one column per class/label with an average.

    Several columns are scored one-vs-rest per column and averaged with ``params.average``
    (``macro`` by default; ``weighted``, ``micro``, ``samples``), which for one-hot answers is
    scikit-learn's multi-class "ovr" AUC and for multi-label answers its multi-label AUC.
    ``params.multi_class: ovo`` uses scikit-learn's one-vs-one multi-class AUC instead.
    """
    truth = y_true.to_numpy(float)
    scores = y_pred.to_numpy(float)
    average = str(params.get("average", "macro"))
    if truth.shape[1] == 1:
        return float(_sk().roc_auc_score(truth[:, 0].astype(np.int64), scores[:, 0]))
    if params.get("multi_class") == "ovo":
        return float(_sk().roc_auc_score(_class_indices(truth), _normalised(scores),
                                       multi_class="ovo", average=average,
                                       labels=list(range(truth.shape[1]))))
    return float(_sk().roc_auc_score(truth.astype(np.int64), scores, average=average))


def average_precision_at_k(actual: list[str], predicted: list[str], k: int) -> float:
    """Kaggle's AP@k: precision at each new correct prediction, over min(len(actual), k)."""
    if not actual:
        return 0.0
    relevant = set(actual)
    hits = 0
    total = 0.0
    seen: set[str] = set()
    for rank, label in enumerate(predicted[:k], start=1):
        if label in relevant and label not in seen:
            hits += 1
            total += hits / rank
        seen.add(label)
    return total / min(len(relevant), k)


def _map_at(k: int) -> Compute:
    def compute(y_true: pd.DataFrame, y_pred: pd.DataFrame, _params: Mapping[str, Any]) -> float:
        truth = y_true.iloc[:, 0].astype(str).tolist()
        preds = y_pred.iloc[:, 0].astype(str).tolist()
        values = [average_precision_at_k(t.split(), p.split(), k) for t, p in zip(truth, preds, strict=True)]
        return float(np.mean(values)) if values else 0.0

    return compute


_AVERAGES = ("macro", "weighted", "micro", "samples")

_METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "maximize", "label", "share of rows whose label is right",
               _columns_mean(_accuracy), {}),
        Metric("balanced_accuracy", "maximize", "label", "mean recall over classes",
               _columns_mean(_balanced_accuracy), {}),
        Metric("macro_f1", "maximize", "label", "unweighted mean of per-class F1",
               _columns_mean(_macro_f1), {}),
        Metric("quadratic_weighted_kappa", "maximize", "integer",
               "Cohen's kappa with quadratic weights, for ordinal whole-number ratings",
               _columns_mean(_qwk), {}),
        Metric("roc_auc", "maximize", "probability",
               "area under the ROC curve (binary, or averaged over class/label columns)",
               roc_auc, {"average": _AVERAGES, "multi_class": ("ovr", "ovo")}),
        Metric("log_loss", "minimize", "probability",
               "cross-entropy of predicted probabilities (binary or one column per class)",
               log_loss, {}),
        Metric("rmse", "minimize", "real", "root mean squared error", _rmse, {}),
        Metric("rmsle", "minimize", "nonnegative", "root mean squared logarithmic error", _rmsle, {}),
        Metric("mae", "minimize", "real", "mean absolute error", _mae, {}),
    )
}

_ALIASES = {
    "qwk": "quadratic_weighted_kappa",
    "auc": "roc_auc",
    "f1_macro": "macro_f1",
    "logloss": "log_loss",
}

_MAP_RE = re.compile(r"map@([1-9][0-9]{0,2})")


def get_metric(name: str) -> Metric | None:
    """The metric called ``name`` (case-insensitive; ``map@5`` style for MAP@k), or None."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key in _METRICS:
        return _METRICS[key]
    match = _MAP_RE.fullmatch(key)
    if match:
        k = int(match.group(1))
        return Metric(f"map@{k}", "maximize", "ranking",
                      f"mean average precision at {k} over space-separated ranked labels",
                      _map_at(k), {})
    return None


def metric_names() -> list[str]:
    """Every accepted name, for help texts and "did you mean" (``map@k`` stands for the family)."""
    return [*_METRICS, "map@k"]


def suggest_metric(name: str) -> str | None:
    """The closest known metric name, for a "did you mean" hint."""
    candidates = [*_METRICS, *_ALIASES, "map@5"]
    close = difflib.get_close_matches(name.strip().lower(), candidates, n=1, cutoff=0.6)
    return _ALIASES.get(close[0], close[0]) if close else None


def validate_metric_params(metric: Metric, params: Mapping[str, Any]) -> list[str]:
    """Problems with ``params`` for ``metric``, as sentences (empty when all is well)."""
    problems = []
    for key, value in params.items():
        allowed = metric.params.get(key)
        if allowed is None:
            known = ", ".join(metric.params) or "none"
            problems.append(f"metric {metric.name} takes no parameter '{key}' (accepted: {known})")
        elif str(value) not in allowed:
            problems.append(f"metric {metric.name}: '{key}' must be one of {', '.join(allowed)}; got {value!r}")
    return problems
