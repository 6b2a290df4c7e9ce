"""Bounds and cleaning for what an endpoint sends: its bytes are input from outside, not data.

A server (or a proxy in front of it) can answer anything: a body of gigabytes, JSON nested a
hundred thousand deep, bytes that are not UTF-8, escapes that decode to lone UTF-16 surrogates or
NUL characters. None of that may reach the journal, the recordings or a prompt, and none of it may
end a run with a Python error. This module holds the limits (each defined once, here) and the pure
functions that apply them; :mod:`aira_dsl.llm.body` reads the HTTP response with them.

Everything refused here raises :class:`TransientResponseError`: a malformed answer is worth
another attempt (the next one usually parses), and the retry budget bounds how often. It is stdlib-only on purpose: :mod:`aira_dsl.llm.errors`, imported by every CLI command,
cleans its messages with :func:`clean_text`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_JSON_DEPTH", "MAX_RESPONSE_BYTES", "TransientResponseError", "clean_json", "clean_text", "decode_json",
           "json_depth", "preview"]

MAX_ERROR_BODY_BYTES = 64 * 1024
"""The most bytes kept of the body of an HTTP error status (4xx/5xx). Error objects are a few
hundred bytes; the ``openai`` package reads an error body whole, so the transport cuts it first
(:class:`aira_dsl.llm.body.BoundedErrorBodies`)."""

MAX_RESPONSE_BYTES = 4 * 1024 * 1024
"""The most bytes read of one response body (or of one server-sent event), and the most characters
of answer assembled from a stream. The longest real answers (128k tokens of output) are well under
1 MiB; a body past this is refused before it is held in memory whole."""

MAX_JSON_DEPTH = 64
"""The deepest nesting accepted in a response. A completion is about 6 levels deep; the bound keeps
every later recursive walk (cleaning, recording, journaling) far from Python's recursion limit."""

_UNSAFE = re.compile("[\x00\ud800-\udfff]")


class TransientResponseError(Exception):
    """The server answered, but with nothing usable: no choices, an unreadable or unbounded body.

    The message says what was wrong in a user's words; the retry policy retries it.
    """


def clean_text(text: str) -> str:
    """``text`` with lone surrogates and NUL characters replaced by U+FFFD.

    SQLite (UTF-8) cannot store a lone surrogate and many tools cut text at NUL, so these are the
    characters that break journaling; a valid surrogate pair split across two stream chunks is
    joined back into its character rather than replaced.
    """
    if _UNSAFE.search(text) is None:
        return text
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return joined.replace("\x00", "\ufffd")


def clean_json(value: Any) -> Any:
    """A copy of a decoded JSON value with every string (keys too) passed through :func:`clean_text`.

    Only call it on values within :data:`MAX_JSON_DEPTH` (as :func:`decode_json` returns them).
    """
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {clean_text(str(key)): clean_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(item) for item in value]
    return value


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """The nesting depth of a decoded JSON value, counted without recursion; stops past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def preview(data: bytes | str, limit: int = 60) -> str:
    """The start of a body as a short, printable, quoted snippet for an error message."""
    text = data[: limit * 4].decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = clean_text(" ".join(text.split()))
    return ascii(text[:limit] + ("…" if len(text) > limit else ""))


def decode_json(data: bytes, what: str = "the response body", *, clean: bool = True) -> Any:
    """Decode ``data`` as strict UTF-8 JSON within the bounds, with every string cleaned.

    ``clean=False`` leaves the cleaning to the caller: the pieces of a streamed answer are cleaned
    once joined, so that a surrogate pair split across two events becomes its character again.

    Raises :class:`TransientResponseError` for invalid UTF-8, invalid JSON, integers past Python's digit
    limit, nesting past :data:`MAX_JSON_DEPTH` (or Python's own recursion limit) and bodies past
    :data:`MAX_RESPONSE_BYTES`.
    """
    if len(data) > MAX_RESPONSE_BYTES:
        raise TransientResponseError(f"{what} is larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TransientResponseError(f"{what} is not UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 1]!r})") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise TransientResponseError(f"{what} is JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer of more digits than int() accepts
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc).split(";")[0]
        raise TransientResponseError(f"{what} is not valid JSON ({reason}): {preview(text)}") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise TransientResponseError(f"{what} is JSON nested more than {MAX_JSON_DEPTH} levels deep")
    return clean_json(value) if clean else value
