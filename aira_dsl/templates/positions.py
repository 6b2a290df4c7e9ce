"""Columns for template diagnostics, recovered from the source line.

Jinja's syntax tree keeps only line numbers. An editor jump or a caret under the offending
name is much more useful than a bare line, so the checker looks the token up in the line's
``{{ ... }}`` / ``{% ... %}`` spans, counting occurrences so the second ``foo`` on a line is
not reported at the first. It is a best effort: when the token cannot be found the column is
``None`` rather than a guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["find_column", "name_pattern", "word_after"]

_TAG = re.compile(r"(\{\{|\{%).*?(\}\}|%\}|$)")
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def name_pattern(name: str) -> str:
    """A pattern for a variable name used as a name (not an attribute, not a keyword argument)."""
    return rf"(?<![\w.])(?P<tok>{re.escape(name)})\b(?!\s*=[^=])"


def word_after(prefix: str, word: str) -> str:
    """A pattern for ``word`` right after ``prefix`` (a regex), e.g. an attribute after a dot."""
    return rf"{prefix}\s*(?P<tok>{re.escape(word)})\b"


def _code_spans(text: str) -> list[tuple[int, int]]:
    spans = [(m.start(), m.end()) for m in _TAG.finditer(text)]
    closes = [i for i in (text.find("}}"), text.find("%}")) if i >= 0]
    opens = [i for i in (text.find("{{"), text.find("{%")) if i >= 0]
    first_close = min(closes, default=-1)
    first_open = min(opens, default=len(text))
    if 0 <= first_close < first_open:
        spans.append((0, first_close))  # the line continues a tag opened on an earlier line
    if not spans:
        spans.append((0, len(text)))  # the line sits inside a multi-line tag
    return spans


def find_column(text: str, patterns: Sequence[str], occurrence: int = 0, mask_strings: bool = True) -> int | None:
    """1-based column of the ``occurrence``-th match (0-based) of the first matching pattern.

    Only matches inside template tags count; with ``mask_strings`` string literals are blanked
    first so a name inside quotes is not taken for the name itself. Falls back to the first
    match when there are fewer matches than ``occurrence``.
    """
    spans = _code_spans(text)
    searched = _STRING.sub(lambda m: " " * len(m.group()), text) if mask_strings else text
    for pattern in patterns:
        starts = []
        for match in re.finditer(pattern, searched):
            start = match.start("tok") if "tok" in match.re.groupindex else match.start()
            if any(a <= start < b for a, b in spans):
                starts.append(start)
        if starts:
            return (starts[occurrence] if occurrence < len(starts) else starts[0]) + 1
    return None
