"""Translation between the runtime's messages and results and the Chat Completions wire format.

Kept apart from the client so the translation (folding a system message, reading reasoning out
of ``reasoning_content`` or ``reasoning``, assembling a streamed answer into the shape of a
non-streamed one) can be read and tested on plain dicts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from aira_dsl.llm.parsing import strip_reasoning
from aira_dsl.llm.retry import TransientResponseError
from aira_dsl.llm.types import Message, Usage

__all__ = ["ParsedAnswer", "collect_stream", "estimate_usage", "parse_completion", "prepare_messages", "usage_of"]


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
    """Message content as text; content given as a list of parts keeps its text parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return str(content)


def usage_of(raw: Mapping[str, Any]) -> Usage | None:
    """Token counts of a response; None when the server reported none (some do not, when streaming)."""
    usage = raw.get("usage")
    if not isinstance(usage, Mapping) or (not usage.get("prompt_tokens") and not usage.get("completion_tokens")):
        return None
    details = usage.get("completion_tokens_details") or {}
    reasoning = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
    return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
                 int(reasoning or 0))


def _estimate(text: str) -> int:
    return (len(text) + 3) // 4


def estimate_usage(messages: Sequence[Message], answer: ParsedAnswer) -> Usage:
    """Token counts guessed at four characters a token, for servers that report no usage.

    An estimate keeps cost and token budgets meaningful where zero would make them never bind.
    """
    prompt = sum(_estimate(_content_text(m.get("content"))) for m in messages)
    completion = _estimate(answer.text) + _estimate(answer.reasoning) + _estimate(answer.tool_arguments or "")
    return Usage(prompt, completion, _estimate(answer.reasoning))


class ParsedAnswer:
    """The useful parts of a completion: answer text, reasoning, first tool call, finish reason."""

    def __init__(self, text: str, reasoning: str, tool_name: str | None, tool_arguments: str | None,
                 finish_reason: str | None, usage: Usage | None) -> None:
        self.text = text
        self.reasoning = reasoning
        self.tool_name = tool_name
        self.tool_arguments = tool_arguments
        self.finish_reason = finish_reason
        self.usage = usage


def parse_completion(raw: Mapping[str, Any]) -> ParsedAnswer:
    """Read a completion dict; no choices is a :class:`TransientResponseError` (worth a retry)."""
    choices = raw.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise TransientResponseError("the response holds no choices")
    choice = choices[0]
    message = choice.get("message") or {}
    if not isinstance(message, Mapping):
        raise TransientResponseError("the response's first choice holds no message")
    text, think = strip_reasoning(_content_text(message.get("content")))
    separate = message.get("reasoning_content") or message.get("reasoning") or ""
    reasoning = "\n\n".join(part for part in (str(separate).strip(), think) if part)
    tool_name = tool_arguments = None
    calls = message.get("tool_calls") or []
    function: Any = None
    if isinstance(calls, list) and calls and isinstance(calls[0], Mapping):
        function = calls[0].get("function")
    elif isinstance(message.get("function_call"), Mapping):
        function = message["function_call"]
    if isinstance(function, Mapping):
        tool_name = function.get("name")
        arguments = function.get("arguments")
        tool_arguments = arguments if isinstance(arguments, str) or arguments is None else str(arguments)
    return ParsedAnswer(text, reasoning, tool_name, tool_arguments, choice.get("finish_reason"),
                        usage_of(raw))


async def collect_stream(chunks: AsyncIterator[Mapping[str, Any]]) -> dict[str, Any]:
    """Assemble server-sent chunks into the dict a non-streamed call would have returned."""
    content: list[str] = []
    reasoning: list[str] = []
    tools: dict[int, dict[str, Any]] = {}
    head: dict[str, Any] = {}
    finish_reason = None
    usage = None
    saw_choice = False
    async for chunk in chunks:
        for key in ("id", "model", "created"):
            if chunk.get(key) is not None:
                head.setdefault(key, chunk[key])
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            saw_choice = True
            delta = choice.get("delta") or {}
            content.append(delta.get("content") or "")
            reasoning.append(delta.get("reasoning_content") or delta.get("reasoning") or "")
            for call in delta.get("tool_calls") or []:
                slot = tools.setdefault(int(call.get("index") or 0),
                                        {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
                slot["id"] = call.get("id") or slot["id"]
                function = call.get("function") or {}
                slot["function"]["name"] += function.get("name") or ""
                slot["function"]["arguments"] += function.get("arguments") or ""
            finish_reason = choice.get("finish_reason") or finish_reason
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
