"""Jinja syntax errors carry a column (issue 16: they had only a line), found as the checker
finds the columns of its other findings, and a hint for the usual slips."""

from __future__ import annotations

from pathlib import Path

import pytest

from aira_dsl.templates import check_template_source
from aira_dsl.templates.syntax import template_syntax_diagnostics


@pytest.mark.parametrize(("source", "line", "col", "hint_part"), [
    ("Hello {{ task.name }\n", 1, 20, "a single '}' closes nothing"),
    ("a {% if x %}\nunclosed\n", 2, 9, "close the {% if %} opened on line 1 with {% endif %}"),
    ("{% for a in b %}\n{% if a %}\n{% endfor %}\n", 3, 4, "close the {% if %} opened on line 2"),
    ("{{ a b }}", 1, 6, None),
    ("{{ a ! b }}", 1, 6, None),
    ("x {% fo x %}", 1, 6, "tags are"),
    ("{{ a | }}", 1, 8, None),
    ("{{ (a }}", 1, 7, "close every ( with )"),
    ("{{ a) }}", 1, 5, None),
    ("ab {# unclosed", 1, 4, "close the comment with #}"),
    ("one\r\ntwo {{ x }} {{ y y }}", 2, 18, None),
])
def test_syntax_error_is_positioned(source: str, line: int, col: int, hint_part: str | None) -> None:
    (found,) = template_syntax_diagnostics(source, "t.j2")
    assert (found.code, found.file, found.line, found.col) == ("template-syntax", "t.j2", line, col)
    if hint_part is not None:
        assert found.hint is not None and hint_part in found.hint


def test_valid_template_has_no_syntax_finding() -> None:
    assert template_syntax_diagnostics("{% for x in y %}{{ x }}{% endfor %}\n", "t.j2") == []


def test_inline_template_syntax_error_column_is_shifted_into_the_spec() -> None:
    """An inline prompt's error is reported at its column in the spec (block scalar indented 6)."""
    (found,) = check_template_source("Solve {{ task.name }.\n", "spec.yaml", "draft", search_paths=[Path(".")],
                                     line_offset=8, col_offset=6)
    assert (found.code, found.line, found.col) == ("template-syntax", 9, 26)
