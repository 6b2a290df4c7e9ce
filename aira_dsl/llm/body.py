"""Reading a completion's HTTP body ourselves, bounded, instead of trusting the ``openai`` package to.

The package reads a whole body into memory, decodes it with no bound on depth (100,000 nested
brackets raise ``RecursionError``), hands lone surrogates through, and turns some bodies (an HTML
page) into a plain string. So the client opens the response unread (``with_streaming_response``;
the package still maps HTTP error statuses to its exceptions) and this module reads it: at most
:data:`~aira_dsl.llm.untrusted.MAX_RESPONSE_BYTES`, strict UTF-8, bounded JSON depth, every
string cleaned. A ``text/event-stream`` body is framed into server-sent events here too, each
event held to the same bounds. Whatever is refused raises
:class:`~aira_dsl.llm.untrusted.TransientResponseError` with a message naming the problem.

Transport failures while reading (a body cut short, broken chunked framing) surface as the HTTP
library's own transport errors, which the retry policy already treats as transient; the total
time is bounded by the caller's per-attempt deadline, not here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from aira_dsl.llm.untrusted import MAX_RESPONSE_BYTES, TransientResponseError, decode_json, preview

__all__ = ["HTTPBody", "is_event_stream", "read_completion", "read_events"]

_MIB = MAX_RESPONSE_BYTES // (1024 * 1024)


class HTTPBody(Protocol):
    """What is used of an unread ``httpx`` response."""

    @property
    def headers(self) -> Mapping[str, str]: ...

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...


def _content_type(response: HTTPBody) -> str:
    return str(response.headers.get("content-type") or "").split(";")[0].strip().lower()


def is_event_stream(response: HTTPBody) -> bool:
    """Whether the server answered with server-sent events (whatever the request asked for)."""
    return _content_type(response) == "text/event-stream"


def _server_error(value: Any) -> str | None:
    """The message of an ``{"error": ...}`` body some servers send with status 200 (a Responses
    body always has an ``error`` field, null unless it failed)."""
    if not isinstance(value, Mapping) or value.get("error") is None or "choices" in value:
        return None
    inner = value["error"]
    if isinstance(inner, Mapping):
        inner = inner.get("message") or inner.get("type") or inner
    return " ".join(str(inner)[:500].split()) or "(no message)"


async def read_completion(response: HTTPBody) -> dict[str, Any]:
    """The body of a non-streamed answer as a cleaned JSON object, read within the size bound."""
    data = bytearray()
    async for piece in response.aiter_bytes():
        data += piece
        if len(data) > MAX_RESPONSE_BYTES:
            raise TransientResponseError(f"the response body is larger than {_MIB} MiB")
    kind = _content_type(response) or "no content type"
    if not data.strip():
        raise TransientResponseError(f"the response body is empty ({kind})")
    try:
        value = decode_json(bytes(data))
    except TransientResponseError as exc:
        if "html" in kind:
            raise TransientResponseError(
                f"the server answered with an HTML page ({kind}), not JSON: {preview(bytes(data))}") from None
        raise TransientResponseError(f"{exc} ({kind})") from None
    if not isinstance(value, dict):
        raise TransientResponseError(f"the response body is JSON but not an object: {preview(bytes(data))}")
    message = _server_error(value)
    if message is not None:
        raise TransientResponseError(f"the server answered HTTP 200 with an error: {message}")
    return value


async def _lines(response: HTTPBody) -> AsyncIterator[bytes]:
    """The body's lines (without their ending), none longer than the size bound."""
    pending = b""
    async for piece in response.aiter_bytes():
        pending += piece
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.rstrip(b"\r")
        if len(pending) > MAX_RESPONSE_BYTES:
            raise TransientResponseError(f"a server-sent event is larger than {_MIB} MiB")
    if pending:
        yield pending.rstrip(b"\r")


def _event(payload: bytes) -> dict[str, Any]:
    value = decode_json(payload, "a server-sent event", clean=False)
    if not isinstance(value, dict):
        raise TransientResponseError(f"a server-sent event is JSON but not an object: {preview(payload)}")
    message = _server_error(value)
    if message is not None:
        raise TransientResponseError(f"the server reported an error in the stream: {message}")
    return value


async def read_events(response: HTTPBody) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of a server-sent event stream, until ``[DONE]`` or the end of the body.

    Comments and fields other than ``data`` are skipped; a data payload that is not a bounded
    JSON object, or an ``{"error": ...}`` event, ends the stream with a transient error. A last
    event without its closing blank line still counts (some servers end that way). Strings are
    not cleaned yet: clean the assembled answer (a surrogate pair may be split across events).
    """
    data: list[bytes] = []
    size = 0
    async for line in _lines(response):
        if line:
            if line.startswith(b"data:"):
                payload = line[5:]
                data.append(payload[1:] if payload.startswith(b" ") else payload)
                size += len(payload)
                if size > MAX_RESPONSE_BYTES:
                    raise TransientResponseError(f"a server-sent event is larger than {_MIB} MiB")
            continue
        if not data:
            continue
        payload, data, size = b"\n".join(data), [], 0
        if payload.strip() == b"[DONE]":
            return
        yield _event(payload)
    payload = b"\n".join(data)
    if payload.strip() and payload.strip() != b"[DONE]":
        yield _event(payload)
