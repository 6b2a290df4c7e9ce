"""Asking a code operator's model for a program, and asking again when none came back.

A model sometimes answers with prose only, a snippet that does not compile, or nothing at all.
Rather than spend an execution on it, the operator re-asks up to its ``retries``: the model's own
answer (reasoning stripped, as the design asks) is appended as an assistant turn, followed by a
short user turn that says what was wrong. Every attempt's accounting is kept in the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aira_dsl.llm.parsing import CodeAnswer, extract_code
from aira_dsl.llm.types import CallInfo, ChatModel, ChatResult, Message, Usage

__all__ = ["CodeResult", "ask_for_code", "reask_message"]


def reask_message(problem: str) -> str:
    """The user turn sent after an answer with no usable code."""
    return (f"Your previous answer could not be used: {problem}. Reply again with a brief plan "
            "followed by the complete, runnable program in a single ```python code block.")


@dataclass(frozen=True)
class CodeResult:
    """The outcome of :func:`ask_for_code`: the last answer's plan and code, and every call made."""

    plan: str
    code: str | None
    problem: str | None
    attempts: int
    calls: tuple[ChatResult, ...]

    @property
    def ok(self) -> bool:
        return self.code is not None

    @property
    def answer(self) -> CodeAnswer:
        return CodeAnswer(self.plan, self.code, self.problem)

    @property
    def reasoning(self) -> str:
        """The reasoning of every attempt, in order (kept for the journal, never re-sent)."""
        return "\n\n".join(call.reasoning for call in self.calls if call.reasoning)

    @property
    def usage(self) -> Usage:
        total = Usage()
        for call in self.calls:
            total = total + call.usage
        return total

    @property
    def cost_usd(self) -> float:
        return sum(call.cost_usd for call in self.calls)

    @property
    def latency(self) -> float:
        return sum(call.latency for call in self.calls)


async def ask_for_code(model: ChatModel, messages: Sequence[Message], *, retries: int,
                       info: CallInfo) -> CodeResult:
    """Ask for code; re-ask up to ``retries`` more times while the answer holds none.

    LLM errors (unavailable endpoint, budget, replay miss) propagate; an answer without code after
    the last attempt is a result with ``code=None`` and the reason in ``problem``.
    """
    conversation = [dict(m) for m in messages]
    calls: list[ChatResult] = []
    answer = CodeAnswer("", None, "no attempt was made")
    for _ in range(max(0, retries) + 1):
        result = await model.chat(conversation, purpose=info)
        calls.append(result)
        answer = extract_code(result.text)
        if answer.code is not None:
            break
        conversation += [
            {"role": "assistant", "content": result.text or "(empty answer)"},
            {"role": "user", "content": reask_message(answer.problem or "no code was found")},
        ]
    return CodeResult(answer.plan, answer.code, answer.problem, len(calls), tuple(calls))
