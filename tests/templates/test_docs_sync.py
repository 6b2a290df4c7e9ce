"""docs/templates.md stays in step with the declarations and the filters."""

from __future__ import annotations

from aira_dsl.templates import FILTERS, declared_variables, kind_names
from aira_dsl.templates.docgen import BEGIN_MARKER, END_MARKER, update_markdown, variables_markdown

from .conftest import REPO

DOC = REPO / "docs" / "templates.md"


def test_generated_variables_section_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert update_markdown(text) == text, "run: python -m aira_dsl.templates.docgen docs/templates.md"


def test_generated_section_names_every_field() -> None:
    generated = variables_markdown()
    for kind in kind_names():
        for name in declared_variables(kind):
            assert f"| `{name}` |" in generated
    assert "| `task.execution_timeout` |" in generated
    assert "| `memory[].plan` |" in generated


def test_update_replaces_only_between_markers() -> None:
    stale = f"intro\n{BEGIN_MARKER}\nold table\n{END_MARKER}\noutro\n"
    fresh = update_markdown(stale)
    assert fresh.startswith(f"intro\n{BEGIN_MARKER}\n") and fresh.endswith(f"{END_MARKER}\noutro\n")
    assert "old table" not in fresh


def test_every_filter_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in FILTERS:
        assert f"| `{name}" in text
