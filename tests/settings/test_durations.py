"""One definition of a duration: a YAML value and an expression literal accept the same texts.

``aira_dsl.settings.fields.DURATION_PATTERN`` is the definition; ``parse_duration`` (specs,
profiles, tasks, sweeps), the schemas' ``pattern`` and the expression parser's duration literals
all follow it. Before, the settings parser accepted ``30m1h`` and ``1h 30m`` while expressions
refused them, and the task schema refused ``1h30m``, which the task loader accepted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from aira_dsl.expr import ExprSyntaxError
from aira_dsl.expr.ast import Duration
from aira_dsl.expr.parser import parse
from aira_dsl.settings.fields import DURATION_PATTERN, duration_seconds, parse_duration

REPO = Path(__file__).resolve().parents[2]

ACCEPTED = {
    "90s": 90, "30m": 1800, "4h": 14400, "1d": 86400, "1h30m": 5400, "1.5h": 5400, "0s": 0,
    "1d2h3m4s": 93784, "2h0.5m": 7230, "0.25s": 0.25, "12m30s": 750, " 1h ": 3600, "007s": 7,
}
REFUSED = [
    "", " ", "90", "1.5", "30m1h", "1h1h", "1s1m", "1h 30m", "90 s", "1H", "1hr", "1h30", ".5h", "1.h",
    "1e3s", "-1h", "+1h", "1h-", "h", "1w", "1 d", "1d2d", "1h30m30m", "s1", "1_000s", "１h",
]


def expression_seconds(text: str) -> int | float | None:
    """The seconds of ``text`` as an expression when it is one duration literal, else None."""
    try:
        expr = parse(text)
    except ExprSyntaxError:
        return None
    return expr.seconds if isinstance(expr, Duration) else None


@pytest.mark.parametrize(("text", "seconds"), sorted(ACCEPTED.items()))
def test_both_parsers_accept_the_same_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert expression_seconds(text) == seconds
    assert duration_seconds(text) == seconds
    assert re.search(DURATION_PATTERN, text)


@pytest.mark.parametrize("text", REFUSED)
def test_both_parsers_refuse_the_same_texts(text: str) -> None:
    assert parse_duration(text) is None
    assert expression_seconds(text) is None
    assert not re.search(DURATION_PATTERN, text)


def test_exact_seconds_stay_integers_in_expressions() -> None:
    assert isinstance(expression_seconds("1h30m"), int) and isinstance(expression_seconds("1.5h"), int)
    assert expression_seconds("0.25s") == 0.25
    assert isinstance(parse_duration("1h30m"), float)


def test_too_large_is_refused_by_both() -> None:
    huge = "9" * 400 + "d"
    assert parse_duration(huge) is None and expression_seconds(huge) is None
    with pytest.raises(ExprSyntaxError, match="too large"):
        parse(huge)


def _patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["pattern"]] if "pattern" in node and ")d)?" in str(node["pattern"]) else []
        return found + [p for value in node.values() for p in _patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in _patterns(value)]
    return []


@pytest.mark.parametrize("name", ["agent", "plan", "sweep", "sandbox-profile", "task"])
def test_every_duration_pattern_of_the_schemas_is_the_definition(name: str) -> None:
    for folder in (REPO / "schema", REPO / "aira_dsl" / "schemas"):
        schema = json.loads((folder / f"{name}.schema.json").read_text(encoding="utf-8"))
        text = json.dumps(schema)
        assert "(s|m|h|d)" not in text and "[smhd]" not in text, f"{folder.name}/{name}: an older duration pattern"
        assert set(_patterns(schema)) == {DURATION_PATTERN}
