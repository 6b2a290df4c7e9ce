"""Reading models' answers: reasoning apart from the answer, code from prose, a review from JSON.

Models wrap code in fences, add remarks around it, think aloud in ``<think>`` blocks, and write
review JSON with strings for numbers. These functions take what is usable and say precisely what
was not, so the caller can re-ask with that reason. Code is only *compiled* to check its syntax
(``compile`` with ``PyCF_ONLY_AST``), never executed.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CodeAnswer", "Review", "ReviewParseError", "extract_code", "parse_review", "strip_reasoning"]

_THINK_OPEN = re.compile(r"<(think|thinking|reasoning)>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</(think|thinking|reasoning)>", re.IGNORECASE)
_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+.#-]*)[^\n`]*$", re.MULTILINE)
_PYTHON_LANGS = frozenset({"", "python", "py", "python3", "py3"})


def _remove_blocks(text: str, parts: list[str]) -> str:
    """``text`` without its complete ``<think>…</think>`` blocks, whose bodies go to ``parts``.

    The leftmost opening tag with a matching closing tag after it starts a block, which ends at
    the nearest such closing tag. Done by hand in linear time: a regular expression rescans to
    the end for every opening tag that is never closed (quadratic on a hostile answer).
    """
    out: list[str] = []
    kept = search = 0
    unclosed: set[str] = set()  # names with no closing tag after the search position
    while True:
        opening = _THINK_OPEN.search(text, search)
        if opening is None:
            break
        name = opening.group(1).lower()
        search = opening.end()
        if name in unclosed:
            continue
        closing = re.compile(rf"</{name}>", re.IGNORECASE).search(text, opening.end())
        if closing is None:
            unclosed.add(name)
            continue
        parts.append(text[opening.end(): closing.start()].strip())
        out.append(text[kept: opening.start()])
        kept = search = closing.end()
    out.append(text[kept:])
    return "".join(out)


def strip_reasoning(text: str) -> tuple[str, str]:
    """Split ``text`` into (answer, reasoning) by ``<think>`` / ``<thinking>`` blocks.

    A lone closing tag (templates that open the block inside the prompt) makes everything before
    it reasoning; an opening tag never closed (a truncated answer) makes everything after it
    reasoning.
    """
    parts: list[str] = []
    answer = _remove_blocks(text, parts)
    close = _THINK_CLOSE.search(answer)
    if close is not None and _THINK_OPEN.search(answer, 0, close.start()) is None:
        parts.insert(0, answer[: close.start()].strip())
        answer = answer[close.end():]
    opened = _THINK_OPEN.search(answer)
    if opened is not None:
        parts.append(answer[opened.end():].strip())
        answer = answer[: opened.start()]
    return answer.strip(), "\n\n".join(p for p in parts if p)


@dataclass(frozen=True)
class CodeAnswer:
    """What a code operator's answer holds: the plan before the code, the code, or the problem."""

    plan: str
    code: str | None
    problem: str | None = None


def _syntax_problem(code: str) -> str | None:
    """None if ``code`` is a Python module, else a one-line reason."""
    try:
        compile(code, "<answer>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except (ValueError, MemoryError, RecursionError) as exc:  # null bytes, absurd nesting
        return str(exc) or type(exc).__name__
    return None


def _looks_like_program(code: str) -> bool:
    """Whether unfenced text that compiles is a program rather than a word or two of prose."""
    tree = compile(code, "<answer>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    assert isinstance(tree, ast.Module)
    return any(not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant | ast.Name))
               for node in tree.body)


def _fenced_blocks(text: str) -> list[tuple[int, str, str]]:
    """(start offset, language, body) of each fenced block; an unclosed last fence runs to the end."""
    blocks: list[tuple[int, str, str]] = []
    position = 0
    while True:
        opening = _FENCE_OPEN.search(text, position)
        if opening is None:
            return blocks
        fence = opening.group("fence")
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
        body_start = opening.end() + 1
        end = closing.search(text, body_start)
        body = text[body_start: end.start() if end else len(text)]
        blocks.append((opening.start(), opening.group("lang").lower(), body))
        if end is None:
            return blocks
        position = end.end()


