"""Translation between the runtime's messages and results and the Chat Completions wire format.

Kept apart from the client so the translation (folding a system message, reading reasoning out
of ``reasoning_content`` or ``reasoning``, assembling a streamed answer into the shape of a
non-streamed one) can be read and tested on plain dicts.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from aira_dsl.llm.parsing import strip_reasoning
from aira_dsl.llm.types import Message, Usage
from aira_dsl.llm.untrusted import MAX_RESPONSE_BYTES, TransientResponseError

__all__ = ["HIDDEN_REASONING_TOKENS", "MAX_CHARS_PER_TOKEN", "USAGE_SLACK_TOKENS", "ParsedAnswer", "collect_stream",
           "estimate_usage", "parse_completion", "prepare_messages", "settle_usage"]


def prepare_messages(messages: Sequence[Message], *, system_role: bool) -> list[dict[str, Any]]:
    """Plain-dict copies of ``messages``; without a system role, system text leads the first user turn."""
    out = [dict(m) for m in messages]
    if system_role:
        return out
    system = [str(m.get("content") or "") for m in out if m.get("role") == "system"]
    rest = [m for m in out if m.get("role") != "system"]
    if not system:
        return rest
    prefix = "\n\n".join(part for part in system if part)
    for message in rest:
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            message["content"] = f"{prefix}\n\n{message['content']}"
            return rest
    return [{"role": "user", "content": prefix}, *rest]


def _content_text(content: Any) -> str:
    """Message content as text: a string, the text parts of a list of parts, or an object as JSON."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            text = part.get("text") if isinstance(part, Mapping) else part
            if isinstance(text, Mapping):  # {"type": "text", "text": {"value": ...}}
                text = text.get("value")
            if isinstance(text, str):
                parts.append(text)
        return "".join(parts)
    if isinstance(content, Mapping):
        return json.dumps(content, ensure_ascii=False)
    return str(content)


def _text_or_none(value: Any) -> str | None:
    """A string field that a server may fill with anything: strings kept, objects as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _estimate(text: str) -> int:
    return (len(text) + 3) // 4


def estimate_usage(messages: Sequence[Message], answer: ParsedAnswer) -> Usage:
    """Token counts guessed at four characters a token, for servers that report no usable usage.

    An estimate keeps cost and token budgets meaningful where zero would make them never bind.
    """
    prompt = sum(_estimate(_content_text(m.get("content"))) for m in messages)
    completion = _estimate(answer.text) + _estimate(answer.reasoning) + _estimate(answer.tool_arguments or "")
    return Usage(prompt, completion, _estimate(answer.reasoning))


USAGE_SLACK_TOKENS = 1024
"""Tokens a prompt or an answer may count beyond one per UTF-8 byte of its text (chat template,
tool schemas): a tokenizer never makes more than one token of a byte, so more is implausible."""

HIDDEN_REASONING_TOKENS = 262_144
"""Completion tokens allowed beyond the visible text when ``max_tokens`` is not set: reasoning
models count reasoning they do not return. Above every current model's output limit."""

MAX_CHARS_PER_TOKEN = 64
"""A count so low that a token would have to cover more characters than this is implausible
(it would loosen token and cost budgets); checked only for texts of 256 characters or more."""


