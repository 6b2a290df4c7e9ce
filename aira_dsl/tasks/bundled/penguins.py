"""Bundled task ``penguins``: tabular multi-class classification with missing values.

Data: the Palmer Archipelago penguins (``palmerpenguins.load_penguins()``, 344 birds, three
species, a few missing measurements). 70% of the rows (stratified by species) are training
data with labels; the other 30% are the test set, scored by accuracy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from aira_dsl.tasks.bundled._common import BundledTask, Reference, shuffled_with_ids, split, write_csv

__all__ = ["TASK"]

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
CATEGORICAL = ["island", "sex"]
TARGET = "species"


def build(public: Path, private: Path) -> None:
    from palmerpenguins import load_penguins

    data = shuffled_with_ids(load_penguins(), prefix="P")
    train, test = split(data, stratify=data[TARGET])
    write_csv(public / "train.csv", train)
    write_csv(public / "test.csv", test.drop(columns=[TARGET]))
    write_csv(public / "sample_submission.csv", pd.DataFrame({"id": test["id"], TARGET: "Adelie"}))
    write_csv(private / "answers.csv", test[["id", TARGET]])


def _fit_predict(public: Path, model: Any, columns: list[str]) -> pd.DataFrame:
    train = pd.read_csv(public / "train.csv")
    test = pd.read_csv(public / "test.csv")
    model.fit(train[columns], train[TARGET])
    return pd.DataFrame({"id": test["id"], TARGET: model.predict(test[columns])})


def stump(public: Path) -> pd.DataFrame:
    """A depth-1 decision tree on bill length (median-imputed)."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.tree import DecisionTreeClassifier

    model = make_pipeline(SimpleImputer(strategy="median"), DecisionTreeClassifier(max_depth=1, random_state=0))
    return _fit_predict(public, model, ["bill_length_mm"])


def bill_logistic(public: Path) -> pd.DataFrame:
    """Logistic regression on the two bill measurements (median-imputed, standardised)."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=1000))
    return _fit_predict(public, model, ["bill_length_mm", "bill_depth_mm"])


def forest(public: Path) -> pd.DataFrame:
    """Random forest (300 trees) on every feature: numeric median-imputed, island/sex one-hot."""
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    features = make_column_transformer(
        (SimpleImputer(strategy="median"), NUMERIC),
        (make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
         CATEGORICAL))
    model = make_pipeline(features, RandomForestClassifier(n_estimators=300, random_state=0, n_jobs=1))
    return _fit_predict(public, model, NUMERIC + CATEGORICAL)


TASK = BundledTask(
    id="penguins",
    name="Palmer penguins: species from measurements",
    kind="tabular multi-class",
    metric="accuracy",
    summary="predict the species of 104 penguins from bill, flipper, mass, island and sex (some missing)",
    source="palmerpenguins.load_penguins()",
    build=build,
    id_column="id",
    target_columns=(TARGET,),
    references=(
        Reference("bill-stump", "depth-1 decision tree on bill_length_mm, median-imputed", stump, "median"),
        Reference("bill-logistic", "logistic regression on bill length and depth, median-imputed and "
                  "standardised", bill_logistic, "bronze"),
        Reference("forest", "random forest (300 trees, random_state=0) on all measurements "
                  "(median-imputed) plus one-hot island and sex", forest, "gold"),
    ),
    resources={"cpus": 1, "memory_gb": 2, "gpus": 0, "time_limit": "10m"},
)
