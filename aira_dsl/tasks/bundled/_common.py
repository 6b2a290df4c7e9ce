"""Shared pieces of the bundled tasks: their description type and deterministic writers.

Preparation must give the same bytes every time on a given installation, so nothing here
relies on library defaults that may change: CSV cells are formatted by :func:`cell` (shortest
round-trip ``repr`` for floats, empty for missing) with ``\\n`` line ends, and PNGs are written
without metadata chunks at a fixed compression level.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "SPLIT_SEED",
    "BundledTask",
    "Reference",
    "cell",
    "shuffled_with_ids",
    "split",
    "write_csv",
    "write_png",
]

SPLIT_SEED = 7
"""Seed of every bundled task's shuffle and train/test split."""


@dataclass(frozen=True)
class Reference:
    """A documented reference solution: reads the public dir, returns a submission frame."""

    name: str
    description: str
    predict: Callable[[Path], pd.DataFrame]
    sets: str | None = None
    """Which threshold its score defines: gold, bronze or median (silver is interpolated)."""


@dataclass(frozen=True)
class BundledTask:
    """A small real task built from data an installed package ships."""

    id: str
    name: str
    kind: str
    metric: str
    summary: str
    source: str
    """Where the data comes from (package and loader), for the listing and the docs."""
    build: Callable[[Path, Path], None]
    """Writes the public and private directories (given in that order)."""
    id_column: str
    target_columns: tuple[str, ...]
    references: tuple[Reference, ...]
    resources: dict[str, Any] = field(default_factory=dict)


def cell(value: Any) -> str:
    """One CSV cell, formatted the same way on every run and platform."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isnan(number):
            return ""
        return repr(number)
    if value is pd.NA or value is pd.NaT:
        return ""
    return str(value)


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` (no index) with :func:`cell` formatting and ``\\n`` line ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([str(c) for c in frame.columns])
        columns = [frame[c].tolist() for c in frame.columns]
        for row in zip(*columns, strict=True):
            writer.writerow([cell(v) for v in row])


def write_png(path: Path, pixels: np.ndarray) -> None:
    """Write a greyscale image (uint8 array) as a PNG with no metadata chunks."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), mode="L").save(
        path, format="PNG", optimize=False, compress_level=9)


def shuffled_with_ids(frame: pd.DataFrame, prefix: str, width: int = 4,
                      seed: int = SPLIT_SEED) -> pd.DataFrame:
    """Rows in a seeded random order with ids ``<prefix>0000...`` in that order.

    Ids are given after shuffling so that neither id order nor file order says anything about
    the source's row order (which is often sorted by label).
    """
    order = np.random.default_rng(seed).permutation(len(frame))
    out = frame.iloc[order].reset_index(drop=True)
    out.insert(0, "id", [f"{prefix}{i:0{width}d}" for i in range(len(out))])
    return out


def split(frame: pd.DataFrame, stratify: Sequence[Any] | None, test_size: float = 0.3,
          seed: int = SPLIT_SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded train/test split (stratified when given labels), each sorted by id."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=stratify)
    return train.sort_values("id").reset_index(drop=True), test.sort_values("id").reset_index(drop=True)