def extract_code(text: str) -> CodeAnswer:
    """The Python code of an answer: every fenced python (or untagged) block that compiles, joined.

    With no fence at all the whole answer is tried as a program. The plan is the prose before the
    first code block. When nothing usable is found, ``code`` is None and ``problem`` says why, in
    words fit to send back to the model.
    """
    answer, _ = strip_reasoning(text)
    if not answer.strip():
        return CodeAnswer("", None, "the answer was empty")
    blocks = [(start, body) for start, lang, body in _fenced_blocks(answer) if lang in _PYTHON_LANGS]
    if not blocks:
        if _syntax_problem(answer) is None and _looks_like_program(answer):
            return CodeAnswer("", answer.strip() + "\n")
        return CodeAnswer(answer.strip(), None, "the answer holds no ```python code block")
    plan = answer[: blocks[0][0]].strip()
    usable = [body.strip("\n") for _, body in blocks if body.strip() and _syntax_problem(body) is None]
    if usable:
        return CodeAnswer(plan, "\n\n".join(usable) + "\n")
    non_empty = [body for _, body in blocks if body.strip()]
    if not non_empty:
        return CodeAnswer(plan, None, "the code block is empty")
    reason = _syntax_problem(non_empty[-1])
    return CodeAnswer(plan, None, f"the code block does not compile ({reason})")


# ------------------------------------------------------------------------------------ reviews


class ReviewParseError(ValueError):
    """The reviewer's answer holds no readable ``{is_bug, summary, metric}`` object."""


@dataclass(frozen=True)
class Review:
    """The analyze operator's verdict on one executed node."""

    is_bug: bool
    summary: str
    metric: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"is_bug": self.is_bug, "summary": self.summary, "metric": self.metric}


def _metric(value: Any) -> float | None:
    """A finite number from a number or a numeric string; anything else is "no metric"."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an integer of hundreds of digits
            return None
    elif isinstance(value, str):
        try:
            number = float(value.strip().rstrip("%").strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


_TRUE = frozenset({"true", "yes", "1", "y", "t"})
_FALSE = frozenset({"false", "no", "0", "n", "f"})


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ReviewParseError(f"`is_bug` must be true or false, got {value!r}")


def _review_from_mapping(data: Mapping[str, Any]) -> Review:
    if "is_bug" not in data:
        raise ReviewParseError("the review has no `is_bug` field")
    summary = data.get("summary")
    try:
        text = "" if summary is None else str(summary)
    except RecursionError:
        raise ReviewParseError("the review's summary is nested too deeply") from None
    return Review(_flag(data["is_bug"]), text, _metric(data.get("metric")))


_OBJECT_START = re.compile(r'\{\s*["}]')
MAX_JSON_CANDIDATES = 1000
"""Places an object may start (``{"`` or ``{}``) tried in one answer, at most."""
_WINDOW = 65536
_LONG_TRIES = 4


def _json_objects(text: str) -> list[Any]:
    """Every JSON object that starts at a ``{`` in ``text`` and decodes, in order.

    Bounded for hostile answers: ``json`` counts the lines up to every failure from the start of
    the text (quadratic over a million ``{``), so each start is tried on a 64 KiB window first and
    on the whole rest only a few times; at most :data:`MAX_JSON_CANDIDATES` starts are tried, and
    nesting past Python's recursion limit ends the search.
    """
    decoder = json.JSONDecoder()
    found: list[Any] = []
    end = tried = 0
    long_tries = _LONG_TRIES
    for match in _OBJECT_START.finditer(text):
        position = match.start()
        if position < end:
            continue
        tried += 1
        if tried > MAX_JSON_CANDIDATES:
            break
        try:
            try:
                value, used = decoder.raw_decode(text[position: position + _WINDOW])
            except ValueError:
                if position + _WINDOW >= len(text) or long_tries == 0:
                    raise
                long_tries -= 1  # the object may run past the window
                value, used = decoder.raw_decode(text, position)
                used -= position
        except RecursionError:  # absurd nesting: every later start would be as deep, stop here
            break
        except ValueError:  # not JSON, or an integer of more digits than int() accepts
            continue
        found.append(value)
        end = position + used
    return found


def _find_review(value: Any) -> Mapping[str, Any] | None:
    """The mapping with ``is_bug``: ``value`` itself or one level inside (``{"review": {...}}``)."""
    if not isinstance(value, Mapping):
        return None
    if "is_bug" in value:
        return value
    for inner in value.values():
        if isinstance(inner, Mapping) and "is_bug" in inner:
            return inner
    return None


def parse_review(source: str | Mapping[str, Any] | None) -> Review:
    """A :class:`Review` from tool-call arguments, a JSON string, or prose that embeds JSON.

    ``metric`` may be a number or a numeric string; anything else (text, NaN, a boolean) becomes
    ``None``. Raises :class:`ReviewParseError` when no object with an ``is_bug`` field is found.
    """
    if source is None:
        raise ReviewParseError("the answer is empty")
    if isinstance(source, Mapping):
        return _review_from_mapping(_find_review(source) or source)
    text, _ = strip_reasoning(source)
    if not text:
        raise ReviewParseError("the answer is empty")
    candidates = _json_objects(text)
    for value in candidates:
        found = _find_review(value)
        if found is not None:
            return _review_from_mapping(found)
    if candidates:
        raise ReviewParseError("the answer's JSON has no `is_bug` field")
    raise ReviewParseError("the answer holds no JSON object")
