"""docs/expressions.md embeds the generated reference; it must match the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from aira_dsl.expr import FIELDS, FUNCTIONS, describe_fields, describe_functions, evaluate, parse
from aira_dsl.expr.docgen import main, sync_docs

DOC = Path(__file__).resolve().parents[2] / "docs" / "expressions.md"


def test_doc_field_table_matches_describe_fields() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert describe_fields() in text
    assert describe_functions() in text
    assert sync_docs(text) == text, "run: python -m aira_dsl.expr.docgen docs/expressions.md"


def test_every_field_and_function_is_documented() -> None:
    text = describe_fields() + describe_functions()
    for name in FIELDS:
        assert f"`{name}`" in text
    for spec in FUNCTIONS.values():
        assert f"`{spec.signature}`" in text


def test_docgen_check_mode(tmp_path: Path) -> None:
    stale = tmp_path / "doc.md"
    stale.write_text("x\n<!-- BEGIN GENERATED: fields -->\nold\n<!-- END GENERATED: fields -->\n"
                     "<!-- BEGIN GENERATED: functions -->\n<!-- END GENERATED: functions -->\n")
    assert main(["--check", str(stale)]) == 1
    assert main([str(stale)]) == 0
    assert main(["--check", str(stale)]) == 0
    assert describe_fields() in stale.read_text()


def test_docgen_needs_the_markers(tmp_path: Path) -> None:
    bare = tmp_path / "doc.md"
    bare.write_text("no markers\n")
    with pytest.raises(ValueError, match="missing"):
        main([str(bare)])


def test_examples_in_the_doc_evaluate_as_documented() -> None:
    # Rows of the form "| `EXPR` → `RESULT` | why |" in the semantics tables are run here,
    # with m = null, x = 2, t = true, f = false, n = null.
    text = DOC.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines()
            if line.startswith("| `") and "` → `" in line and line.count("`") == 4]
    assert len(rows) >= 15
    names = {"m": None, "x": 2, "t": True, "f": False, "n": None}
    for row in rows:
        cell = row.split("|")[1]
        source, result = (part.strip().strip("`") for part in cell.split("→"))
        got = evaluate(parse(source), names)
        if result in ("null", "true", "false"):
            assert got is {"null": None, "true": True, "false": False}[result], row
        else:
            assert got == float(result), row
