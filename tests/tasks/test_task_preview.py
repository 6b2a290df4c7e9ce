"""Data preview: bounded, deterministic, informative."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aira_dsl.tasks import data_preview


def test_tabular_preview_shows_columns_missing_and_unique(bundled_cache: Path) -> None:
    text = data_preview(bundled_cache / "penguins" / "public")
    assert text.startswith("Data in ./data/: 3 files")
    assert "train.csv: 240 rows, 9 columns" in text
    assert "    sex: text, 8 missing, 2 unique:" in text
    assert "    species: text, 3 unique: Adelie (106), Gentoo (87), Chinstrap (47)" in text
    assert "bill_length_mm: float, 2 missing" in text and "range 32.1..55.9" in text
    assert "year: int, 3 unique, range 2007..2009" in text
    assert str(bundled_cache) not in text  # no absolute paths


def test_image_preview_counts_files_and_limits_listings(bundled_cache: Path) -> None:
    text = data_preview(bundled_cache / "digits" / "public")
    assert "train/ (1257 files" in text and "test/ (540 files" in text
    assert "… 1249 more entries (1249 .png" in text
    assert "Images: 1797 files (1797 .png); e.g. test/img_0000.png: 8x8 pixels, mode L" in text
    assert text.count(".png (") == 16  # 8 files listed per directory


@pytest.mark.parametrize("limit", [150, 400, 1000, 1500])
def test_preview_respects_the_bound(bundled_cache: Path, limit: int) -> None:
    text = data_preview(bundled_cache / "penguins" / "public", max_chars=limit)
    assert len(text) <= limit
    assert text.endswith(f"(preview truncated at {limit} characters)")


def test_preview_is_deterministic_across_copies(bundled_cache: Path, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "public"
    shutil.copytree(bundled_cache / "digits" / "public", copy)
    assert data_preview(copy) == data_preview(bundled_cache / "digits" / "public")
    assert data_preview(copy, max_chars=800) == data_preview(copy, max_chars=800)


def test_odd_directories(tmp_path: Path) -> None:
    assert data_preview(tmp_path / "missing") == "(no data directory: ./data is missing)"
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    (tmp_path / "broken.csv").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "wide.csv").write_text(",".join(f"c{i}" for i in range(60)) + "\n" + ",".join("1" * 60) + "\n",
                                       encoding="utf-8")
    text = data_preview(tmp_path)
    assert "broken.csv: not readable as a table" in text
    assert "… 20 more columns: c40, c41" in text
    assert "Other files: 1 (1 .txt)" in text


def test_a_preview_that_fits_is_not_cut(bundled_cache: Path) -> None:
    full = data_preview(bundled_cache / "penguins" / "public", max_chars=100_000)
    assert "truncated" not in full
    assert data_preview(bundled_cache / "penguins" / "public", max_chars=len(full)) == full
