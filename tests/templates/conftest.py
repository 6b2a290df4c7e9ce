"""Shared paths and helpers for the template tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

REPO = Path(__file__).resolve().parents[2]
PROMPTS = REPO / "prompts"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "prompts"

SHIPPED: dict[str, str] = {
    "aide/draft.j2": "draft",
    "aide/improve.j2": "improve",
    "aide/debug.j2": "debug",
    "aira/draft.j2": "draft",
    "aira/improve.j2": "improve",
    "aira/debug.j2": "debug",
    "aira/crossover.j2": "crossover",
    "common/analyze.j2": "analyze",
    "dojo/aide/draft.j2": "draft",
    "dojo/aide/improve.j2": "improve",
    "dojo/aide/debug.j2": "debug",
    "dojo/aira/draft.j2": "draft",
    "dojo/aira/improve.j2": "improve",
    "dojo/aira/debug.j2": "debug",
    "dojo/analyze.j2": "analyze",
}
"""Every shipped operator template and the operator kind it is written for."""


class TextSnapshot(SingleFileSnapshotExtension):
    """One plain-text file per snapshot, so a rendered prompt can be read and diffed as is."""

    _write_mode = WriteMode.TEXT
    file_extension = "txt"


@pytest.fixture
def text_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(TextSnapshot)
