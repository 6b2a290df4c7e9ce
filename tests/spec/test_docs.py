"""docs/spec-language.md: its complete examples validate, and its field reference is current."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from aira_dsl.compiler import check_spec
from aira_dsl.spec.docgen import update_markdown

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "spec-language.md"
EXAMPLES = [block for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
            if block.lstrip().startswith(("version:", "# yaml-language-server"))]


def test_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_example_validates(index: int, tmp_path: Path) -> None:
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    shutil.copytree(REPO / "prompts", tmp_path / "prompts")
    (tmp_path / "pyproject.toml").touch()  # a project: specs/ may name ../prompts/ (aira_dsl.roots)
    path = tmp_path / "specs" / f"doc-example-{index}.yaml"
    path.write_text(EXAMPLES[index])
    errors = [d for d in check_spec(path).diagnostics if d.is_error]
    assert errors == []


def test_generated_reference_is_current() -> None:
    text = DOC.read_text()
    assert update_markdown(text) == text, "run: python -m aira_dsl.spec.docgen docs/spec-language.md"


def test_packaged_schema_matches_repository_copy() -> None:
    packaged = (REPO / "aira_dsl" / "schemas" / "agent.schema.json").read_bytes()
    assert (REPO / "schema" / "agent.schema.json").read_bytes() == packaged
