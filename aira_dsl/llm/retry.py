"""Which failures are worth another attempt, and how long to wait before it (tenacity).

Rate limits, 5xx, timeouts (each attempt has a total deadline of ``timeout`` seconds, however
steadily a server drips bytes), dropped connections and 200 answers that are unusable (no
choices, a body cut short, invalid or unbounded JSON: :mod:`aira_dsl.llm.untrusted`) are
transient: they are retried with exponential backoff and jitter, or after exactly the delay a
``Retry-After`` header asks for. Attempts are bounded by ``max_attempts``,
and no retry starts when its wait would end past ``max_retry_time`` seconds after the first
attempt, so one call lasts at most about ``max_retry_time + timeout``. Everything else (400, 401,
403, 404, 422, an over-long prompt) fails at once: retrying cannot fix it.
"""

from __future__ import annotations

import email.utils
import importlib
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Mapping

import openai
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from aira_dsl.llm.config import ModelSettings
from aira_dsl.llm.untrusted import TransientResponseError, clean_text

__all__ = ["AttemptTimeout", "TransientResponseError", "describe", "error_message", "is_retryable",
           "is_transport_timeout", "rejects_request", "retry_after_seconds",
           "retrying"]

log = logging.getLogger("aira_dsl.llm")

RETRYABLE_STATUS = frozenset({408, 409, 429})

# Some servers (llama-cpp-python's, built on FastAPI) answer a request they cannot validate with
# HTTP 500 instead of 400; retrying those only wastes the retry budget.
_VALIDATION_500 = re.compile(r"validation error|Input should be|Extra inputs are not permitted|"
                             r"not supported|unsupported|unrecognized (request )?argument", re.IGNORECASE)


class AttemptTimeout(TransientResponseError):
    """One attempt outlasted its total deadline (``timeout``), e.g. a server dripping its answer."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"request timed out: no complete answer within timeout={seconds:g}s")
        self.seconds = seconds


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP library's transport errors, which surface unwrapped while a stream is read."""
    found: list[type[BaseException]] = []
    for name in ("httpx2", "httpx"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        error = getattr(module, "TransportError", None)
        if isinstance(error, type) and issubclass(error, BaseException):
            found.append(error)
    return tuple(found)


_TRANSPORT_ERRORS = _transport_errors()


def error_message(exc: openai.APIStatusError) -> str:
    """The server's own words: ``error.message`` of the JSON body, else the exception text
    followed by the start of a body that is not JSON.

    Cleaned and cut to 500 characters: they end up in the journal and on the user's screen.
    """
    body = exc.body
    text = exc.message or str(exc)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            text = str(inner["message"])
        elif isinstance(inner, str):
            text = inner
    elif isinstance(body, str) and body.strip():  # not JSON: a proxy's page, or a body cut at 64 KiB
        text = f"{text}: {body[:2000]}"
    return clean_text(" ".join(text[:2000].split()))[:500]


def rejects_request(exc: BaseException) -> bool:
    """A 500 that really says "your request is invalid" (a parameter the server does not know)."""
    return (isinstance(exc, openai.APIStatusError) and exc.status_code == 500
            and _VALIDATION_500.search(error_message(exc)) is not None)


def is_retryable(exc: BaseException) -> bool:
    """True for failures another attempt may cure."""
    if isinstance(exc, openai.APIStatusError):
        if rejects_request(exc):
            return False
        return exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500
    if isinstance(exc, openai.APIConnectionError | openai.APIResponseValidationError | TransientResponseError):
        return True
    if isinstance(exc, json.JSONDecodeError):
        return True
    return bool(_TRANSPORT_ERRORS) and isinstance(exc, _TRANSPORT_ERRORS)


def _seconds(value: str, scale: float = 1.0) -> float | None:
    """A header's number of seconds; None for text, NaN and infinities (garbage is ignored)."""
    try:
        seconds = float(value) / scale
    except (ValueError, OverflowError):
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def retry_after_seconds(exc: BaseException | None) -> float | None:
    """The delay a 429/503 asks for (``retry-after-ms``, ``retry-after`` seconds or HTTP date).

    Values that are no number or date (``soon``, ``NaN``, ``inf``) are ignored: the usual backoff
    applies. A huge value is kept: the retry policy then fails the call at once, saying so, rather
    than sleep past ``max_retry_time``.
    """
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    millis = headers.get("retry-after-ms")
    if millis:
        asked = _seconds(millis, 1000.0)
        if asked is not None:
            return asked
    value = headers.get("retry-after")
    if not value:
        return None
    asked = _seconds(value)
    if asked is not None:
        return asked
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Stop:
    """Stop after ``max_attempts``, or when the coming wait would end past ``max_retry_time``."""

    def __init__(self, max_attempts: int, max_retry_time: float) -> None:
        self.max_attempts = max_attempts
        self.max_retry_time = max_retry_time

    def __call__(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.max_attempts:
            return True
        upcoming = float(getattr(state, "upcoming_sleep", 0.0) or 0.0)
        elapsed = state.seconds_since_start or 0.0
        return elapsed + upcoming > self.max_retry_time


class _Wait:
    """``Retry-After`` when the server gives one, else exponential backoff with equal jitter."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after_seconds(exc)
        if asked is not None:
            return float(asked + random.uniform(0, min(1.0, asked * 0.1)))
        base = min(self.maximum, self.initial * 2 ** (state.attempt_number - 1))
        return float(base / 2 + random.uniform(0, base / 2))


def describe(exc: BaseException | None) -> str:
    """One line on a failed attempt, for the retry log and the final error message."""
    if exc is None:
        return "?"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code} ({error_message(exc)})"
    if isinstance(exc, openai.APITimeoutError) or is_transport_timeout(exc):
        return "request timed out"
    if isinstance(exc, openai.APIConnectionError):
        return clean_text(f"connection failed ({exc.__cause__ or exc})")[:500]
    if isinstance(exc, TransientResponseError):
        return str(exc)[:500]
    text = clean_text(str(exc))[:500]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_transport_timeout(exc: BaseException) -> bool:
    """An HTTP-library timeout raised while the body was read (the package wraps only the first)."""
    return (bool(_TRANSPORT_ERRORS) and isinstance(exc, _TRANSPORT_ERRORS)
            and type(exc).__name__.endswith("Timeout"))


def retrying(settings: ModelSettings, on_retry: Callable[[RetryCallState], None] | None = None) -> AsyncRetrying:
    """A tenacity controller for one call to the model in ``settings``."""

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("model %s (%s at %s): %s on attempt %d/%d, retrying in %.2fs", settings.name,
                    settings.model, settings.endpoint, describe(exc), state.attempt_number,
                    settings.max_attempts, state.upcoming_sleep if hasattr(state, "upcoming_sleep") else 0.0)
        if on_retry is not None:
            on_retry(state)

    return AsyncRetrying(
        stop=_Stop(settings.max_attempts, settings.max_retry_time),
        wait=_Wait(settings.backoff_initial, settings.backoff_max),
        retry=retry_if_exception(is_retryable),
        reraise=True,
        before_sleep=before_sleep,
    )
