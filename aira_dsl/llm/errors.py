"""Exceptions of the LLM layer, each carrying a one-screen message and a hint.

A run that cannot reach its model should stop with a sentence a user can act on ("OPENAI_API_KEY
is not set", "the endpoint rejected the model name"), never with an HTTP client's traceback. The
CLI maps :class:`LLMError` to exit code 2 (usage or environment error); budget exhaustion is not
an error of the endpoint and so is a separate class the runtime catches to end a run cleanly.
"""

from __future__ import annotations

from aira_dsl.diagnostics import Diagnostic
from aira_dsl.llm.untrusted import clean_text
from aira_dsl.settings.model import ModelConfigError

__all__ = [
    "BudgetExceeded",
    "LLMConfigError",
    "LLMError",
    "LLMRequestError",
    "LLMUnavailableError",
    "ReplayMissError",
]


class LLMError(Exception):
    """Base class: something about reaching or using a model went wrong.

    ``code`` is a stable slug used when the error is shown as a diagnostic. Messages quote what
    servers said, so they are cleaned of lone surrogates and NUL (they are journaled and printed).
    """

    code = "llm-error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        message = clean_text(message)
        super().__init__(message)
        self.message = message
        self.hint = None if hint is None else clean_text(hint)

    def render(self) -> str:
        """The message and, when known, the hint on its own line."""
        return self.message + (f"\n  hint: {self.hint}" if self.hint else "")

    def to_diagnostic(self) -> Diagnostic:
        """The error as a :class:`Diagnostic`, for the CLI's renderers."""
        return Diagnostic(self.code, self.message, hint=self.hint)


class LLMConfigError(LLMError, ModelConfigError):
    """The model settings cannot work: missing key variable, malformed ``base_url``, bad value.

    Also a :class:`~aira_dsl.settings.model.ModelConfigError` (what the settings type raises
    itself), so one ``except ModelConfigError`` covers both.
    """

    code = "llm-config"


class LLMRequestError(LLMError):
    """The endpoint answered with an error that retrying cannot fix (400, 401, 403, 404, 422...)."""

    code = "llm-request"

    def __init__(self, message: str, *, hint: str | None = None, status_code: int | None = None,
                 model: str = "", base_url: str = "", context_length: bool = False,
                 unsupported: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.model = model
        self.base_url = base_url
        self.context_length = context_length
        self.unsupported = unsupported

    @property
    def unsupported_feature(self) -> bool:
        """Whether the rejection looks like "this server does not support that parameter".

        Structured-output detection moves on to a simpler method on such rejections (400, 422,
        501, or a 500 whose message is a request-validation failure); a prompt that is too long
        is a different problem and is not one of them.
        """
        return (self.status_code in (400, 422, 501) or self.unsupported) and not self.context_length


class LLMUnavailableError(LLMError):
    """Transient failures (rate limits, 5xx, timeouts, bad bodies) outlasted the retry budget."""

    code = "llm-unavailable"

    def __init__(self, message: str, *, hint: str | None = None, attempts: int = 0,
                 elapsed: float = 0.0) -> None:
        super().__init__(message, hint=hint)
        self.attempts = attempts
        self.elapsed = elapsed


class ReplayMissError(LLMError):
    """Replay mode met a request that the recording does not hold."""

    code = "llm-replay-miss"

    def __init__(self, message: str, *, hint: str | None = None, operator: str = "",
                 node_id: str | None = None, key: str = "") -> None:
        super().__init__(message, hint=hint)
        self.operator = operator
        self.node_id = node_id
        self.key = key


class BudgetExceeded(Exception):
    """A cost or token limit set on the accountant is spent; raised before the next call."""

    def __init__(self, limit: str, allowed: float, spent: float) -> None:
        unit = "USD" if limit == "cost_usd" else "tokens"
        super().__init__(f"budget exhausted: {limit} limit {allowed:g} {unit}, spent {spent:g} {unit}")
        self.limit = limit
        self.allowed = allowed
        self.spent = spent
