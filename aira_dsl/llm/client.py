"""The one real :class:`~aira_dsl.llm.types.ChatModel`: any OpenAI-compatible endpoint.

One ``OpenAIChatModel`` per model of the plan. Each call goes: budget check → record/replay
lookup → a slot of the model's concurrency limit → tenacity-retried request (the ``openai``
client's own retries are off, so attempts are counted and bounded in one place) → reasoning split
from the answer → accounting record (failures too) → recording. Every failure leaves as an
:class:`~aira_dsl.llm.errors.LLMError` that names the model, the endpoint and a fix.

The endpoint is not trusted: each attempt has a total deadline of ``timeout`` seconds (the HTTP
library's own timeout only bounds each wait for a byte), the body is read by
:mod:`aira_dsl.llm.body` within size, depth and encoding bounds with every string cleaned, and
reported usage is only accounted when plausible (:func:`~aira_dsl.llm.wire.settle_usage`).

Requests carry ``X-Aira-Operator``, ``X-Aira-Kind`` and ``X-Aira-Node`` headers (who asks; no
secrets): logs of a proxy can attribute calls, and the scripted test server matches on them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import openai

from aira_dsl.llm.accounting import Accountant, CallRecord
from aira_dsl.llm.body import bounded_http_client, is_event_stream, read_completion, read_events
from aira_dsl.llm.cache import ResponseCache, canonical_request, request_key
from aira_dsl.llm.config import ModelConfigError, ModelSettings, ReviewMethod
from aira_dsl.llm.errors import LLMConfigError, LLMError, LLMRequestError, LLMUnavailableError
from aira_dsl.llm.responses import (
    collect_response_stream,
    completion_from_response,
    responses_input,
    responses_params,
)
from aira_dsl.llm.retry import (
    AttemptTimeout,
    TransientResponseError,
    describe,
    error_message,
    is_retryable,
    is_transport_timeout,
    rejects_request,
    retry_after_seconds,
    retrying,
)
from aira_dsl.llm.types import CallInfo, ChatResult, Message
from aira_dsl.llm.untrusted import clean_json
from aira_dsl.llm.wire import collect_stream, parse_completion, prepare_messages, settle_usage

__all__ = ["OpenAIChatModel"]

log = logging.getLogger("aira_dsl.llm")

_CONTEXT_LENGTH = re.compile(r"context[ _](length|size|window)|too many tokens|prompt is too long|"
                             r"maximum context", re.IGNORECASE)


class _LoopState:
    """What is bound to one event loop: the HTTP client and the concurrency semaphore."""

    def __init__(self, client: openai.AsyncOpenAI, limit: int) -> None:
        self.client = client
        self.semaphore = asyncio.Semaphore(limit)


class OpenAIChatModel:
    """A model reached through the Chat Completions API (or, with ``api: responses``, the Responses
    API, translated by :mod:`aira_dsl.llm.responses`), with retries, accounting and replay."""

    def __init__(self, settings: ModelSettings, accountant: Accountant | None = None,
                 cache: ResponseCache | None = None) -> None:
        self._settings = settings
        self.accountant = accountant if accountant is not None else Accountant()
        self.cache = cache if cache is not None else ResponseCache()
        self.review_method: ReviewMethod | None = (
            None if settings.structured_output == "auto" else settings.structured_output)
        # One HTTP client and semaphore per event loop (they cannot cross loops); the limit of
        # ``max_concurrency`` therefore holds per loop, and the runtime runs calls in one loop.
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary())
        self._state_lock = threading.Lock()

    @property
    def settings(self) -> ModelSettings:
        return self._settings

    def __repr__(self) -> str:
        s = self._settings
        return f"OpenAIChatModel({s.name!r}, model={s.model!r}, endpoint={s.endpoint!r})"

    def preflight(self) -> None:
        """Check, without network, that calls can be made (the key variable is set)."""
        if self.cache.mode != "replay":
            _api_key(self._settings)

    # ------------------------------------------------------------------------------ lifecycle

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        with self._state_lock:
            state = self._states.get(loop)
            if state is None:
                s = self._settings
                client = openai.AsyncOpenAI(api_key=_api_key(s), base_url=s.endpoint, timeout=s.timeout,
                                            max_retries=0, default_headers=dict(s.extra_headers or {}),
                                            http_client=bounded_http_client())
                state = self._states[loop] = _LoopState(client, s.max_concurrency)
            return state

    async def aclose(self) -> None:
        """Close the HTTP connections opened from the running event loop."""
        with self._state_lock:
            state = self._states.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state.client.close()

    async def __aenter__(self) -> OpenAIChatModel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------------------ calls

    async def chat(self, messages: Sequence[Message], *, purpose: CallInfo,
                   tools: Sequence[Mapping[str, Any]] | None = None,
                   tool_choice: str | Mapping[str, Any] | None = None,
                   response_format: Mapping[str, Any] | None = None) -> ChatResult:
        """Send one chat request (retried as needed) and return the answer.

        Raises :class:`BudgetExceeded` before sending when a limit is spent,
        :class:`ReplayMissError` in replay mode for an unrecorded request, and otherwise an
        :class:`LLMError` subclass when the call fails.
        """
        s = self._settings
        sent = prepare_messages(messages, system_role=s.system_role)
        params: dict[str, Any]
        if s.api == "responses":
            params = responses_params(s, tools=tools, tool_choice=tool_choice, response_format=response_format)
        else:
            params = s.sampling_params()
            if tools:
                params["tools"] = [dict(tool) for tool in tools]
            if tool_choice is not None:
                params["tool_choice"] = tool_choice if isinstance(tool_choice, str) else dict(tool_choice)
            if response_format is not None:
                params["response_format"] = dict(response_format)
            if s.extra_body:
                params.update(s.extra_body)
        self.accountant.check()

        key = canonical = ""
        occurrence = 0
        if self.cache.enabled:
            # A Responses request is keyed apart from the chat request with the same fields
            # (chat keys stay as they were, so existing recordings still replay).
            keyed = {**params, "api": "responses"} if s.api == "responses" else params
            canonical = canonical_request(s.model, sent, keyed)
            key = request_key(s.model, sent, keyed)
            occurrence = self.cache.claim(key)
            if self.cache.mode == "replay":
                return self._replay(self.cache.lookup(key, occurrence, purpose), purpose)

        state = self._loop_state()
        async with state.semaphore:
            started = time.monotonic()
            attempts = 0
            try:
                async for attempt in retrying(s):
                    with attempt:
                        attempts += 1
                        raw = await self._request(state.client, sent, params, purpose)
                        parsed = parse_completion(completion_from_response(raw) if s.api == "responses"
                                                  else raw)
            except Exception as exc:
                error = self._translate(exc, attempts, time.monotonic() - started)
                if error is None:
                    raise
                self._account_failure(purpose, error, attempts, time.monotonic() - started, cached=False)
                if self.cache.mode == "record":
                    self.cache.store(key, occurrence, s.model, canonical, {"error": _error_to_dict(error)})
                raise error from exc
            latency = time.monotonic() - started

        extra = {key: params[key] for key in ("tools", "response_format", "text") if key in params}
        usage, estimated, implausible = settle_usage(
            parsed.reported_usage, sent, parsed, max_tokens=s.max_tokens,
            prompt_extra=json.dumps(extra) if extra else "")
        if implausible:
            log.warning("model %s (%s at %s): implausible usage from the server for %s (%s); the estimate %s "
                        "is accounted instead", s.name, s.model, s.endpoint, purpose.describe(), implausible,
                        usage.to_dict())
        result = ChatResult(text=parsed.text, reasoning=parsed.reasoning, tool_arguments=parsed.tool_arguments,
                            tool_name=parsed.tool_name, usage=usage, latency=latency,
                            cost_usd=s.cost(usage.prompt_tokens, usage.completion_tokens), cached=False,
                            raw=raw, finish_reason=parsed.finish_reason, attempts=attempts,
                            usage_estimated=estimated)
        self._account(purpose, result)
        if self.cache.mode == "record":
            self.cache.store(key, occurrence, s.model, canonical, {"result": result.to_dict()})
        return result

    async def _request(self, client: openai.AsyncOpenAI, messages: list[dict[str, Any]],
                       params: dict[str, Any], purpose: CallInfo) -> dict[str, Any]:
        """One HTTP attempt within its total deadline; returns the completion as a cleaned dict.

        The response is opened unread and read by :mod:`aira_dsl.llm.body` (bounded); the
        ``openai`` package still turns error statuses into its exceptions. A server that streams
        when not asked (or answers JSON when asked to stream) is read as what it sent.
        """
        s = self._settings
        headers = {"X-Aira-Operator": _header(purpose.operator), "X-Aira-Kind": _header(purpose.kind),
                   "X-Aira-Node": "" if purpose.node_id is None else _header(str(purpose.node_id))}
        # Everything but model, messages (input) and stream travels in extra_body: the endpoint,
        # not the openai package's version, decides which parameters exist.
        responses = s.api == "responses"
        options: dict[str, Any] = {"model": s.model, "extra_body": params, "extra_headers": headers,
                                   "timeout": s.timeout}
        create: Any
        if responses:
            options["input"] = responses_input(messages)
            if s.stream:
                options["stream"] = True
            create = client.responses.with_streaming_response.create
        else:
            options["messages"] = messages
            if s.stream:
                options.update(stream=True, stream_options={"include_usage": True})
            create = client.chat.completions.with_streaming_response.create
        try:
            async with asyncio.timeout(s.timeout) as deadline:
                async with create(**options) as response:
                    body = response.http_response
                    if is_event_stream(body):  # events are cleaned once joined (a pair may be split)
                        events = read_events(body)
                        raw: dict[str, Any] = clean_json(await (collect_response_stream(events) if responses
                                                                else collect_stream(events)))
                    else:
                        raw = await read_completion(body)  # cleaned as it is decoded
        except TimeoutError:
            if deadline.expired():
                raise AttemptTimeout(s.timeout) from None
            raise
        return raw

    # ------------------------------------------------------------------------------ replay

    def _replay(self, outcome: Mapping[str, Any], purpose: CallInfo) -> ChatResult:
        if "error" in outcome:
            error = _error_from_dict(outcome["error"])
            self._account_failure(purpose, error, 0, 0.0, cached=True)
            raise error
        result = ChatResult.from_dict(outcome["result"], cached=True)
        self._account(purpose, result)
        return result

    # ------------------------------------------------------------------------------ accounting

    def _account(self, purpose: CallInfo, result: ChatResult) -> None:
        usage = result.usage
        self.accountant.add(CallRecord.for_call(
            purpose, self._settings.name, self._settings.model, prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens, reasoning_tokens=usage.reasoning_tokens,
            latency=result.latency, cost_usd=result.cost_usd, cached=result.cached, attempts=result.attempts,
            usage_estimated=result.usage_estimated))

    def _account_failure(self, purpose: CallInfo, error: LLMError, attempts: int, latency: float,
                         cached: bool) -> None:
        self.accountant.add(CallRecord.for_call(
            purpose, self._settings.name, self._settings.model, latency=latency, cached=cached,
            attempts=attempts, error=f"{type(error).__name__}: {error.message}"))

    # ------------------------------------------------------------------------------ errors

    def _translate(self, exc: BaseException, attempts: int, elapsed: float) -> LLMError | None:
        """The user-facing error for a failed call; None for programming errors (re-raised)."""
        s = self._settings
        where = f"model '{s.name}' ({s.model} at {s.endpoint})"
        if isinstance(exc, LLMError):
            return exc
        if is_retryable(exc):
            asked = retry_after_seconds(exc)
            detail = describe(exc)
            if asked is not None:
                detail += f", the server asked to wait {asked:g}s"
            hint = ("the endpoint is overloaded or down: raise max_attempts or max_retry_time, lower "
                    "max_concurrency, or try again later")
            if isinstance(exc, openai.APITimeoutError | AttemptTimeout) or is_transport_timeout(exc):
                hint = (f"no complete answer within timeout={s.timeout:g}s (a total per attempt): raise the "
                        "model's timeout, or check the server")
            elif isinstance(exc, TransientResponseError) or _broken_answer(exc):
                hint = (f"the server at {s.endpoint} sent answers that are not usable completions: check that "
                        "base_url is an OpenAI-compatible endpoint (…/v1) and the server's logs, or try again later")
            elif isinstance(exc, openai.APIConnectionError):
                hint = f"is a server listening at {s.endpoint}? check base_url"
            if asked is not None and asked > s.max_retry_time:
                hint = (f"the server asked to wait longer than max_retry_time={s.max_retry_time:g}s allows: "
                        "try again later, or raise max_retry_time")
            return LLMUnavailableError(
                f"{where} failed after {attempts} attempt(s) in {elapsed:.1f}s; last error: {detail}",
                hint=hint, attempts=attempts, elapsed=elapsed)
        if isinstance(exc, openai.APIStatusError):
            return self._rejected(exc, where)
        if isinstance(exc, openai.OpenAIError):
            return LLMRequestError(f"{where}: {exc}", hint="check the model's settings", model=s.model,
                                   base_url=s.endpoint)
        return None

    def _rejected(self, exc: openai.APIStatusError, where: str) -> LLMRequestError:
        s = self._settings
        status = exc.status_code
        detail = error_message(exc)
        context = status in (400, 413, 422) and bool(_CONTEXT_LENGTH.search(detail))
        if context:
            hint = ("the prompt does not fit the model's context: lower memory limits or max_tokens, "
                    "or use a model with a longer context")
        elif status == 401:
            hint = (f"the key in {s.api_key_env} was refused by {s.endpoint}: check that it is valid there"
                    if s.api_key_env else f"{s.endpoint} wants an API key: set models.{s.name}.api_key_env")
        elif status == 403:
            hint = f"the key has no access to {s.model}: check the account's permissions"
        elif status == 404:
            hint = (f"check models.{s.name}.model ({s.model!r}) and base_url (OpenAI-compatible servers "
                    "serve under /v1)")
            if s.api == "responses":
                hint += f"; api: responses needs an endpoint that serves POST {s.endpoint}/responses"
        else:
            hint = ("the endpoint rejected a parameter: check the model's settings (send_temperature: false "
                    "for models that refuse temperature, max_tokens_param, system_role, structured_output)")
        return LLMRequestError(f"{where} rejected the request (HTTP {status}): {detail}", hint=hint,
                               status_code=status, model=s.model, base_url=s.endpoint, context_length=context,
                               unsupported=rejects_request(exc))


def _header(value: str) -> str:
    """A header-safe copy: printable ASCII only, at most 200 characters."""
    return "".join(c if " " <= c <= "~" else "?" for c in value)[:200]


def _broken_answer(exc: BaseException) -> bool:
    """A connection closed, or HTTP framing broken, after the request was sent (not a refused connect)."""
    cause = exc.__cause__ if isinstance(exc, openai.APIConnectionError) else exc
    return type(cause).__name__ in ("RemoteProtocolError", "LocalProtocolError", "ReadError",
                                    "IncompleteRead", "DecodingError")


def _api_key(settings: ModelSettings) -> str:
    """The key, or the settings' own complaint about it as an :class:`LLMConfigError`."""
    try:
        return settings.api_key()
    except LLMConfigError:
        raise
    except ModelConfigError as exc:
        raise LLMConfigError(exc.message, hint=exc.hint) from None


def _error_to_dict(error: LLMError) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type(error).__name__, "message": error.message, "hint": error.hint}
    if isinstance(error, LLMRequestError):
        data.update(status_code=error.status_code, model=error.model, base_url=error.base_url,
                    context_length=error.context_length, unsupported=error.unsupported)
    if isinstance(error, LLMUnavailableError):
        data.update(attempts=error.attempts, elapsed=error.elapsed)
    return data


def _error_from_dict(data: Mapping[str, Any]) -> LLMError:
    message, hint = str(data.get("message", "")), data.get("hint")
    kind = data.get("type")
    if kind == "LLMRequestError":
        return LLMRequestError(message, hint=hint, status_code=data.get("status_code"),
                               model=str(data.get("model", "")), base_url=str(data.get("base_url", "")),
                               context_length=bool(data.get("context_length")),
                               unsupported=bool(data.get("unsupported")))
    if kind == "LLMUnavailableError":
        return LLMUnavailableError(message, hint=hint, attempts=int(data.get("attempts", 0)),
                                   elapsed=float(data.get("elapsed", 0.0)))
    return LLMError(message, hint=hint)

