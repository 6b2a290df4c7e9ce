"""The static checker reports each kind of template mistake at the right file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from aira_dsl.diagnostics import Diagnostic
from aira_dsl.templates import check_template, check_template_source

from .conftest import FIXTURES

OPS = FIXTURES / "ops"


def check(name: str, kind: str = "improve", var_names: tuple[str, ...] = ()) -> list[Diagnostic]:
    return check_template(OPS / name, kind, search_paths=[FIXTURES], var_names=var_names)


def only(diags: list[Diagnostic], code: str) -> list[Diagnostic]:
    return [d for d in diags if d.code == code]


def test_clean_fixture_has_no_findings() -> None:
    assert check("clean.j2", var_names=("learning_rate",)) == []


def test_unknown_variable_with_suggestion_and_other_kind_hint() -> None:
    diags = check("unknown_var.j2", kind="draft")
    assert [(d.code, d.line, d.col) for d in diags] == [
        ("template-unknown-variable", 3, 4),
        ("template-unknown-variable", 3, 24),
    ]
    typo, wrong_kind = diags
    assert typo.file == str(OPS / "unknown_var.j2")
    assert "'taks'" in typo.message and "did you mean 'task'" in (typo.hint or "")
    assert wrong_kind.hint == "'parent' is provided to improve, debug templates, not draft"


def test_parent_is_known_to_improve_templates() -> None:
    diags = check("unknown_var.j2", kind="improve")
    assert [d.message for d in diags] == ["unknown variable 'taks' in an improve template"]


def test_misspelt_attribute_suggests_the_field() -> None:
    (diag,) = check("misspelt_attr.j2")
    assert (diag.code, diag.line, diag.col) == ("template-unknown-attribute", 3, 9)
    assert diag.message == "task has no attribute 'descripton'"
    assert diag.hint is not None and diag.hint.startswith("did you mean 'description'?")


def test_loop_variable_is_typed_and_loop_ends_with_the_block() -> None:
    attr, loop_outside = check("loop_attr.j2")
    assert (attr.code, attr.line, attr.col) == ("template-unknown-attribute", 2, 39)
    assert "memory entry fields: plan, summary, metric, buggy" in (attr.hint or "")
    assert (loop_outside.code, loop_outside.line, loop_outside.message) == (
        "template-unknown-variable", 4, "unknown variable 'loop' in an improve template")


def test_error_inside_included_fragment_is_reported_at_the_fragment() -> None:
    (diag,) = check("include_chain.j2")
    assert diag.code == "template-unknown-attribute"
    assert (diag.file, diag.line, diag.col) == (str(FIXTURES / "_leaf.j2"), 3, 22)
    assert f"included from {FIXTURES / '_mid.j2'}:2" in diag.message
    assert f"included from {OPS / 'include_chain.j2'}:2" in diag.message
    assert "did you mean 'direction'?" in (diag.hint or "")


def test_missing_include_is_reported_at_the_include_line() -> None:
    (diag,) = check("missing_include.j2")
    assert (diag.code, diag.file, diag.line, diag.col) == (
        "template-missing-include", str(OPS / "missing_include.j2"), 3, 12)
    assert str(FIXTURES / "_nowhere.j2") in (diag.hint or "")


def test_syntax_error_has_the_template_line() -> None:
    (diag,) = check("syntax_error.j2")
    assert (diag.code, diag.file, diag.line) == ("template-syntax", str(OPS / "syntax_error.j2"), 4)
    assert "endif" in diag.message


def test_unknown_filter_and_test() -> None:
    bad_filter, bad_test = check("unknown_filter.j2")
    assert (bad_filter.code, bad_filter.line, bad_filter.col, bad_filter.message) == (
        "template-unknown-filter", 2, 21, "unknown filter 'shout'")
    assert (bad_test.code, bad_test.line, bad_test.col, bad_test.message) == (
        "template-unknown-test", 2, 46, "unknown test 'shiny'")


def test_set_and_macro_scoping() -> None:
    diags = check("scoping.j2")
    assert [(d.code, d.line, d.col, d.message) for d in diags] == [
        ("template-unknown-variable", 6, 4, "unknown variable 'last_plan' in an improve template"),
        ("template-unknown-variable", 8, 26, "unknown variable 'entry' in an improve template"),
    ]


def test_imports_are_checked_against_their_exports_and_have_no_context() -> None:
    diags = check("imports.j2")
    assert [(d.code, d.file, d.line) for d in diags] == [
        ("template-unknown-import", str(OPS / "imports.j2"), 1),
        ("template-unknown-attribute", str(OPS / "imports.j2"), 3),
        ("template-unknown-variable", str(FIXTURES / "_ctx_macros.j2"), 2),
    ]
    assert "did you mean 'entry'?" in (diags[1].hint or "")
    assert "with context" in (diags[2].hint or "")
    assert "imported from" in diags[2].message


def test_fragment_in_own_folder_wins_and_is_checked() -> None:
    diags = check("own_dir.j2")
    assert {d.file for d in diags} == {str(FIXTURES / "_leaf.j2")}


def test_vars_keys_come_from_the_spec() -> None:
    source = "{{ vars.learning_rate }} {{ vars.lerning_rate }} {{ vars.items() }}"
    diags = check_template_source(source, "spec.yaml", "draft", search_paths=[], var_names=["learning_rate"])
    assert [(d.code, d.col) for d in diags] == [("template-unknown-attribute", 34)]
    assert "did you mean 'learning_rate'?" in (diags[0].hint or "")


def test_defined_guards_allow_optional_names() -> None:
    source = "{% if vars.seed is defined %}{{ vars.seed }}{% endif %}{{ extra|default('') }}"
    assert check_template_source(source, "x.j2", "draft", search_paths=[]) == []
    assert [d.code for d in check_template_source("{{ vars.seed }}", "x.j2", "draft", search_paths=[])] == [
        "template-unknown-attribute"]


@pytest.mark.parametrize(("source", "message"), [
    ("{{ memory.plan }}", "memory is a list of memory entry and has no attribute 'plan'"),
    ("{{ hardware.gpus[0].nam }}", "hardware.gpus[0] has no attribute 'nam'"),
    ("{{ memory|map(attribute='plna')|join }}", "each memory entry has no attribute 'plna'"),
    ("{{ memory|selectattr('bugy')|list }}", "each memory entry has no attribute 'bugy'"),
    ("{{ (memory|last).summry }}", "memory|last has no attribute 'summry'"),
    ("{{ task.name.nope() }}", "task.name is a string and has no attribute 'nope'"),
    ("{{ task['nam'] }}", "task has no attribute 'nam'"),
])
def test_attribute_checks_follow_types(source: str, message: str) -> None:
    diags = check_template_source(source, "x.j2", "draft", search_paths=[])
    assert [d.message for d in diags] == [message]


def test_private_attributes_are_refused_statically() -> None:
    (diag,) = check_template_source("{{ ''.__class__ }}", "x.j2", "draft", search_paths=[])
    assert diag.code == "template-unsafe-attribute"


def test_repeated_names_get_distinct_columns() -> None:
    diags = check_template_source("{{ nope }} and {{ nope }}", "x.j2", "draft", search_paths=[])
    assert [d.col for d in diags] == [4, 19]


def test_inline_source_positions_are_shifted() -> None:
    source = "first line\n{{ task.nmae }}\n"
    (diag,) = check_template_source(source, "specs/agent.yaml", "draft", search_paths=[], line_offset=10,
                                    col_offset=4)
    assert (diag.file, diag.line, diag.col) == ("specs/agent.yaml", 12, 13)


def test_inline_source_includes_resolve_against_search_paths() -> None:
    diags = check_template_source('{% include "_leaf.j2" %}', "spec.yaml", "draft", search_paths=[FIXTURES])
    assert [(d.file, d.line) for d in diags] == [(str(FIXTURES / "_leaf.j2"), 3)]
    assert "included from spec.yaml:1" in diags[0].message


def test_dynamic_include_names_are_refused() -> None:
    (diag,) = check_template_source("{% include task.name %}", "x.j2", "draft", search_paths=[])
    assert diag.code == "template-dynamic-include"


def test_ignore_missing_include_is_allowed() -> None:
    assert check_template_source('{% include "_gone.j2" ignore missing %}', "x.j2", "draft",
                                 search_paths=[FIXTURES]) == []


def test_unknown_kind_and_unreadable_file_are_diagnostics(tmp_path: Path) -> None:
    assert [d.code for d in check_template(OPS / "clean.j2", "mutate", search_paths=[])] == [
        "template-unknown-kind"]
    assert [d.code for d in check_template(tmp_path / "absent.j2", "draft", search_paths=[])] == [
        "template-unreadable"]
