"""Sizes (``512m``, ``2g``, ``1.5GiB``): one pattern for the schemas and the parser, and a default
shown as text that reads back to the same bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from aira_dsl.settings.fields import SIZE_PATTERN, SettingError, Size, build, format_size, parse_size, setting
from aira_dsl.settings.schema import SIZE_NOTE, SchemaBuilder


@pytest.mark.parametrize("text", ["1", "64k", "512m", "2g", "1t", "1.5GiB", "2 GB", "8G", "3Mi", "10b", " 4g "])
def test_text_the_schema_accepts_is_text_the_parser_reads(text: str) -> None:
    assert re.match(SIZE_PATTERN, text) and parse_size(text) is not None


@pytest.mark.parametrize("text", ["", "g", "-1", "1x", "5ib", "1.g", "1e3", "4h", "٣g"])
def test_text_the_schema_refuses_the_parser_refuses(text: str) -> None:
    assert not re.match(SIZE_PATTERN, text) and parse_size(text) is None


@pytest.mark.parametrize("value", [1, 1000, 1 << 10, 3 << 20, 1 << 30, 5 << 40, (1 << 20) + 1])
def test_format_size_reads_back(value: int) -> None:
    assert parse_size(format_size(value)) == value


def test_format_size_takes_the_largest_exact_unit() -> None:
    assert (format_size(1 << 30), format_size(1536 << 20), format_size(1000)) == ("1g", "1536m", 1000)


@dataclass(frozen=True)
class _Box:
    limit: Size | None = setting(None, doc="A limit.")
    buffer: Size = setting(1 << 20, ge=64, doc="A buffer.")


def test_size_fields_build_schema_and_default() -> None:
    node = SchemaBuilder().object(_Box)["properties"]
    assert node["buffer"] == {"type": ["string", "integer"], "pattern": SIZE_PATTERN, "minimum": 64,
                              "default": "1m", "description": f"A buffer. {SIZE_NOTE}"}
    assert node["limit"]["type"] == ["string", "integer", "null"] and node["limit"]["default"] is None
    assert build(_Box, {"limit": "2g", "buffer": 128}) == _Box(limit=2 << 30, buffer=128)
    with pytest.raises(SettingError, match="not a size"):
        build(_Box, {"limit": "lots"})
    with pytest.raises(SettingError, match="≥ 64"):
        build(_Box, {"buffer": "8b"})
