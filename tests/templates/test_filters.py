"""The prompt filters: durations in words, safe fences, head-and-tail cuts, bullet lists."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aira_dsl.templates import bullets, fence, head_tail, humanize, inline_code, render_source


@pytest.mark.parametrize(("seconds", "words"), [
    (14400, "4 hours"), (5400, "1 hour 30 minutes"), (3661, "1 hour 1 minute"), (86400, "1 day"),
    (90061, "1 day 1 hour"), (59.9, "59 seconds"), (1, "1 second"), (0, "0 seconds"), (-5, "0 seconds"),
    (None, "no limit"), (math.inf, "no limit"), (120, "2 minutes"),
])
def test_humanize(seconds: float | None, words: str) -> None:
    assert humanize(seconds) == words


def test_humanize_parts_and_bad_input() -> None:
    assert humanize(90061, parts=3) == "1 day 1 hour 1 minute"
    with pytest.raises(TypeError):
        humanize("soon")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        humanize(True)


def test_fence_outgrows_backticks_inside() -> None:
    assert fence("print(1)\n", "python") == "```python\nprint(1)\n```"
    assert fence("a ```` b") == "`````\na ```` b\n`````"
    assert fence("") == "```\n```"


@given(st.text(alphabet="`ab\n", max_size=60))
def test_fence_is_never_closed_early(text: str) -> None:
    fenced = fence(text)
    marks = fenced.split("\n", 1)[0]
    inner = fenced[len(marks) + 1: -len(marks) - 1]
    assert marks not in inner
    assert inner == text.rstrip("\n")


def test_head_tail_keeps_both_ends() -> None:
    short = "x" * 5100
    assert head_tail(short) == short
    text = "H" * 2500 + "m" * 3000 + "T" * 2500
    cut = head_tail(text)
    assert cut == "H" * 2500 + "\n[... 3000 characters truncated ...]\n" + "T" * 2500
    assert head_tail("abcdefghij", limit=4, keep=2) == "ab\n[... 6 characters truncated ...]\nij"
    with pytest.raises(ValueError):
        head_tail("abc", limit=-1)


def test_bullets_and_inline_code() -> None:
    assert bullets(["one", "two\nlines"]) == "- one\n- two\n  lines"
    assert bullets([]) == ""
    assert inline_code(["numpy", "torch"]) == "`numpy`, `torch`"
    assert inline_code("x") == "`x`"


def test_filters_are_registered_in_the_environment() -> None:
    out = render_source("{{ 5400|humanize }}|{{ xs|bullets }}|{{ 'a'|fence('py') }}|{{ xs|inline_code }}",
                        "t.j2", {"xs": ["a", "b"]}, [])
    assert out == "1 hour 30 minutes|- a\n- b|```py\na\n```|`a`, `b`"
