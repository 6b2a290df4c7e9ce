"""Translation between the runtime's chat calls and the OpenAI Responses API (``api: responses``).

Some models are served only through ``POST /v1/responses`` (and some endpoints serve reasoning
models better there). The rest of the LLM layer speaks Chat Completions: the runtime's messages,
the review's tools and ``response_format``, :func:`~aira_dsl.llm.wire.parse_completion` and the
usage checks. So this module maps a chat request onto a Responses request (messages → ``input``,
function tools flattened, ``response_format`` → ``text.format``, ``max_tokens`` →
``max_output_tokens``, ``reasoning_effort`` → ``reasoning.effort``) and a Responses body back onto
the shape of a completion (output text, reasoning summaries and text, the first function call,
usage), so parsing, accounting, budgets and record/replay work unchanged. Bodies are read by
:mod:`aira_dsl.llm.body` within the same bounds as completions; a streamed answer is the
``response`` object of its final ``response.completed`` (or ``incomplete``/``failed``) event.

Like :mod:`.wire`, it works on plain dicts so it can be read and tested without a server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from aira_dsl.llm.config import ModelSettings
from aira_dsl.llm.untrusted import TransientResponseError

__all__ = ["collect_response_stream", "completion_from_response", "responses_input", "responses_params"]

_FINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")


def responses_input(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages (already prepared: system role folded where needed) as Responses input items."""
    return [{"role": str(m.get("role") or "user"), "content": m.get("content") or ""} for m in messages]


def _tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A Chat Completions tool (``{type: function, function: {...}}``) as a Responses function tool."""
    function = tool.get("function")
    if tool.get("type") != "function" or not isinstance(function, Mapping):
        return dict(tool)  # already flat, or a kind this module does not translate
    out: dict[str, Any] = {"type": "function", "name": function.get("name")}
    for key in ("description", "parameters", "strict"):
        if key in function:
            out[key] = function[key]
    return out


def _tool_choice(choice: str | Mapping[str, Any]) -> str | dict[str, Any]:
    if isinstance(choice, str):
        return choice
    function = choice.get("function")
    if choice.get("type") == "function" and isinstance(function, Mapping):
        return {"type": "function", "name": function.get("name")}
    return dict(choice)


def _text_format(response_format: Mapping[str, Any]) -> dict[str, Any]:
    """``response_format`` as the Responses API's ``text.format``."""
    kind = response_format.get("type")
    schema = response_format.get("json_schema")
    if kind == "json_schema" and isinstance(schema, Mapping):
        return {"type": "json_schema", **{k: v for k, v in schema.items() if k in ("name", "schema", "strict",
                                                                                     "description")}}
    return {"type": kind} if isinstance(kind, str) else dict(response_format)


