"""Bundled task ``breast-cancer``: binary classification scored by ROC AUC.

Data: the Wisconsin diagnostic breast cancer set (``sklearn.datasets.load_breast_cancer``, 569
tumours, 30 numeric features of cell nuclei). The target ``malignant`` is 1 for a malignant
tumour (scikit-learn codes malignant as 0; we flip it so the positive class is the disease).
70/30 stratified split; submissions give the probability of malignancy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from aira_dsl.tasks.bundled._common import BundledTask, Reference, shuffled_with_ids, split, write_csv

__all__ = ["TASK"]

TARGET = "malignant"


def build(public: Path, private: Path) -> None:
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer(as_frame=True)
    frame = raw.data.copy()
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame[TARGET] = (1 - raw.target).astype(int)
    data = shuffled_with_ids(frame, prefix="T")
    train, test = split(data, stratify=data[TARGET])
    write_csv(public / "train.csv", train)
    write_csv(public / "test.csv", test.drop(columns=[TARGET]))
    write_csv(public / "sample_submission.csv", pd.DataFrame({"id": test["id"], TARGET: 0.5}))
    write_csv(private / "answers.csv", test[["id", TARGET]])


def _fit_predict(public: Path, model: Any, columns: list[str] | None = None) -> pd.DataFrame:
    train = pd.read_csv(public / "train.csv")
    test = pd.read_csv(public / "test.csv")
    features = columns or [c for c in test.columns if c != "id"]
    model.fit(train[features], train[TARGET])
    proba = model.predict_proba(test[features])[:, 1]
    return pd.DataFrame({"id": test["id"], TARGET: proba})


def radius_logistic(public: Path) -> pd.DataFrame:
    """Logistic regression on mean_radius alone."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return _fit_predict(public, make_pipeline(StandardScaler(), LogisticRegression()), ["mean_radius"])


def naive_bayes(public: Path) -> pd.DataFrame:
    """Gaussian naive Bayes on all 30 features."""
    from sklearn.naive_bayes import GaussianNB

    return _fit_predict(public, GaussianNB())


def logistic(public: Path) -> pd.DataFrame:
    """Standardised logistic regression (C=1) on all 30 features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return _fit_predict(public, make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)))


TASK = BundledTask(
    id="breast-cancer",
    name="Breast cancer diagnosis: malignant or benign",
    kind="tabular binary (ROC AUC)",
    metric="roc_auc",
    summary="give the probability that each of 171 tumours is malignant from 30 nucleus measurements",
    source="sklearn.datasets.load_breast_cancer()",
    build=build,
    id_column="id",
    target_columns=(TARGET,),
    references=(
        Reference("radius-logistic", "logistic regression on mean_radius alone", radius_logistic, "median"),
        Reference("naive-bayes", "Gaussian naive Bayes on all 30 features", naive_bayes, "bronze"),
        Reference("logistic", "standardised logistic regression (C=1) on all 30 features", logistic, "gold"),
    ),
    resources={"cpus": 1, "memory_gb": 2, "gpus": 0, "time_limit": "10m"},
)
