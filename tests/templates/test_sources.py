"""collect_sources gathers exactly what rendering needs, under stable relative names."""

from __future__ import annotations

from pathlib import Path

import pytest

from aira_dsl.diagnostics import DiagnosticError
from aira_dsl.templates import (
    collect_inline_sources,
    collect_sources,
    load_sample_context,
    render_file,
    render_from_sources,
    render_source,
    template_name,
)

from .conftest import FIXTURES, PROMPTS


def test_keys_are_relative_and_entry_first() -> None:
    sources = collect_sources(FIXTURES / "ops" / "own_dir.j2", [FIXTURES])
    assert list(sources) == ["ops/own_dir.j2", "_leaf.j2", "_mid.j2", "ops/_shadow.j2"]
    assert sources["ops/_shadow.j2"] == (FIXTURES / "ops" / "_shadow.j2").read_text()


def test_own_folder_fragment_wins_in_both_renderers() -> None:
    context = load_sample_context("draft")
    context["task"]["metric"]["direktion"] = "x"  # the leaf fixture reads this misspelt key
    from_files = render_file(FIXTURES / "ops" / "own_dir.j2", context, [FIXTURES])
    assert from_files.startswith("ops version of Palmer penguins species\n")
    sources = collect_sources(FIXTURES / "ops" / "own_dir.j2", [FIXTURES])
    assert render_from_sources(sources, "ops/own_dir.j2", context) == from_files


def test_template_outside_the_roots_uses_its_folder_first(tmp_path: Path) -> None:
    (tmp_path / "_compute.j2").write_text("local compute for {{ hardware.cpus }} CPUs\n")
    (tmp_path / "mine.j2").write_text('{% include "_compute.j2" %}{% include "_data_rules.j2" %}')
    assert template_name(tmp_path / "mine.j2", [PROMPTS]) == ("mine.j2", [tmp_path, PROMPTS])
    sources = collect_sources(tmp_path / "mine.j2", [PROMPTS])
    assert list(sources) == ["mine.j2", "_compute.j2", "_data_rules.j2"]
    assert sources["_compute.j2"].startswith("local compute")
    context = load_sample_context("draft")
    text = render_file(tmp_path / "mine.j2", context, [PROMPTS])
    assert text.startswith("local compute for 16 CPUs\n")
    assert render_from_sources(sources, "mine.j2", context) == text


def test_list_includes_embed_every_existing_candidate(tmp_path: Path) -> None:
    (tmp_path / "b.j2").write_text("B")
    (tmp_path / "main.j2").write_text('{% include ["a.j2", "b.j2"] %}')
    sources = collect_sources(tmp_path / "main.j2", [tmp_path])
    assert sources == {"main.j2": '{% include ["a.j2", "b.j2"] %}', "b.j2": "B"}
    assert render_from_sources(sources, "main.j2", {}) == "B"


def test_include_cycles_terminate(tmp_path: Path) -> None:
    (tmp_path / "a.j2").write_text('{% if false %}{% include "b.j2" %}{% endif %}A')
    (tmp_path / "b.j2").write_text('{% include "a.j2" %}')
    assert set(collect_sources(tmp_path / "a.j2", [tmp_path])) == {"a.j2", "b.j2"}


@pytest.mark.parametrize(("text", "code"), [
    ('{% include "missing.j2" %}', "template-missing-include"),
    ("{% include task.name %}", "template-dynamic-include"),
    ("{% if %}", "template-syntax"),
])
def test_problems_raise_diagnostics(tmp_path: Path, text: str, code: str) -> None:
    (tmp_path / "t.j2").write_text(text)
    with pytest.raises(DiagnosticError) as caught:
        collect_sources(tmp_path / "t.j2", [tmp_path])
    assert caught.value.diagnostics[0].code == code
    assert caught.value.diagnostics[0].line == 1


def test_inline_sources_render_like_the_inline_template() -> None:
    text = '# {{ task.name }}\n{% include "_compute.j2" %}'
    sources = collect_inline_sources(text, "draft.inline.j2", [PROMPTS])
    assert list(sources) == ["draft.inline.j2", "_compute.j2"]
    context = load_sample_context("draft")
    assert render_from_sources(sources, "draft.inline.j2", context) == render_source(
        text, "spec.yaml", context, [PROMPTS])


def test_cached_environments_follow_the_source_text() -> None:
    assert render_from_sources({"a.j2": "X"}, "a.j2", {}) == "X"
    assert render_from_sources({"a.j2": "Y"}, "a.j2", {}) == "Y"
    sources = {"a.j2": '{% include "b.j2" %}', "b.j2": "1"}
    assert render_from_sources(sources, "a.j2", {}) == "1"
    sources["b.j2"] = "2"
    assert render_from_sources(sources, "a.j2", {}) == "2"
