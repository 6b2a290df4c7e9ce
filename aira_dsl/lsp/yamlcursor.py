"""What a cursor in a YAML spec is on: the spec path, key or value, and what was typed so far.

Hover, completion and definitions must work on text the user is in the middle of typing, which
is often not valid YAML (``model:`` with nothing after it yet, a half-written key). So this
reads the block structure from indentation, the way a person does, instead of parsing: the
lines above the cursor with smaller indentation are its parents, ``- `` starts a list item,
``key: |`` starts a block scalar (an inline prompt template). One-line flow mappings
(``use: {draft: coder}``) are understood too. Positions are 0-based lines and characters
(code points).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["YamlCursor", "cursor_at", "word_at"]

SpecPath = tuple[str | int, ...]

_KEY = re.compile(r"""(?P<key>"[^"]*"|'[^']*'|[^\s#'"{}\[\],:\-][^#:]*?|-[^\s#:][^#:]*?)[ \t]*:(?=\s|$)""")
_BLOCK_HEADER = re.compile(r"^[|>][-+0-9]*\s*(#.*)?$")
_WORD = re.compile(r"[\w.\-/]")


@dataclass(frozen=True)
class _Entry:
    col: int
    kind: str  # "item" (a "- ") or "key"
    name: str = ""
    key_end: int = 0
    value_start: int = 0


@dataclass(frozen=True)
class YamlCursor:
    """The spec path under the cursor and how the cursor relates to it."""

    path: SpecPath
    """For a key: the path it names; for a value: the path of that value; in a block scalar:
    the path of the block's key. Unknown list indices are counted from the ``- `` lines."""
    on_key: bool
    """The cursor is on a key, or where a new key is being typed (``path[-1]`` is what was typed)."""
    prefix: str
    """What was typed before the cursor in the current word (for completion filters)."""
    value: str | None = None
    """The scalar written after ``key:`` (unquoted), for a cursor on a value."""
    value_range: tuple[int, int, int] | None = None
    """(line, start, end) of that value."""
    in_block: bool = False
    """The cursor is inside a ``|`` or ``>`` block scalar (an inline template)."""
    siblings: frozenset[str] = frozenset()
    """Keys already written next to the one at the cursor (the same mapping)."""

    @property
    def parent(self) -> SpecPath:
        return self.path[:-1]


def _entries(line: str) -> list[_Entry]:
    """The structural parts of one line: list-item dashes, then at most one ``key:``."""
    if not line.strip() or line.lstrip().startswith("#"):
        return []
    entries = []
    i = len(line) - len(line.lstrip(" "))
    while line.startswith("-", i) and (i + 1 == len(line) or line[i + 1] in " \t"):
        entries.append(_Entry(i, "item"))
        i += 1
        while i < len(line) and line[i] in " \t":
            i += 1
    match = _KEY.match(line, i)
    if match is not None:
        name = match.group("key")
        if name[:1] in "\"'" and name[-1:] == name[:1] and len(name) >= 2:
            name = name[1:-1]
        value_start = match.end()
        while value_start < len(line) and line[value_start] in " \t":
            value_start += 1
        entries.append(_Entry(i, "key", name.strip(), match.start() + len(match.group("key")), value_start))
    return entries


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _blank(line: str) -> bool:
    return not line.strip() or line.lstrip().startswith("#")


def _item_index(lines: list[str], number: int, col: int) -> int:
    """Which item of its list the ``- `` at (``number``, ``col``) starts (0-based)."""
    index = 0
    for above in range(number - 1, -1, -1):
        line = lines[above]
        if _blank(line):
            continue
        if _indent(line) < col:
            break
        if any(e.kind == "item" and e.col == col for e in _entries(line)):
            index += 1
    return index


def _siblings(lines: list[str], start: int, col: int) -> frozenset[str]:
    """Keys written at column ``col`` in the mapping that starts on line ``start`` (which may
    be a list item's ``- `` line)."""
    found: set[str] = set()
    for number in range(max(0, start), len(lines)):
        line = lines[number]
        if _blank(line):
            continue
        entries = _entries(line)
        first = entries[0].col if entries else _indent(line)
        if number != start and first < col:
            break
        found.update(e.name for e in entries if e.kind == "key" and e.col == col)
    return frozenset(found)


def _value_text(line: str, start: int) -> tuple[str, int, int]:
    """The scalar after a colon, without a trailing comment or quotes: (text, start, end)."""
    end = len(line.rstrip())
    if line[start:start + 1] in ("'", '"'):
        quote = line[start]
        close = line.find(quote, start + 1)
        close = end if close < 0 else close
        return line[start + 1:close], start + 1, close
    comment = line.find(" #", start)
    if comment >= 0:
        end = len(line[:comment].rstrip())
    return line[start:end], start, max(start, end)


def word_at(line: str, char: int) -> tuple[str, int, int]:
    """The word (letters, digits, ``_.-/``) around ``char``: (word, start, end)."""
    start = char
    while start > 0 and _WORD.match(line[start - 1]):
        start -= 1
    end = char
    while end < len(line) and _WORD.match(line[end]):
        end += 1
    return line[start:end], start, end


def _flow(base: SpecPath, line: str, start: int, char: int, number: int) -> YamlCursor | None:
    """A cursor inside a one-line flow mapping ``{a: x, b: y}`` that starts at ``start``."""
    if line[start:start + 1] != "{" or char <= start:
        return None
    depth = 0
    segment_start = start + 1
    for i in range(start, char):
        if line[i] in "{[":
            depth += 1
        elif line[i] in "}]":
            depth -= 1
        elif line[i] == "," and depth == 1:
            segment_start = i + 1
    if depth != 1:
        return None
    segment = line[segment_start:char]
    if ":" not in segment:
        typed = segment.strip()
        return YamlCursor((*base, typed), True, typed)
    key = segment.split(":", 1)[0].strip()
    value_start = segment_start + segment.index(":") + 1
    while value_start < len(line) and line[value_start] == " ":
        value_start += 1
    value_end = value_start
    while value_end < len(line) and line[value_end] not in ",}":
        value_end += 1
    value = line[value_start:value_end].strip().strip("'\"")
    return YamlCursor((*base, key), False, line[value_start:char].strip().strip("'\""), value,
                      (number, value_start, value_start + len(value)))


def cursor_at(text: str, line: int, char: int) -> YamlCursor:
    """Where the cursor at 0-based (``line``, ``char``) is in the spec's structure."""
    lines = text.replace("\r\n", "\n").split("\n")
    current = lines[line] if 0 <= line < len(lines) else ""
    char = max(0, min(char, len(current)))
    entries = _entries(current)
    if entries:
        indent = entries[0].col
    elif current.strip():
        indent = _indent(current)
    else:
        indent = min(char, len(current))

    # Parents: lines above with ever smaller indentation.
    chain: list[tuple[int, _Entry | None]] = []
    limit = indent
    for number in range(line - 1, -1, -1):
        above = lines[number]
        if _blank(above):
            continue
        found = _entries(above)
        if not found and _indent(above) < limit:  # a text line (block scalar content): no structure
            limit = _indent(above)
            chain.append((number, None))
        for entry in reversed(found):
            if entry.col < limit:
                chain.append((number, entry))
                limit = entry.col
        if limit == 0:
            break

    # Inside a block scalar: a parent is `key: |` (or `>`); everything more indented than it,
    # however key-like, is its text.
    for position, (number, parent) in enumerate(chain):
        if parent is not None and parent.kind == "key" and _BLOCK_HEADER.match(lines[number][parent.value_start:]):
            _, start, _ = word_at(current, char)
            return YamlCursor(_path(lines, chain[position:]), False, current[start:char], in_block=True)

    base = _path(lines, chain)
    first = 0  # where the mapping holding the cursor's key starts
    if chain:
        first = chain[0][0] + (0 if chain[0][1] is not None and chain[0][1].kind == "item" else 1)
    # The cursor line's own items and key.
    for entry in entries:
        if entry.kind == "item":
            if entry.col < char:
                base = (*base, _item_index(lines, line, entry.col))
                first = line
            continue
        siblings = _siblings(lines, first, entry.col) - {entry.name}
        if char <= entry.key_end:
            return YamlCursor((*base, entry.name), True, current[entry.col:char], siblings=siblings)
        flow = _flow((*base, entry.name), current, entry.value_start, char, line)
        if flow is not None:
            return flow
        value, start, end = _value_text(current, entry.value_start)
        prefix = current[start:char] if start <= char else ""
        return YamlCursor((*base, entry.name), False, prefix, value, (line, start, end), siblings=siblings)
    # No key on this line (yet): a key being typed at the cursor.
    typed_start = entries[-1].col + 2 if entries else indent
    typed = current[typed_start:char].strip() if typed_start <= char else ""
    return YamlCursor((*base, typed), True, typed, siblings=_siblings(lines, first, typed_start) - {typed})


def _path(lines: list[str], chain: list[tuple[int, _Entry | None]]) -> SpecPath:
    """The spec path the parents in ``chain`` (innermost first) spell, outermost first."""
    path: list[str | int] = []
    for number, entry in reversed(chain):
        if entry is None:
            continue
        if entry.kind == "key":
            path.append(entry.name)
        else:
            path.append(_item_index(lines, number, entry.col))
    return tuple(path)
