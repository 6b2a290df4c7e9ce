"""The positioned YAML loader: positions, duplicate keys, YAML 1.1 keys, env, bombs, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from aira_dsl.diagnostics import Severity
from aira_dsl.spec.yamlpos import load_yaml_file, load_yaml_text


def test_positions_of_keys_and_values() -> None:
    doc = load_yaml_text("a: 1\nb:\n  c: [x, y]\n  d: {e: hello}\n", "f.yaml")
    assert doc.data == {"a": 1, "b": {"c": ["x", "y"], "d": {"e": "hello"}}}
    span = doc.span(("b", "d", "e"))
    assert (span.file, span.line, span.col) == ("f.yaml", 4, 10)
    key = doc.key_span(("b", "d"))
    assert (key.line, key.col) == (4, 3)
    item = doc.span(("b", "c", 1))
    assert (item.line, item.col) == (3, 10)


def test_span_falls_back_to_nearest_ancestor() -> None:
    doc = load_yaml_text("a:\n  b: 1\n")
    assert doc.span(("a", "missing", "deeper")) == doc.span(("a",))


def test_duplicate_keys_are_errors_with_first_line() -> None:
    doc = load_yaml_text("a: 1\nb: 2\na: 3\n", "f.yaml")
    (diag,) = doc.diagnostics
    assert diag.code == "duplicate-key"
    assert (diag.line, diag.col) == (3, 1)
    assert "line 1" in diag.message
    assert doc.data == {"a": 1, "b": 2}


def test_yaml11_words_as_keys_stay_text() -> None:
    doc = load_yaml_text("on: 1\nno: 2\nyes: 3\n")
    assert doc.data == {"on": 1, "no": 2, "yes": 3}


def test_yaml11_words_as_values_are_booleans_with_raw_text_kept() -> None:
    doc = load_yaml_text("a: no\nb: 'no'\n")
    assert doc.data == {"a": False, "b": "no"}
    assert doc.scalars[("a",)].raw == "no"
    assert doc.scalars[("b",)].style == "'"


def test_dates_stay_text() -> None:
    assert load_yaml_text("d: 2024-01-02\n").data == {"d": "2024-01-02"}


def test_env_interpolation_with_default_and_typing() -> None:
    env = {"URL": "http://h:1/v1", "TEMP": "0.25"}.get
    doc = load_yaml_text("u: ${env:URL}\nt: ${env:TEMP}\nd: ${env:MISSING:fallback}\n"
                         "m: pre-${env:URL}-post\n", env=env)
    assert doc.data == {"u": "http://h:1/v1", "t": 0.25, "d": "fallback", "m": "pre-http://h:1/v1-post"}
    assert doc.diagnostics == []


def test_unset_env_is_warning_in_validate_and_error_at_run_time() -> None:
    text = "u: ${env:AIRA_UNSET_X}\n"
    warn = load_yaml_text(text, env={}.get, env_mode="warn")
    assert [d.severity for d in warn.diagnostics] == [Severity.WARNING]
    assert warn.data == {"u": "${env:AIRA_UNSET_X}"}
    err = load_yaml_text(text, env={}.get, env_mode="error")
    assert [d.severity for d in err.diagnostics] == [Severity.ERROR]
    assert "AIRA_UNSET_X" in err.diagnostics[0].message
    off = load_yaml_text(text, env={}.get, env_mode="off")
    assert off.diagnostics == []


def test_syntax_error_is_positioned() -> None:
    doc = load_yaml_text("a:\n  b: 1\n c: 2\n", "f.yaml")
    (diag,) = doc.diagnostics
    assert diag.code == "yaml-syntax" and diag.line == 3
    assert doc.data is None


def test_tabs_get_a_hint() -> None:
    doc = load_yaml_text("a:\n\tb: 1\n")
    assert doc.diagnostics[0].hint and "tabs" in doc.diagnostics[0].hint


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    doc = load_yaml_text("\n".join(lines) + "\n")
    assert doc.data is None
    assert doc.diagnostics[0].code == "yaml-limits"


def test_merge_keys_are_supported() -> None:
    doc = load_yaml_text("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n")
    assert doc.data["c"] == {"x": 1, "y": 3}


def test_offset_position_in_plain_and_quoted_scalars() -> None:
    doc = load_yaml_text("a: x + yy\nb: 'it''s + z'\nc: \"q + w\"\n", "f.yaml")
    assert doc.offset_position(("a",), 4) == ("f.yaml", 1, 8)
    assert doc.offset_position(("b",), 7) == ("f.yaml", 2, 13)  # after one '' escape
    assert doc.offset_position(("c",), 4) == ("f.yaml", 3, 9)


def test_offset_position_in_literal_block() -> None:
    doc = load_yaml_text("e: |\n  first line\n  second zz\n", "f.yaml")
    offset = doc.data["e"].index("zz")
    assert doc.offset_position(("e",), offset) == ("f.yaml", 3, 10)


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"", "empty-file"), (b"# only a comment\n", "empty-file"), (b"\x00\x01\x02binary", "binary-file"),
     (b"a: \xff\xfe\n", "not-utf8")],
)
def test_bad_files_are_diagnostics(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(content)
    doc = load_yaml_file(path)
    assert [d.code for d in doc.diagnostics] == [code]


def test_huge_file_is_refused_without_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: " + b"x" * (5 * 1024 * 1024) + b"\n")
    doc = load_yaml_file(path)
    assert [d.code for d in doc.diagnostics] == ["file-too-large"]


def test_unreadable_and_directory(tmp_path: Path) -> None:
    assert load_yaml_file(tmp_path).diagnostics[0].code == "unreadable-file"
    assert load_yaml_file(tmp_path / "nope.yaml").diagnostics[0].code == "unreadable-file"


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes("\ufeffa: 1\n".encode())
    assert load_yaml_file(path).data == {"a": 1}
