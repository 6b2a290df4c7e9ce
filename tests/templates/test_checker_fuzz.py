"""The checker never crashes, whatever text it is given: Jinja-like junk, include paths that
leave the project (absolute, ``..``, links), and numbers past every limit."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aira_dsl.templates import check_template_source

from .conftest import FIXTURES

JINJA_BITS = st.sampled_from([
    "{{", "}}", "{%", "%}", "{#", "#}", " ", "\n", "task", ".", "memory", "for", "in", "endfor", "if",
    "endif", "set", "=", "macro", "endmacro", "(", ")", "|", "upper", "include", "import", "from", "as",
    '"_leaf.j2"', "'x'", "loop", "[", "]", "0", ",", "is", "defined", "not", "with", "endwith", "call",
    "endcall", "filter", "endfilter", "block", "endblock", "extends", "raw", "endraw", "-", "~", "*",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(JINJA_BITS, max_size=40).map("".join))
def test_jinja_like_text_never_raises(source: str) -> None:
    diags = check_template_source(source, "fuzz.j2", "debug", search_paths=[FIXTURES])
    assert all(d.code.startswith("template-") for d in diags)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(source: str) -> None:
    diags = check_template_source(source, "fuzz.j2", "draft", search_paths=[])
    assert all(d.file == "fuzz.j2" for d in diags)


# ----------------------------------------------------------------------------------------------
# Bad input: include paths (absolute, `..`, links out of the project), huge numbers.

SECRET = "TEMPLATE-FUZZ-SECRET-5eed"
PATH_AND_NUMBER_BITS = st.sampled_from([
    '"/etc/passwd"', '"../../../../etc/passwd"', '"link.j2"', '"outside/secret.j2"', '"_leaf.j2"',
    '"aira-dsl:prompts/_memory.j2"', '"~/.ssh/id_rsa"', '"./link.j2"', '"link.j2/.."', "9" * 5000,
    "1e400", "10 ** 400", "(2 ** 64) ** 64", "range(" + "9" * 30 + ")", "-" + "9" * 4400, "0x" + "f" * 5000,
])


def _bad_project(base: Path) -> Path:
    """``base/project`` (a project) whose prompts folder links to a secret outside it."""
    project = base / "project"
    prompts = project / "prompts"
    prompts.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").touch()
    (prompts / "_leaf.j2").write_text("leaf\n")
    (base / "secret.j2").write_text("{{ " + SECRET + " }\n")  # a syntax error a check would quote
    for name, target in (("link.j2", base / "secret.j2"), ("outside", base)):
        if not (prompts / name).is_symlink():
            (prompts / name).symlink_to(target)
    return project


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(JINJA_BITS, PATH_AND_NUMBER_BITS), max_size=30).map("".join))
def test_paths_and_huge_numbers_never_raise(source: str) -> None:
    diags = check_template_source(source, "fuzz.j2", "draft", search_paths=[FIXTURES])
    assert all(d.code.startswith("template-") for d in diags)
    assert all(len(d.message) < 2000 for d in diags)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(source=st.lists(st.one_of(JINJA_BITS, PATH_AND_NUMBER_BITS,
                                 st.sampled_from(['{% include "link.j2" %}', '{% include "outside/secret.j2" %}',
                                                  '{% import "link.j2" as x %}', '{% extends "link.j2" %}'])),
                       min_size=1, max_size=12).map("".join))
@example(source='{% include "link.j2" %}')
@example(source='{% include "outside/secret.j2" %} {{ ' + "9" * 5000 + " }}")
def test_a_spec_never_shows_a_template_outside_the_roots(source: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Through the compiler: includes that leave the project (through links) are errors at the
    prompt, and no finding points into (and so no snippet quotes) a file outside the roots."""
    import os

    import yaml

    from aira_dsl.compiler import check_spec
    from aira_dsl.diagnostics import render_text
    from aira_dsl.roots import allowed_roots, is_inside

    project = _bad_project(tmp_path_factory.mktemp("tfuzz"))
    spec = project / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "version": 1, "name": "fuzz", "models": {"m": {"model": "x"}},
        "operators": {"draft": {"kind": "draft", "model": "m", "prompt": {"user": source or "x"}},
                      "improve": {"kind": "improve", "model": "m", "prompt": {"user": "x"}},
                      "debug": {"kind": "debug", "model": "m", "prompt": {"user": "x"}},
                      "analyze": {"kind": "analyze", "model": "m", "prompt": {"user": "x"}}},
        "policy": {"kind": "greedy"}}))
    diagnostics = list(check_spec(spec).diagnostics)
    roots = allowed_roots(spec)
    for diag in diagnostics:
        if diag.file and os.path.isfile(diag.file):
            assert is_inside(diag.file, roots), diag
    assert SECRET not in render_text(diagnostics)
    if not any(d.code.startswith("template-") for d in diagnostics) and "link.j2" in source \
            and "{% include" in source and source.count("{%") == 1:  # a clean include of the link
        assert any(d.code == "outside-allowed-roots" for d in diagnostics)
