"""Filters that prompt templates need and Jinja lacks.

Prompts show durations in words, embed code and logs in Markdown fences that must not be broken
by backticks inside them, cut long terminal output the way AIDE does (head and tail kept), and
list things as bullets. Each filter is a pure function of its arguments so rendering stays
reproducible.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["FILTERS", "bullets", "fence", "head_tail", "humanize", "inline_code"]

_UNITS: tuple[tuple[str, int], ...] = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def humanize(seconds: float | int | None, parts: int = 2) -> str:
    """Seconds as words with at most ``parts`` units, largest first: ``5400`` → "1 hour 30 minutes".

    Smaller units are dropped, not rounded (``3661`` → "1 hour 1 minute"), so a deadline is never
    overstated. Negative values count as zero; ``None`` (no limit configured) reads "no limit".
    """
    if seconds is None:
        return "no limit"
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or math.isnan(seconds):
        raise TypeError(f"humanize expects a number of seconds, got {seconds!r}")
    if math.isinf(seconds):
        return "no limit"
    remaining = max(0, int(seconds))
    if parts < 1:
        raise ValueError("humanize: parts must be at least 1")
    words: list[str] = []
    for unit, size in _UNITS:
        count, remaining = divmod(remaining, size)
        if count:
            words.append(f"{count} {unit}{'' if count == 1 else 's'}")
        if len(words) == parts:
            break
    return " ".join(words) if words else "0 seconds"


_BACKTICK_RUN = re.compile(r"`+")


def fence(text: Any, lang: str = "") -> str:
    """Wrap ``text`` in a Markdown code fence longer than any backtick run inside it.

    Trailing newlines of ``text`` are dropped so the closing fence sits on the next line; the
    result ends with the closing fence (no newline), leaving layout to the template.
    """
    body = str(text).rstrip("\n")
    longest = max((len(run) for run in _BACKTICK_RUN.findall(body)), default=0)
    marks = "`" * max(3, longest + 1)
    return f"{marks}{lang}\n{body}\n{marks}" if body else f"{marks}{lang}\n{marks}"


def head_tail(text: Any, limit: int = 5100, keep: int = 2500) -> str:
    """Cut text longer than ``limit`` characters to its first and last ``keep`` characters.

    A marker line saying how many characters were left out joins the two parts, so the model
    knows output is missing. Text within the limit is returned unchanged.
    """
    value = str(text)
    if limit < 0 or keep < 0:
        raise ValueError("head_tail: limit and keep must not be negative")
    if len(value) <= limit or 2 * keep >= len(value):
        return value
    omitted = len(value) - 2 * keep
    head = value[:keep]
    tail = value[-keep:] if keep else ""
    return f"{head}\n[... {omitted} characters truncated ...]\n{tail}"


def bullets(items: Iterable[Any]) -> str:
    """A Markdown bullet list, one ``- item`` line per item; continuation lines are indented."""
    if isinstance(items, str):
        items = [items]
    lines = []
    for item in items:
        first, *rest = str(item).split("\n")
        lines.append(f"- {first}")
        lines.extend(f"  {line}" if line else "" for line in rest)
    return "\n".join(lines)


def inline_code(items: Any, sep: str = ", ") -> str:
    """Each item in backticks, joined with ``sep`` (a single string is wrapped alone)."""
    values = [items] if isinstance(items, str) else list(items)
    return sep.join(f"`{value}`" for value in values)


FILTERS: dict[str, Callable[..., Any]] = {
    "humanize": humanize,
    "fence": fence,
    "head_tail": head_tail,
    "bullets": bullets,
    "inline_code": inline_code,
}
"""The filters registered in every prompt environment, by name."""