def _count(value: Any) -> int | None:
    """A token count as the server sent it: a non-negative integer (or integral float), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and value >= 0 else None


def _bytes(*texts: str | None) -> int:
    return sum(len(text.encode("utf-8", "replace")) for text in texts if text)


def _absent(value: Any) -> bool:
    return value is None or (type(value) is int and value == 0)


def settle_usage(reported: Any, messages: Sequence[Message], answer: ParsedAnswer, *,
                 max_tokens: int | None = None, prompt_extra: str = "") -> tuple[Usage, bool, str | None]:
    """The usage to account for one answer: (counts, whether estimated, what was implausible).

    The server's counts are used where they are integers ≥ 0 within what the text can hold:
    prompt tokens at most one per UTF-8 byte of the messages (and ``prompt_extra``: tool schemas,
    response format) plus :data:`USAGE_SLACK_TOKENS`; completion tokens likewise for the answer,
    plus ``max_tokens`` or :data:`HIDDEN_REASONING_TOKENS` of hidden reasoning; and neither so low
    that a token would cover :data:`MAX_CHARS_PER_TOKEN` characters. Any other count (missing,
    negative, a string, 10**18) is replaced by the estimate, the call is flagged as estimated and
    the reason returned. No usage at all (or zero for both) is estimated without a complaint. Budgets therefore only ever see plausible, non-negative
    counts: a server cannot loosen them, nor end a run by claiming a billion tokens.
    """
    estimate = estimate_usage(messages, answer)
    if not isinstance(reported, Mapping) or (_absent(reported.get("prompt_tokens"))
                                             and _absent(reported.get("completion_tokens"))):
        return estimate, True, None  # what servers without counts send
    prompt, completion = _count(reported.get("prompt_tokens")), _count(reported.get("completion_tokens"))
    prompt_chars = sum(len(_content_text(m.get("content"))) for m in messages)
    answer_chars = len(answer.text) + len(answer.reasoning) + len(answer.tool_arguments or "")
    prompt_max = _bytes(*(_content_text(m.get("content")) for m in messages), prompt_extra) + USAGE_SLACK_TOKENS
    completion_max = (_bytes(answer.text, answer.reasoning, answer.tool_arguments, answer.tool_name)
                      + (max_tokens if max_tokens is not None else HIDDEN_REASONING_TOKENS) + USAGE_SLACK_TOKENS)
    problems: list[str] = []

    def settle(name: str, value: int | None, chars: int, most: int, guess: int) -> int:
        raw = reported.get(name)
        if value is None:
            problems.append(f"{name}={_shown(raw)} is not a count")
        elif value > most:
            problems.append(f"{name}={value} is more than the text can hold")
        elif chars >= 256 and value * MAX_CHARS_PER_TOKEN < chars:
            problems.append(f"{name}={value} is too few for {chars} characters")
        else:
            return value
        return guess

    prompt_tokens = settle("prompt_tokens", prompt, prompt_chars, prompt_max, estimate.prompt_tokens)
    completion_tokens = settle("completion_tokens", completion, answer_chars, completion_max,
                               estimate.completion_tokens)
    details = reported.get("completion_tokens_details")
    raw_reasoning = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
    reasoning_tokens = 0
    if raw_reasoning is not None:
        counted = _count(raw_reasoning)
        if counted is None or counted > completion_tokens:
            problems.append(f"reasoning_tokens={_shown(raw_reasoning)} is not a count within completion_tokens")
            reasoning_tokens = min(estimate.reasoning_tokens, completion_tokens)
        else:
            reasoning_tokens = counted
    usage = Usage(prompt_tokens, completion_tokens, reasoning_tokens)
    if problems:
        return usage, True, "; ".join(problems)
    return usage, False, None


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True) if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


class ParsedAnswer:
    """The useful parts of a completion: answer text, reasoning, first tool call, finish reason.

    ``reported_usage`` is the ``usage`` value exactly as the server sent it (any JSON); the client
    turns it into counts with :func:`settle_usage`.
    """

    def __init__(self, text: str, reasoning: str, tool_name: str | None, tool_arguments: str | None,
                 finish_reason: str | None, reported_usage: Any = None) -> None:
        self.text = text
        self.reasoning = reasoning
        self.tool_name = tool_name
        self.tool_arguments = tool_arguments
        self.finish_reason = finish_reason
        self.reported_usage = reported_usage


def parse_completion(raw: Mapping[str, Any]) -> ParsedAnswer:
    """Read a completion dict (already bounded and cleaned, see :mod:`aira_dsl.llm.untrusted`).

    No choices, or a first choice without a message, is a :class:`TransientResponseError` (worth
    a retry); fields of the wrong type are read as leniently as they can be, never trusted.
    """
    choices = raw.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise TransientResponseError("the response holds no choices")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, Mapping):
        raise TransientResponseError("the response's first choice holds no message")
    text, think = strip_reasoning(_content_text(message.get("content")))
    separate = _content_text(message.get("reasoning_content") or message.get("reasoning"))
    reasoning = "\n\n".join(part for part in (separate.strip(), think) if part)
    tool_name = tool_arguments = None
    calls = message.get("tool_calls") or []
    function: Any = None
    if isinstance(calls, list) and calls and isinstance(calls[0], Mapping):
        function = calls[0].get("function")
    elif isinstance(message.get("function_call"), Mapping):
        function = message["function_call"]
    if isinstance(function, Mapping):
        tool_name = _text_or_none(function.get("name"))
        tool_arguments = _text_or_none(function.get("arguments"))
    return ParsedAnswer(text, reasoning, tool_name, tool_arguments, _text_or_none(choice.get("finish_reason")),
                        raw.get("usage"))


def _slot(tools: dict[int, dict[str, Any]], call: Mapping[str, Any]) -> dict[str, Any]:
    index = call.get("index")
    key = index if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < 64 else 0
    return tools.setdefault(key, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})


async def collect_stream(chunks: AsyncIterator[Mapping[str, Any]]) -> dict[str, Any]:
    """Assemble server-sent chunks into the dict a non-streamed call would have returned.

    Chunks are untrusted JSON objects: parts of the wrong type are skipped; a stream whose
    choices never carry a ``delta`` object has no message (as a non-streamed answer whose
    message is null), and one whose text grows past
    :data:`~aira_dsl.llm.untrusted.MAX_RESPONSE_BYTES` characters is refused.
    """
    content: list[str] = []
    reasoning: list[str] = []
    tools: dict[int, dict[str, Any]] = {}
    head: dict[str, Any] = {}
    finish_reason: Any = None
    usage = None
    saw_choice = saw_delta = False
    size = 0
    async for chunk in chunks:
        for key in ("id", "model", "created"):
            if chunk.get(key) is not None:
                head.setdefault(key, chunk[key])
        if chunk.get("usage"):
            usage = chunk["usage"]
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            if not isinstance(choice, Mapping):
                continue
            saw_choice = True
            finish_reason = choice.get("finish_reason") or finish_reason
            delta = choice.get("delta")
            if not isinstance(delta, Mapping):
                continue
            saw_delta = True
            pieces = [_content_text(delta.get("content")),
                      _content_text(delta.get("reasoning_content") or delta.get("reasoning"))]
            content.append(pieces[0])
            reasoning.append(pieces[1])
            calls = delta.get("tool_calls")
            for call in calls if isinstance(calls, list) else []:
                if not isinstance(call, Mapping):
                    continue
                slot = _slot(tools, call)
                slot["id"] = _text_or_none(call.get("id")) or slot["id"]
                function = call.get("function")
                if isinstance(function, Mapping):
                    pieces += [_text_or_none(function.get("name")) or "", _text_or_none(function.get("arguments")) or ""]
                    slot["function"]["name"] += pieces[-2]
                    slot["function"]["arguments"] += pieces[-1]
            size += sum(map(len, pieces))
            if size > MAX_RESPONSE_BYTES:
                raise TransientResponseError(f"the streamed answer is longer than {MAX_RESPONSE_BYTES:,} characters")
    if saw_choice and not saw_delta:
        raise TransientResponseError("the stream's choices hold no message (no delta)")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
    if any(reasoning):
        message["reasoning_content"] = "".join(reasoning)
    if tools:
        message["tool_calls"] = [tools[index] for index in sorted(tools)]
    raw: dict[str, Any] = {**head, "object": "chat.completion",
                           "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}]
                           if saw_choice else []}
    if usage is not None:
        raw["usage"] = usage
    return raw
