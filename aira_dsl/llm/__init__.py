"""The LLM layer: the runtime's only way to reach a model.

One :class:`OpenAIChatModel` per model of the plan talks to any OpenAI-compatible endpoint with
bounded retries, a concurrency limit, accounting and record/replay. :func:`ask_for_code` and
:func:`ask_for_review` are what operators call; :mod:`aira_dsl.llm.parsing` reads answers;
:class:`ScriptedServer` (imported from :mod:`aira_dsl.llm.scripted`) is the scripted test server.
See ``docs/llm.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aira_dsl.llm.accounting import Accountant, CallRecord, Totals
    from aira_dsl.llm.cache import CacheMode, ResponseCache, request_key
    from aira_dsl.llm.client import OpenAIChatModel
    from aira_dsl.llm.codegen import CodeResult, ask_for_code
    from aira_dsl.llm.config import ModelConfigError, ModelSettings, ReviewMethod, StructuredOutput
    from aira_dsl.llm.errors import (
        BudgetExceeded,
        LLMConfigError,
        LLMError,
        LLMRequestError,
        LLMUnavailableError,
        ReplayMissError,
    )
    from aira_dsl.llm.parsing import (
        CodeAnswer,
        Review,
        ReviewParseError,
        extract_code,
        parse_review,
        strip_reasoning,
    )
    from aira_dsl.llm.review import ReviewResult, ask_for_review
    from aira_dsl.llm.types import CallInfo, ChatModel, ChatResult, Message, Usage

# Imported on first use: the CLI imports ``aira_dsl.llm.errors`` for every command, and the
# ``openai`` package behind the client takes about a second to import.
_LAZY = {
    "Accountant": "aira_dsl.llm.accounting",
    "BudgetExceeded": "aira_dsl.llm.errors",
    "CacheMode": "aira_dsl.llm.cache",
    "CallInfo": "aira_dsl.llm.types",
    "CallRecord": "aira_dsl.llm.accounting",
    "ChatModel": "aira_dsl.llm.types",
    "ChatResult": "aira_dsl.llm.types",
    "CodeAnswer": "aira_dsl.llm.parsing",
    "CodeResult": "aira_dsl.llm.codegen",
    "LLMConfigError": "aira_dsl.llm.errors",
    "LLMError": "aira_dsl.llm.errors",
    "LLMRequestError": "aira_dsl.llm.errors",
    "LLMUnavailableError": "aira_dsl.llm.errors",
    "Message": "aira_dsl.llm.types",
    "ModelConfigError": "aira_dsl.llm.config",
    "ModelSettings": "aira_dsl.llm.config",
    "OpenAIChatModel": "aira_dsl.llm.client",
    "ReplayMissError": "aira_dsl.llm.errors",
    "ResponseCache": "aira_dsl.llm.cache",
    "Review": "aira_dsl.llm.parsing",
    "ReviewMethod": "aira_dsl.llm.config",
    "ReviewParseError": "aira_dsl.llm.parsing",
    "ReviewResult": "aira_dsl.llm.review",
    "StructuredOutput": "aira_dsl.llm.config",
    "Totals": "aira_dsl.llm.accounting",
    "Usage": "aira_dsl.llm.types",
    "ask_for_code": "aira_dsl.llm.codegen",
    "ask_for_review": "aira_dsl.llm.review",
    "extract_code": "aira_dsl.llm.parsing",
    "parse_review": "aira_dsl.llm.parsing",
    "request_key": "aira_dsl.llm.cache",
    "strip_reasoning": "aira_dsl.llm.parsing",
}

__all__ = [
    "Accountant",
    "BudgetExceeded",
    "CacheMode",
    "CallInfo",
    "CallRecord",
    "ChatModel",
    "ChatResult",
    "CodeAnswer",
    "CodeResult",
    "LLMConfigError",
    "LLMError",
    "LLMRequestError",
    "LLMUnavailableError",
    "Message",
    "ModelConfigError",
    "ModelSettings",
    "OpenAIChatModel",
    "ReplayMissError",
    "ResponseCache",
    "Review",
    "ReviewMethod",
    "ReviewParseError",
    "ReviewResult",
    "StructuredOutput",
    "Totals",
    "Usage",
    "ask_for_code",
    "ask_for_review",
    "extract_code",
    "parse_review",
    "request_key",
    "strip_reasoning",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
