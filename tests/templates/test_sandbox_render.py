"""Rendering is sandboxed and strict, and every failure is a diagnostic at the template's line."""

from __future__ import annotations

from pathlib import Path

import pytest

from aira_dsl.diagnostics import DiagnosticError
from aira_dsl.templates import load_sample_context, render_file, render_from_sources, render_source

from .conftest import FIXTURES


def render_error(source: str) -> DiagnosticError:
    with pytest.raises(DiagnosticError) as caught:
        render_source(source, "inline.j2", load_sample_context("draft"), [])
    return caught.value


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ task.description.__class__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ (1).__class__.__base__ }}",
])
def test_python_internals_are_refused_at_render_time(source: str) -> None:
    (diag,) = render_error(source).diagnostics
    assert diag.code == "template-security"
    assert diag.file == "inline.j2" and diag.line == 1
    assert "unsafe" in diag.message


def test_context_cannot_be_mutated() -> None:
    (diag,) = render_error("{{ memory.append(1) }}").diagnostics
    assert diag.code == "template-security"


def test_huge_repetition_and_ranges_are_refused() -> None:
    # all three are template limits now (docs/templates.md#limits), with their own code
    assert render_error("{{ 'a' * 10000000 }}").diagnostics[0].code == "template-limit"
    assert render_error("{{ 2 ** 100000 }}").diagnostics[0].code == "template-limit"
    assert render_error("{{ range(10000000)|list|length }}").diagnostics[0].code == "template-limit"


def test_undefined_names_fail_with_their_line() -> None:
    (diag,) = render_error("line one\n\n{{ nothing_here }}").diagnostics
    assert (diag.code, diag.line) == ("template-undefined", 3)
    assert "nothing_here" in diag.message


def test_filter_errors_become_diagnostics() -> None:
    (diag,) = render_error("{{ 'text'|humanize }}").diagnostics
    assert diag.code == "template-render" and "humanize" in diag.message


def test_inline_line_offset_shifts_render_errors() -> None:
    with pytest.raises(DiagnosticError) as caught:
        render_source("ok\n{{ missing }}", "spec.yaml", {}, [], line_offset=20)
    assert caught.value.diagnostics[0].line == 22


def test_error_in_fragment_points_at_the_fragment(tmp_path: Path) -> None:
    (tmp_path / "_frag.j2").write_text("fine\n{{ task.nope }}\n")
    (tmp_path / "main.j2").write_text("head\n{% include '_frag.j2' %}\n")
    with pytest.raises(DiagnosticError) as caught:
        render_file(tmp_path / "main.j2", load_sample_context("draft"), [tmp_path])
    (diag,) = caught.value.diagnostics
    assert (diag.file, diag.line) == (str(tmp_path / "_frag.j2"), 2)
    with pytest.raises(DiagnosticError) as caught:
        render_from_sources({"main.j2": "x\n{% include '_frag.j2' %}", "_frag.j2": "{{ boom }}"}, "main.j2", {})
    assert (caught.value.diagnostics[0].file, caught.value.diagnostics[0].line) == ("_frag.j2", 1)


def test_syntax_error_at_render_time() -> None:
    with pytest.raises(DiagnosticError) as caught:
        render_file(FIXTURES / "ops" / "syntax_error.j2", {}, [FIXTURES])
    (diag,) = caught.value.diagnostics
    assert (diag.code, diag.file, diag.line) == ("template-syntax", str(FIXTURES / "ops" / "syntax_error.j2"), 4)


def test_missing_entry_is_a_diagnostic(tmp_path: Path) -> None:
    with pytest.raises(DiagnosticError):
        render_file(tmp_path / "nope.j2", {}, [])
    with pytest.raises(DiagnosticError) as caught:
        render_from_sources({"a.j2": "x"}, "b.j2", {})
    assert "a.j2" in (caught.value.diagnostics[0].hint or "")


def test_rendering_keeps_the_trailing_newline_and_strips_tag_lines() -> None:
    out = render_source("{% if true %}\nyes\n{% endif %}\n", "t.j2", {}, [])
    assert out == "yes\n"
