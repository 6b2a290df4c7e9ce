"""Bundled task ``digits``: image classification from PNG files, labels in a CSV.

Data: scikit-learn's handwritten digits (``sklearn.datasets.load_digits``, 1,797 images of
8x8 pixels with 17 grey levels). Each image is written as an 8x8 greyscale PNG (level v is
stored as round(v * 255 / 16)) under ``train/`` or ``test/``; ``train.csv`` maps image ids to
labels. 70/30 stratified split, scored by accuracy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aira_dsl.tasks.bundled._common import (
    BundledTask,
    Reference,
    shuffled_with_ids,
    split,
    write_csv,
    write_png,
)

__all__ = ["TASK"]

TARGET = "label"


def build(public: Path, private: Path) -> None:
    from sklearn.datasets import load_digits

    raw = load_digits()
    pixels = np.rint(raw.images * 255.0 / 16.0).astype(np.uint8)
    frame = pd.DataFrame({TARGET: raw.target.astype(int), "index": np.arange(len(raw.target))})
    data = shuffled_with_ids(frame, prefix="img_")
    train, test = split(data, stratify=data[TARGET])
    for part, rows in (("train", train), ("test", test)):
        for image_id, index in zip(rows["id"], rows["index"], strict=True):
            write_png(public / part / f"{image_id}.png", pixels[int(index)])
    write_csv(public / "train.csv", train[["id", TARGET]])
    write_csv(public / "sample_submission.csv", pd.DataFrame({"id": test["id"], TARGET: 0}))
    write_csv(private / "answers.csv", test[["id", TARGET]])


def load_images(folder: Path, ids: pd.Series) -> np.ndarray:
    """The images named by ``ids`` as rows of 64 pixel values scaled to [0, 1]."""
    from PIL import Image

    rows = []
    for image_id in ids:
        with Image.open(folder / f"{image_id}.png") as image:
            rows.append(np.asarray(image, dtype=np.float64).reshape(-1) / 255.0)
    return np.vstack(rows)


def _fit_predict(public: Path, model: Any) -> pd.DataFrame:
    train = pd.read_csv(public / "train.csv")
    test = pd.read_csv(public / "sample_submission.csv")
    model.fit(load_images(public / "train", train["id"]), train[TARGET])
    predicted = model.predict(load_images(public / "test", test["id"]))
    return pd.DataFrame({"id": test["id"], TARGET: predicted.astype(int)})


def naive_bayes(public: Path) -> pd.DataFrame:
    """Gaussian naive Bayes on the 64 raw pixels."""
    from sklearn.naive_bayes import GaussianNB

    return _fit_predict(public, GaussianNB())


def logistic(public: Path) -> pd.DataFrame:
    """Logistic regression on standardised pixels."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return _fit_predict(public, make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)))


def rbf_svm(public: Path) -> pd.DataFrame:
    """RBF support vector machine, C=10, gamma=0.25 (pixels in [0, 1])."""
    from sklearn.svm import SVC

    return _fit_predict(public, SVC(C=10.0, gamma=0.25))


TASK = BundledTask(
    id="digits",
    name="Handwritten digits from 8x8 images",
    kind="image classification (PNG files)",
    metric="accuracy",
    summary="label 540 small greyscale PNG images of handwritten digits 0-9",
    source="sklearn.datasets.load_digits()",
    build=build,
    id_column="id",
    target_columns=(TARGET,),
    references=(
        Reference("naive-bayes", "Gaussian naive Bayes on the 64 pixels", naive_bayes, "median"),
        Reference("logistic", "logistic regression on standardised pixels", logistic, "bronze"),
        Reference("rbf-svm", "RBF support vector machine (C=10, gamma=0.25 on pixels scaled to [0, 1])",
                  rbf_svm, "gold"),
    ),
    resources={"cpus": 1, "memory_gb": 2, "gpus": 0, "time_limit": "10m"},
)