def responses_params(settings: ModelSettings, *, tools: Sequence[Mapping[str, Any]] | None = None,
                     tool_choice: str | Mapping[str, Any] | None = None,
                     response_format: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every request field but ``model``, ``input`` and ``stream`` (also what the cache key hashes).

    ``store: false``: the answer is not kept on the provider's side (every call sends its full
    input; nothing refers to a stored response); ``extra_body`` can say otherwise.
    """
    s = settings
    params: dict[str, Any] = {"store": False, **s.sampling_params()}  # renamed below where this API differs
    if s.max_tokens is not None:
        params["max_output_tokens"] = params.pop(s.max_tokens_param)
    if s.reasoning_effort is not None:
        params["reasoning"] = {"effort": params.pop("reasoning_effort")}
    if tools:
        params["tools"] = [_tool(tool) for tool in tools]
    if tool_choice is not None:
        params["tool_choice"] = _tool_choice(tool_choice)
    if response_format is not None:
        params["text"] = {"format": _text_format(response_format)}
    if s.extra_body:
        params.update(s.extra_body)
    return params


def _texts(parts: Any, kinds: tuple[str, ...]) -> list[str]:
    """The ``text`` of each part of ``parts`` whose type is one of ``kinds`` (others skipped)."""
    if not isinstance(parts, list):
        return []
    return [str(p["text"]) for p in parts
            if isinstance(p, Mapping) and p.get("type") in kinds and isinstance(p.get("text"), str)]


def _usage(usage: Any) -> Any:
    """Responses usage (``input_tokens``, ``output_tokens``) under the completion's names; values
    are passed as sent (any JSON), for :func:`~aira_dsl.llm.wire.settle_usage` to judge."""
    if not isinstance(usage, Mapping):
        return usage
    out: dict[str, Any] = {"prompt_tokens": usage.get("input_tokens"),
                           "completion_tokens": usage.get("output_tokens")}
    details = usage.get("output_tokens_details")
    if isinstance(details, Mapping) and "reasoning_tokens" in details:
        out["completion_tokens_details"] = {"reasoning_tokens": details["reasoning_tokens"]}
    return out


def completion_from_response(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A Responses body (bounded and cleaned) in the shape of a chat completion.

    A failed response, or one without an output list or with a message that holds no content
    list, is a :class:`TransientResponseError` (worth a retry), as the equivalent completions are.
    """
    status = raw.get("status")
    if status == "failed":
        error = raw.get("error")
        detail = error.get("message") if isinstance(error, Mapping) else error
        raise TransientResponseError(f"the response failed: {' '.join(str(detail or 'no reason given').split())[:300]}")
    output = raw.get("output")
    if not isinstance(output, list) or not output:
        raise TransientResponseError("the response holds no output")
    text: list[str] = []
    reasoning: list[str] = []
    call: dict[str, Any] | None = None
    for item in output:
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type")
        if kind == "message":
            if not isinstance(item.get("content"), list):
                raise TransientResponseError("the response's message holds no content")
            text += _texts(item["content"], ("output_text", "text"))
            text += [str(p["refusal"]) for p in item["content"]
                     if isinstance(p, Mapping) and isinstance(p.get("refusal"), str)]
        elif kind == "reasoning":
            reasoning += _texts(item.get("summary"), ("summary_text",))
            reasoning += _texts(item.get("content"), ("reasoning_text",))
        elif kind == "function_call" and call is None:
            call = {"id": item.get("call_id"), "type": "function",
                    "function": {"name": item.get("name"), "arguments": item.get("arguments")}}
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text)}
    if reasoning:
        message["reasoning_content"] = "\n\n".join(reasoning)
    if call is not None:
        message["tool_calls"] = [call]
    details = raw.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, Mapping) else None
    finish = ("length" if reason == "max_output_tokens" else str(reason)) if status == "incomplete" else (
        "tool_calls" if call is not None else "stop")
    completion: dict[str, Any] = {"id": raw.get("id"), "object": "chat.completion", "model": raw.get("model"),
                                  "choices": [{"index": 0, "message": message, "finish_reason": finish}]}
    if "usage" in raw:
        completion["usage"] = _usage(raw["usage"])
    return completion


async def collect_response_stream(events: AsyncIterator[Mapping[str, Any]]) -> dict[str, Any]:
    """The final ``response`` object of a Responses event stream (each event already bounded).

    Deltas are not assembled: the final event carries the whole response. An ``error`` event, or
    a stream that ends without a final event, is a :class:`TransientResponseError`.
    """
    async for event in events:
        kind = event.get("type")
        if kind == "error":
            detail = event.get("message") or event.get("code") or "no message"
            raise TransientResponseError(f"the server reported an error in the stream: "
                                         f"{' '.join(str(detail).split())[:300]}")
        if kind in _FINAL_EVENTS:
            response = event.get("response")
            if not isinstance(response, Mapping):
                raise TransientResponseError(f"the stream's {kind} event holds no response")
            return dict(response)
    raise TransientResponseError("the stream ended before its response.completed event")
