"""The key references of docs/sandbox.md, docs/tasks.md and docs/sweeps.md are generated from the
declarations (through the schemas) and current."""

from __future__ import annotations

from pathlib import Path

import pytest

from aira_dsl.schemagen.reference import DOCS, DocReference, reference_markdown, update_markdown

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("ref", DOCS, ids=lambda ref: ref.doc)
def test_generated_reference_is_current(ref: DocReference) -> None:
    text = (REPO / ref.doc).read_text(encoding="utf-8")
    assert update_markdown(text, ref) == text, "run: python -m aira_dsl.schemagen.reference"


@pytest.mark.parametrize(("ref", "expected"), [
    (DOCS[0], ["| `output_bytes` | size | `\"1m\"` |", "| `kill_grace` | duration (≥ 0) | `5.0` |",
               "### `caches[]`", "| `uid` | integer (≥ 1000, ≤ 4294900000) | `61000` |"]),
    (DOCS[1], ["| `sample` | text | `\"sample_submission.csv\"` |", "#### `metric`", "#### `reference_solutions[]`",
               "| `fraction` (required) | number (> 0, < 1) |  |"]),
    (DOCS[2], ["| `seeds` | integer (≥ 1, ≤ 10000) or list of integer (≥ 0) | `1` |", "#### `run.budget`",
               "| `time` | duration (≥ 0) | `3600.0` |", "#### `specs[]`"]),
], ids=lambda value: value.doc if isinstance(value, DocReference) else "")
def test_reference_shows_every_section_type_range_and_default(ref: DocReference, expected: list[str]) -> None:
    text = reference_markdown(ref)
    for line in expected:
        assert line in text


def test_a_doc_without_markers_is_an_error() -> None:
    with pytest.raises(ValueError, match="lacks the markers"):
        update_markdown("# no markers\n", DOCS[0])
