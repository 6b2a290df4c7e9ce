"""The values that cross the boundary between the runtime and the LLM layer.

The runtime depends on :class:`ChatModel` (a Protocol), not on the OpenAI client, so a model is
whatever can answer ``chat``; :class:`CallInfo` says who asked (for accounting, the request
headers a scripted server matches on, and replay error messages), :class:`ChatResult` what came
back, with reasoning already separated from the answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aira_dsl.llm.config import ModelSettings, ReviewMethod

__all__ = ["CallInfo", "ChatModel", "ChatResult", "Message", "Usage"]

Message = Mapping[str, Any]
"""One chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""


@dataclass(frozen=True)
class CallInfo:
    """Who makes a call: the operator's name and kind, and the node it works for."""

    operator: str = ""
    kind: str = ""
    node_id: str | int | None = None

    def describe(self) -> str:
        """``operator 'draft' (draft) for node 7`` — for error messages."""
        text = f"operator '{self.operator or '?'}'"
        if self.kind and self.kind != self.operator:
            text += f" ({self.kind})"
        if self.node_id is not None:
            text += f" for node {self.node_id}"
        return text


@dataclass(frozen=True)
class Usage:
    """Token counts of one call; reasoning tokens are part of completion tokens (OpenAI's rule)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens,
                     self.completion_tokens + other.completion_tokens,
                     self.reasoning_tokens + other.reasoning_tokens)

    def to_dict(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "reasoning_tokens": self.reasoning_tokens}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        return cls(int(data.get("prompt_tokens", 0)), int(data.get("completion_tokens", 0)),
                   int(data.get("reasoning_tokens", 0)))


@dataclass(frozen=True)
class ChatResult:
    """One completed call.

    ``text`` is the answer with ``<think>`` blocks removed; ``reasoning`` holds those blocks and
    any ``reasoning_content`` the server sent separately. ``tool_arguments`` is the raw argument
    string of the first tool call, if any. ``latency`` runs from the first attempt to the answer
    (retries included, waiting for a concurrency slot not). ``cached`` is true when the answer was
    replayed from a recording; tokens and cost are then the recorded ones.
    """

    text: str
    reasoning: str = ""
    tool_arguments: str | None = None
    tool_name: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency: float = 0.0
    cost_usd: float = 0.0
    cached: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)
    finish_reason: str | None = None
    attempts: int = 1
    usage_estimated: bool = False
    """True when the server reported no usage and the tokens were estimated from the text."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, used by the record/replay cache."""
        return {"text": self.text, "reasoning": self.reasoning, "tool_arguments": self.tool_arguments,
                "tool_name": self.tool_name, "usage": self.usage.to_dict(), "latency": self.latency,
                "cost_usd": self.cost_usd, "raw": dict(self.raw), "finish_reason": self.finish_reason,
                "attempts": self.attempts, "usage_estimated": self.usage_estimated}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, cached: bool = False) -> ChatResult:
        return cls(text=str(data.get("text", "")), reasoning=str(data.get("reasoning", "")),
                   tool_arguments=data.get("tool_arguments"), tool_name=data.get("tool_name"),
                   usage=Usage.from_dict(data.get("usage", {})), latency=float(data.get("latency", 0.0)),
                   cost_usd=float(data.get("cost_usd", 0.0)), cached=cached, raw=dict(data.get("raw", {})),
                   finish_reason=data.get("finish_reason"), attempts=int(data.get("attempts", 1)),
                   usage_estimated=bool(data.get("usage_estimated", False)))


class ChatModel(Protocol):
    """What the runtime needs from a model: one chat call, plus memory of the review method.

    ``review_method`` is the structured-output method found to work on this model's endpoint
    (``None`` until detected); :func:`aira_dsl.llm.ask_for_review` reads and sets it.
    """

    review_method: ReviewMethod | None

    @property
    def settings(self) -> ModelSettings: ...

    async def chat(self, messages: Sequence[Message], *, purpose: CallInfo,
                   tools: Sequence[Mapping[str, Any]] | None = None,
                   tool_choice: str | Mapping[str, Any] | None = None,
                   response_format: Mapping[str, Any] | None = None) -> ChatResult: ...
