"""Bundled task ``diabetes``: regression scored by RMSE.

Data: the diabetes progression set (``sklearn.datasets.load_diabetes(scaled=False)``, 442
patients, 10 baseline variables in their original units; the target is a measure of disease
progression one year later). 70/30 random split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from aira_dsl.tasks.bundled._common import BundledTask, Reference, shuffled_with_ids, split, write_csv

__all__ = ["TASK"]

TARGET = "progression"


def build(public: Path, private: Path) -> None:
    from sklearn.datasets import load_diabetes

    raw = load_diabetes(as_frame=True, scaled=False)
    frame = raw.data.copy()
    frame["sex"] = frame["sex"].astype(int)
    frame[TARGET] = raw.target.astype(int)
    data = shuffled_with_ids(frame, prefix="D")
    train, test = split(data, stratify=None)
    write_csv(public / "train.csv", train)
    write_csv(public / "test.csv", test.drop(columns=[TARGET]))
    mean = round(float(train[TARGET].mean()), 1)
    write_csv(public / "sample_submission.csv", pd.DataFrame({"id": test["id"], TARGET: mean}))
    write_csv(private / "answers.csv", test[["id", TARGET]])


def _fit_predict(public: Path, columns: list[str] | None = None, model: Any = None) -> pd.DataFrame:
    from sklearn.linear_model import LinearRegression

    train = pd.read_csv(public / "train.csv")
    test = pd.read_csv(public / "test.csv")
    features = columns or [c for c in test.columns if c != "id"]
    fitted = (model if model is not None else LinearRegression()).fit(train[features], train[TARGET])
    return pd.DataFrame({"id": test["id"], TARGET: fitted.predict(test[features])})


def bmi_linear(public: Path) -> pd.DataFrame:
    """Least squares on bmi alone."""
    return _fit_predict(public, ["bmi"])


def two_feature_linear(public: Path) -> pd.DataFrame:
    """Least squares on bmi and s5 (log serum triglycerides)."""
    return _fit_predict(public, ["bmi", "s5"])


def tuned_ridge(public: Path) -> pd.DataFrame:
    """Ridge regression on all ten standardised variables, alpha chosen by leave-one-out CV."""
    import numpy as np
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return _fit_predict(public, model=make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13))))


TASK = BundledTask(
    id="diabetes",
    name="Diabetes progression after one year",
    kind="tabular regression (RMSE)",
    metric="rmse",
    summary="predict a disease-progression score for 133 patients from 10 baseline variables",
    source="sklearn.datasets.load_diabetes(scaled=False)",
    build=build,
    id_column="id",
    target_columns=(TARGET,),
    references=(
        Reference("bmi-linear", "ordinary least squares on bmi alone", bmi_linear, "median"),
        Reference("two-feature-linear", "ordinary least squares on bmi and s5", two_feature_linear, "bronze"),
        Reference("tuned-ridge", "ridge regression on all ten standardised variables, alpha picked from "
                  "13 values in [0.001, 1000] by RidgeCV's leave-one-out error on the training rows",
                  tuned_ridge, "gold"),
    ),
    resources={"cpus": 1, "memory_gb": 2, "gpus": 0, "time_limit": "10m"},
)
