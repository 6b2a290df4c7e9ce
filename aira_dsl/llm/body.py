"""Reading a completion's HTTP body ourselves, bounded, instead of trusting the ``openai`` package to.

The package reads a whole body into memory, decodes it with no bound on depth (100,000 nested
brackets raise ``RecursionError``), hands lone surrogates through, and turns some bodies (an HTML
page) into a plain string. So the client opens the response unread (``with_streaming_response``;
the package still maps HTTP error statuses to its exceptions) and this module reads it: at most
:data:`~aira_dsl.llm.untrusted.MAX_RESPONSE_BYTES`, strict UTF-8, bounded JSON depth, every
string cleaned. A ``text/event-stream`` body is framed into server-sent events here too, each
event held to the same bounds. Whatever is refused raises
:class:`~aira_dsl.llm.untrusted.TransientResponseError` with a message naming the problem.

Error statuses are the exception: the package reads their body whole before raising its
exception, so :class:`BoundedErrorBodies`, the HTTP transport the client is built with, cuts
such a body to :data:`~aira_dsl.llm.untrusted.MAX_ERROR_BODY_BYTES` first.

Transport failures while reading (a body cut short, broken chunked framing) surface as the HTTP
library's own transport errors, which the retry policy already treats as transient; the total
time is bounded by the caller's per-attempt deadline, not here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from aira_dsl.llm.untrusted import (
    MAX_ERROR_BODY_BYTES,
    MAX_RESPONSE_BYTES,
    TransientResponseError,
    decode_json,
    preview,
)

__all__ = ["BoundedErrorBodies", "HTTPBody", "bounded_http_client", "http_module", "is_event_stream",
           "read_completion", "read_events"]

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


def http_module() -> Any:
    """The HTTP library the installed ``openai`` package is built on (``httpx2`` in recent
    releases, ``httpx`` before), found from the package's default client class."""
    import importlib

    import openai

    for base in openai.DefaultAsyncHttpxClient.__mro__:
        if base.__name__ == "AsyncClient" and not base.__module__.startswith("openai"):
            return importlib.import_module(base.__module__.split(".")[0])
    raise ImportError("the openai package's HTTP library was not found")


class BoundedErrorBodies:
    """An HTTP transport that hands on an error response (status ≥ 400) with at most
    :data:`~aira_dsl.llm.untrusted.MAX_ERROR_BODY_BYTES` of its decoded body and its connection
    released, and every other response untouched (those bodies are read by this module).

    Without it a server answering "500" with a body of gigabytes (or without end) would be read
    into memory whole by the ``openai`` package. The body is decoded here (gzip included) and
    passed on uncompressed, so the package's own reading of it cannot grow past the bound. One
    compressed piece is decoded at a time, so a compression bomb can still cost one piece's
    expansion (the library reads 64 KiB pieces) before the cut.
    """

    _DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})

    def __init__(self, inner: Any, http: Any, limit: int = MAX_ERROR_BODY_BYTES) -> None:
        self._inner = inner
        self._http = http
        self._limit = limit

    async def handle_async_request(self, request: Any) -> Any:
        response = await self._inner.handle_async_request(request)
        if response.status_code < 400:
            return response
        kept = bytearray()
        try:
            async for piece in response.aiter_bytes():
                kept += piece[: self._limit - len(kept)]
                if len(kept) >= self._limit:
                    break
        except self._http.DecodingError:
            pass  # keep what could be decoded: it is only an error message
        finally:
            await response.aclose()
        headers = [(key, value) for key, value in response.headers.multi_items()
                   if key.lower() not in self._DROPPED_HEADERS]
        return self._http.Response(response.status_code, headers=headers, content=bytes(kept), request=request,
                                   extensions={key: value for key, value in response.extensions.items()
                                               if key != "network_stream"})

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> BoundedErrorBodies:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._inner.__aexit__(*exc)


def bounded_http_client() -> Any:
    """The ``openai`` package's default async HTTP client with every transport it builds — the
    direct one and those for proxies from the environment (``HTTPS_PROXY``, ``NO_PROXY``
    honoured as the library does) — wrapped in :class:`BoundedErrorBodies`.

    The HTTP library builds its transports in two methods meant to be overridden
    (``_init_transport``, ``_init_proxy_transport``); passing a ``transport=`` instead would
    switch its environment proxies off.
    """
    import openai

    http = http_module()

    class BoundedClient(openai.DefaultAsyncHttpxClient):
        def _init_transport(self, *args: Any, **kwargs: Any) -> Any:
            return BoundedErrorBodies(super()._init_transport(*args, **kwargs), http)

        def _init_proxy_transport(self, *args: Any, **kwargs: Any) -> Any:
            return BoundedErrorBodies(super()._init_proxy_transport(*args, **kwargs), http)

    return BoundedClient()
