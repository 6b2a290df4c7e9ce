"""How the scripted server misbehaves: the bytes of a hostile or broken endpoint's answers.

Each fault of the "hostile endpoint" family (docs/llm.md) is a response no correct server sends
but real ones do send now and then: a proxy's HTML page, an error object with status 200, JSON
nested 100,000 deep, a body cut short, chunked framing broken, escapes that decode to lone
surrogates, a body dripped one byte at a time. This module builds them as a :class:`RawResponse`
(status, headers, body bytes, how to send them); the server's handler writes it to the socket. It
works on plain completion dicts and bytes, so the server's own answer building stays in
:mod:`aira_dsl.llm.scripted`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aira_dsl.llm.script import Fault

__all__ = ["DEEP_JSON_DEPTH", "HUGE_ANSWER_CHARS", "HUGE_ERROR_BODY_BYTES", "SLOW_DRIP_SECONDS", "RawResponse", "as_list_content", "broken_response",
           "broken_responses_body", "poison"]

HUGE_ANSWER_CHARS = 5_000_000
"""What ``huge_answer`` adds to an answer unless its ``size`` says otherwise."""
SLOW_DRIP_SECONDS = 0.2
"""The pause between two bytes of ``slow_drip`` unless its ``seconds`` says otherwise."""
HUGE_ERROR_BODY_BYTES = 64 * 1024 * 1024
"""The size of ``huge_error_body``'s error message unless its ``size`` says otherwise."""
DEEP_JSON_DEPTH = 100_000
"""The nesting of ``deep_json`` unless its ``size`` says otherwise."""

_HTML = (b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body><h1>Please sign in to continue"
         b"</h1><form action=\"/login\"></form></body></html>\n")


@dataclass
class RawResponse:
    """A response to write as is. ``length=None`` sends no Content-Length (the close ends the body);
    ``cut`` stops after that many body bytes and closes (a body shorter than announced);
    ``drip`` is the pause in seconds between single bytes; ``nothing`` closes without a byte."""

    status: int = 200
    content_type: str = "application/json"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    length: int | None = -1
    """-1: the body's own length; None: no Content-Length; otherwise the number announced."""
    cut: int | None = None
    drip: float | None = None
    nothing: bool = False
    raw_body: bool = False
    """True: ``body`` already holds the framing (e.g. broken chunked encoding); send no length."""


def _event(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _stream(*payloads: Any) -> bytes:
    return b"".join(_event(payload) for payload in payloads) + b"data: [DONE]\n\n"


def _sse(body: bytes, **options: Any) -> RawResponse:
    return RawResponse(content_type="text/event-stream", body=body, length=None, **options)


def poison(fault: Fault) -> str:
    """What a text-twisting fault appends to an answer's text (and, for characters, its reasoning)."""
    if fault.kind == "lone_surrogates":
        return "\n# \ud800 a lone high surrogate, a lone low one: \udfff"
    if fault.kind == "nul_bytes":
        return "\n# NUL characters: \x00\x00 end"
    if fault.kind == "huge_answer":
        size = fault.size or HUGE_ANSWER_CHARS
        return "\n" + ("#" * 99 + "\n") * (size // 100) + "#" * (size % 100)
    return ""


def as_list_content(completion: dict[str, Any]) -> dict[str, Any]:
    """The completion with its message content given as a list of text parts."""
    for choice in completion.get("choices") or []:
        message = choice.get("message") or {}
        text = str(message.get("content") or "")
        half = len(text) // 2
        message["content"] = [{"type": "text", "text": text[:half]}, {"type": "text", "text": text[half:]}]
    return completion


def broken_response(fault: Fault, *, stream: bool, completion: Mapping[str, Any]) -> RawResponse:
    """The response of a non-twisting hostile fault; ``completion`` is the answer a good server
    would have sent (some faults send it broken): a chat completion, or a Responses API body."""
    kind = fault.kind
    whole = json.dumps(completion).encode()
    chunk = {**completion, "object": "chat.completion.chunk"}
    if kind == "invalid_json":
        text = b"{'id': 'chatcmpl-bad', 'choices': [{'message': {'content': 'fine'}}], usage: None,}"
        return _sse(b"data: " + text + b"\n\n") if stream else RawResponse(body=text)
    if kind == "html":
        return RawResponse(content_type="text/html; charset=utf-8", body=_HTML)
    if kind == "error_body_200":
        error = {"error": {"message": fault.message or "The upstream model is overloaded (scripted).",
                           "type": "server_error", "code": 503}}
        return _sse(_stream(error)) if stream else RawResponse(body=json.dumps(error).encode())
    if kind == "null_message":
        if stream:
            return _sse(_stream({**chunk, "choices": [{"index": 0, "delta": None, "finish_reason": "stop"}]}))
        return RawResponse(body=json.dumps(
            {**completion, "choices": [{"index": 0, "message": None, "finish_reason": "stop"}]}).encode())
    if kind == "chunked_garbage":
        return RawResponse(content_type="text/event-stream" if stream else "application/json",
                           headers={"Transfer-Encoding": "chunked"},
                           body=b"zz\r\nthis is no chunk size\r\n" + whole[:40] + b"\r\n", raw_body=True)
    if kind == "truncated_body":
        data = _stream(chunk) if stream else whole
        return RawResponse(content_type="text/event-stream" if stream else "application/json", body=data,
                           cut=len(data) // 2)
    if kind == "sse_garbage":
        return _sse(b": keep-alive\n\nevent: ping\n\ndata: {\"choices\": [{\"delta\": {\"content\": \"fi\n\n"
                    b"data: \x00\xff\xfe\x01 binary junk\n\nretry: soon\n\ndata: [DONE]\n\n")
    if kind == "deep_json":
        depth = fault.size or DEEP_JSON_DEPTH
        data = b'{"id": "chatcmpl-deep", "choices": ' + b"[" * depth + b"]" * depth + b"}"
        return _sse(b"data: " + data + b"\n\n") if stream else RawResponse(body=data)
    if kind == "huge_error_body":
        size = fault.size or HUGE_ERROR_BODY_BYTES
        body = b'{"error": {"message": "' + b"overloaded " * (size // 11 + 1) + b'", "type": "server_error"}}'
        return RawResponse(status=fault.status or 500, body=body)
    if kind == "close_without_response":
        return RawResponse(nothing=True)
    if kind == "invalid_utf8":
        marked = json.loads(whole)
        if "choices" in marked:
            marked["choices"][0].setdefault("message", {})["content"] = "fine \u2603"
        else:  # a Responses API body
            marked["output"] = [{"type": "message", "role": "assistant",
                                 "content": [{"type": "output_text", "text": "fine \u2603"}]}]
        data = json.dumps(marked, ensure_ascii=False).encode().replace("\u2603".encode(), b"\xff\xfe\xc3")
        if stream:
            return _sse(b"data: " + data.replace(b'"chat.completion"', b'"chat.completion.chunk"') + b"\n\n")
        return RawResponse(body=data)
    raise ValueError(f"not a hostile fault: {kind}")


def broken_responses_body(fault: Fault, response: Mapping[str, Any]) -> dict[str, Any] | None:
    """For the Responses API: the twisted body of a fault whose chat form is a twisted completion
    (``null_message``: a message item with null content), or None when :func:`broken_response`
    builds the fault for both APIs alike."""
    if fault.kind == "null_message":
        output = [{**item, "content": None} if item.get("type") == "message" else item
                  for item in response.get("output") or []]
        return {**response, "output": output}
    return None
