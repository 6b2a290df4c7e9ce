"""Reading what the cursor is on from half-typed text: YAML structure, template expressions, schemas."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tests_support import import_or_skip  # type: ignore[import-not-found]

from aira_dsl.lsp.jinjacursor import chain_at, include_at, resolve, template_cursor, variables_for
from aira_dsl.lsp.schemadoc import describe, lookup, schema_for_kind
from aira_dsl.lsp.yamlcursor import cursor_at

SPEC = """\
version: 1
operators:
  draft:
    kind: draft
    model: co
    prompt:
      system: |
        Task: {{ task.na }}
          Looks: like a key
        end
    complexity:
      - below: 2
        cue: min
      - cue: adv
policy:
  kind: greedy
  use: {draft: dra, improve: x}
  num
fitness:
  buggy: "exec.exit_code != 0"
"""


def at(needle: str, offset: int | None = None) -> tuple[int, int]:
    for number, line in enumerate(SPEC.split("\n")):
        if needle in line:
            return number, line.index(needle) + (len(needle) if offset is None else offset)
    raise AssertionError(needle)


@pytest.mark.parametrize(("needle", "path", "on_key", "prefix"), [
    ("model: co", ("operators", "draft", "model"), False, "co"),
    ("    ki", ("operators", "draft", "kind"), True, "ki"),
    ("cue: min", ("operators", "draft", "complexity", 0, "cue"), False, "min"),
    ("cue: adv", ("operators", "draft", "complexity", 1, "cue"), False, "adv"),
    ("- bel", ("operators", "draft", "complexity", 0, "below"), True, "bel"),
    ("{draft: dra", ("policy", "use", "draft"), False, "dra"),
    ("improve: ", ("policy", "use", "improve"), False, ""),
    ("  num", ("policy", "num"), True, "num"),
    ('"exec.', ("fitness", "buggy"), False, "exec."),
])
def test_yaml_cursor_reads_paths_from_indentation(needle: str, path: tuple, on_key: bool, prefix: str) -> None:
    cursor = cursor_at(SPEC, *at(needle))
    assert (cursor.path, cursor.on_key, cursor.prefix) == (path, on_key, prefix)
    assert not cursor.in_block


@pytest.mark.parametrize("needle", ["task.na", "Looks: like", "end"])
def test_block_scalar_text_is_template_text_however_key_like(needle: str) -> None:
    cursor = cursor_at(SPEC, *at(needle))
    assert cursor.in_block and cursor.path == ("operators", "draft", "prompt", "system")


def test_yaml_cursor_knows_the_keys_already_written() -> None:
    assert cursor_at(SPEC, *at("  num")).siblings == {"kind", "use"}
    assert cursor_at(SPEC, *at("cue: min")).siblings == {"below"}
    assert cursor_at("", 0, 0).path == ("",)


def test_template_cursor_and_declared_types() -> None:
    cursor = template_cursor("{% for m in memory %}{{ task.metric.na")
    assert cursor is not None and (cursor.chain, cursor.prefix) == (("task", "metric"), "na")
    assert template_cursor("plain text {{ x }} more") is None
    filtered = template_cursor("{{ parent.output | head")
    assert filtered is not None and filtered.filter and filtered.prefix == "head"
    variables = variables_for(["improve"])
    field = resolve(("task", "metric", "direction"), variables)
    assert field is not None and "maximize" in field.doc
    looped = resolve(("m", "metric"), variables, {"m": ("memory",)})
    assert looped is not None and looped.nullable
    assert resolve(("parent",), variables_for(["draft"])) is None  # draft templates get no parent
    assert chain_at("{{ task.metric.name }}", 10) == ("task", "metric")
    assert include_at('{% include "_rules.j2" %}', 14) == "_rules.j2"


def test_schema_lookup_follows_the_policy_kind() -> None:
    schema = schema_for_kind("spec")
    assert schema is not None
    greedy = lookup(schema, ("policy",), {"policy": {"kind": "greedy"}}).keys()
    assert "num_drafts" in greedy and "num_islands" not in greedy
    info = lookup(schema, ("policy", "num_drafts"), {"policy": {"kind": "greedy"}})
    assert info.description and "root drafts" in info.description
    assert describe(info) == "integer, ≥ 1, default `5`"
    assert lookup(schema, ("operators", "x", "memory", "scope")).values() == ["none", "global", "siblings",
                                                                               "ancestors"]


def test_lsp_without_pygls_says_how_to_install_it() -> None:
    code = ("import sys; sys.modules['pygls'] = None\n"
            "from aira_dsl.cli import main\n"
            "main(['lsp'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "pip install 'aira-dsl[lsp]'" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) <= 20  # one screen


def test_positions_are_converted_to_utf16_units() -> None:
    """aira-dsl counts characters; LSP clients count UTF-16 code units by default."""
    import_or_skip("pygls", "pygls", "the language server needs pygls: pip install 'aira-dsl[lsp]'")
    from pygls.workspace.position_codec import PositionCodec

    from aira_dsl.diagnostics import Diagnostic
    from aira_dsl.lsp.convert import TextLines

    lines = TextLines("a: 1\nwhy 🙂 {{ tsk }}\n", PositionCodec())
    where = lines.span_of(Diagnostic("template-unknown-variable", "unknown", line=2, col=10))
    assert (where.start.line, where.start.character, where.end.character) == (1, 10, 13)
    assert lines.server_position(where.start) == (1, 9)
