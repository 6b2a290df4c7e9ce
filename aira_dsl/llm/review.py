"""The analyze operator's structured review, by whichever method the endpoint supports.

Endpoints differ: OpenAI and vLLM take tool calls; some servers take ``response_format`` with a
JSON schema but not tools; others only ``json_object``; a few nothing at all. The first review on
a model tries, in order, a forced tool call, a ``json_schema`` response format, a ``json_object``
response format and plain text with a JSON block, moving on when the server rejects the request
(HTTP 400/422/501) or keeps answering with nothing readable. The method that worked is
remembered on the model object (one per endpoint and model) and used directly from then on;
``structured_output`` in the settings skips detection altogether.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aira_dsl.llm.config import ReviewMethod
from aira_dsl.llm.errors import LLMRequestError
from aira_dsl.llm.parsing import Review, ReviewParseError, parse_review
from aira_dsl.llm.types import CallInfo, ChatModel, ChatResult, Message, Usage

__all__ = ["REVIEW_METHODS", "REVIEW_SCHEMA", "REVIEW_TOOL_NAME", "ReviewResult", "ask_for_review",
           "review_request"]

REVIEW_TOOL_NAME = "submit_review"
REVIEW_METHODS: tuple[ReviewMethod, ...] = ("tools", "json_schema", "json_object", "text")

REVIEW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "is_bug": {"type": "boolean",
                   "description": "true if the run failed, crashed, or its output shows a bug"},
        "summary": {"type": "string",
                    "description": "two or three sentences on what happened and what the result means"},
        "metric": {"type": ["number", "null"],
                   "description": "the validation metric the run reported, or null if it reported none"},
    },
    "required": ["is_bug", "summary", "metric"],
    "additionalProperties": False,
}

_FIELDS = ("the fields is_bug (true or false), summary (a short string) and metric (the validation "
           "metric as a number, or null if the output reports none)")
_INSTRUCTIONS: dict[ReviewMethod, str] = {
    "tools": f"Report your verdict by calling the `{REVIEW_TOOL_NAME}` function with {_FIELDS}.",
    "json_schema": f"Answer with a JSON object only, with {_FIELDS}.",
    "json_object": f"Answer with a JSON object only, with {_FIELDS}.",
    "text": f"End your answer with a JSON object in a ```json code block, with {_FIELDS}.",
}


def review_request(method: ReviewMethod) -> dict[str, Any]:
    """The extra request fields of a method: ``tools``/``tool_choice`` or ``response_format``."""
    if method == "tools":
        tool = {"type": "function", "function": {"name": REVIEW_TOOL_NAME, "parameters": REVIEW_SCHEMA,
                                                 "description": "Submit the review of the executed code."}}
        return {"tools": [tool], "tool_choice": {"type": "function", "function": {"name": REVIEW_TOOL_NAME}}}
    if method == "json_schema":
        return {"response_format": {"type": "json_schema",
                                    "json_schema": {"name": "review", "strict": True, "schema": REVIEW_SCHEMA}}}
    if method == "json_object":
        return {"response_format": {"type": "json_object"}}
    return {}


def review_messages(messages: Sequence[Message], method: ReviewMethod,
                    problem: str | None = None) -> list[dict[str, Any]]:
    """``messages`` with the method's instruction (and a complaint, on a re-ask) added to the last user turn."""
    out = [dict(m) for m in messages]
    note = _INSTRUCTIONS[method]
    if problem:
        note = f"Your previous answer could not be read: {problem}. {note}"
    if out and out[-1].get("role") == "user" and isinstance(out[-1].get("content"), str):
        out[-1]["content"] = f"{out[-1]['content']}\n\n{note}"
    else:
        out.append({"role": "user", "content": note})
    return out


def _read(result: ChatResult) -> tuple[Review | None, str]:
    """The review in a result (tool arguments first, then the text), or why there is none."""
    problems = []
    for source in (result.tool_arguments, result.text):
        if not source:
            continue
        try:
            return parse_review(source), ""
        except ReviewParseError as exc:
            problems.append(str(exc))
    return None, problems[0] if problems else "the answer was empty"


@dataclass(frozen=True)
class ReviewResult:
    """The outcome of :func:`ask_for_review`.

    ``review`` is always set: when no attempt could be read it is a stand-in with ``is_bug=True``,
    ``metric=None`` and a summary saying so, and ``problem`` holds the reason. ``method`` is the
    method that produced the review; ``detected`` is true when this call found it; ``rejected``
    lists the methods the endpoint refused on the way, with its reasons.
    """

    review: Review
    method: ReviewMethod | None
    calls: tuple[ChatResult, ...]
    problem: str | None = None
    detected: bool = False
    rejected: tuple[tuple[ReviewMethod, str], ...] = ()

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def usage(self) -> Usage:
        total = Usage()
        for call in self.calls:
            total = total + call.usage
        return total

    @property
    def cost_usd(self) -> float:
        return sum(call.cost_usd for call in self.calls)


async def ask_for_review(model: ChatModel, messages: Sequence[Message], *, info: CallInfo,
                         retries: int = 1) -> ReviewResult:
    """Ask for ``{is_bug, summary, metric}``; detect the structured-output method on first use.

    Each method gets ``1 + retries`` attempts at a readable answer before (during detection) the
    next method is tried. LLM errors other than a method's rejection propagate.
    """
    configured = model.settings.structured_output
    if configured != "auto":
        order: tuple[ReviewMethod, ...] = (configured,)
    elif model.review_method is not None:
        order = (model.review_method,)
    else:
        order = REVIEW_METHODS
    detecting = configured == "auto" and model.review_method is None
    calls: list[ChatResult] = []
    rejected: list[tuple[ReviewMethod, str]] = []
    problem = "no attempt was made"
    for method in order:
        extra: Mapping[str, Any] = review_request(method)
        complaint: str | None = None
        for _ in range(max(0, retries) + 1):
            try:
                result = await model.chat(review_messages(messages, method, complaint), purpose=info, **extra)
            except LLMRequestError as exc:
                if detecting and exc.unsupported_feature:
                    rejected.append((method, exc.message))
                    break
                raise
            calls.append(result)
            review, complaint = _read(result)
            if review is not None:
                if detecting:
                    model.review_method = method
                return ReviewResult(review, method, tuple(calls), None, detecting, tuple(rejected))
            problem = f"{method}: {complaint}"
    if rejected and not calls:
        problem = "the endpoint rejected every structured-output method: " + "; ".join(
            f"{method}: {reason}" for method, reason in rejected)
    stand_in = Review(True, f"The reviewer's answer could not be read ({problem}).", None)
    return ReviewResult(stand_in, None, tuple(calls), problem, False, tuple(rejected))
