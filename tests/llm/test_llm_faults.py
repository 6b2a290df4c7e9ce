"""Every injected fault, over real HTTP: retried or failed as specified, bounded, and accounted."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from aira_dsl.llm import Accountant, CallInfo, LLMRequestError, LLMUnavailableError

HELLO = [{"role": "user", "content": "hello"}]
INFO = CallInfo("draft", "draft", "7")
OK = {"text": "fine"}


def _script(*faults: dict[str, Any]) -> dict[str, Any]:
    return {"rules": [{"faults": list(faults), "answers": [OK]}]}


def _chat(model: Any) -> Any:
    return model.chat(HELLO, purpose=INFO)


def _settle(baseline: set[threading.Thread], timeout: float = 3.0) -> set[threading.Thread]:
    """Threads started since ``baseline`` that are still alive after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        extra = {t for t in threading.enumerate() if t not in baseline and t.is_alive()}
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.02)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("fault", [
    {"fault": "server_error", "times": 2},
    {"fault": "unavailable", "times": 2},
    {"fault": "truncated_json", "times": 2},
    {"fault": "empty_choices", "times": 2},
    {"fault": "http_error", "status": 502, "times": 2},
])
def test_transient_faults_are_retried_until_an_answer(serve: Any, fast: Any, drive: Any, fault: dict[str, Any],
                                                      stream: bool) -> None:
    server = serve(_script(fault))
    accountant = Accountant()
    result = drive(fast(server, stream=stream), _chat, accountant=accountant)
    assert result.text == "fine"
    assert result.attempts == 3
    assert [r["outcome"] for r in server.chat_requests()] == [f"fault:{fault['fault']}"] * 2 + ["answer"]
    [record] = accountant.records()
    assert record.attempts == 3 and record.error is None


def test_rate_limit_waits_as_long_as_retry_after_asks(serve: Any, fast: Any, drive: Any) -> None:
    server = serve(_script({"fault": "rate_limit", "retry_after": 0.3, "times": 2}))
    started = time.monotonic()
    result = drive(fast(server, backoff_initial=0.001, backoff_max=0.001), _chat)
    elapsed = time.monotonic() - started
    assert result.attempts == 3
    times = [r["time"] for r in server.chat_requests()]
    assert times[1] - times[0] >= 0.3 and times[2] - times[1] >= 0.3  # not the 1 ms backoff
    assert elapsed < 2.0


def test_retry_after_beyond_the_retry_time_fails_at_once(serve: Any, fast: Any, drive: Any) -> None:
    server = serve(_script({"fault": "rate_limit", "retry_after": 30}))
    started = time.monotonic()
    with pytest.raises(LLMUnavailableError, match="asked to wait 30s") as caught:
        drive(fast(server, max_retry_time=5.0), _chat)
    assert time.monotonic() - started < 2.0
    assert caught.value.attempts == 1
    assert len(server.chat_requests()) == 1


def test_persistent_5xx_stops_after_max_attempts_and_is_accounted(serve: Any, fast: Any, drive: Any) -> None:
    server = serve(_script({"fault": "server_error", "times": 100}))
    accountant = Accountant()
    with pytest.raises(LLMUnavailableError) as caught:
        drive(fast(server, max_attempts=3), _chat, accountant=accountant)
    error = caught.value
    assert error.attempts == 3 and len(server.chat_requests()) == 3
    assert "model 'coder' (scripted-model at http://127.0.0.1:" in error.message
    assert "HTTP 500" in error.message and error.hint
    [record] = accountant.records()
    assert record.attempts == 3 and record.error is not None and "HTTP 500" in record.error
    assert accountant.totals().failed_calls == 1


def test_total_retry_time_bounds_a_call(serve: Any, fast: Any, drive: Any) -> None:
    server = serve(_script({"fault": "unavailable", "times": 100}))
    started = time.monotonic()
    with pytest.raises(LLMUnavailableError):
        drive(fast(server, max_attempts=1000, max_retry_time=0.5, backoff_initial=0.1, backoff_max=0.1), _chat)
    assert time.monotonic() - started < 1.5
    assert 3 <= len(server.chat_requests()) <= 12


@pytest.mark.parametrize("stream", [False, True])
def test_a_hang_past_the_timeout_is_retried(serve: Any, fast: Any, drive: Any, stream: bool) -> None:
    server = serve(_script({"fault": "hang"}))
    started = time.monotonic()
    result = drive(fast(server, timeout=0.3, stream=stream), _chat)
    assert result.text == "fine" and result.attempts == 2
    assert 0.3 <= time.monotonic() - started < 2.0


def test_endless_hangs_fail_bounded_and_leave_nothing_running(serve: Any, fast: Any, drive: Any) -> None:
    baseline = set(threading.enumerate())
    server = serve(_script({"fault": "hang", "times": 100}))
    accountant = Accountant()
    started = time.monotonic()
    with pytest.raises(LLMUnavailableError, match="timed out") as caught:
        drive(fast(server, timeout=0.25, max_attempts=3), _chat, accountant=accountant)
    assert time.monotonic() - started < 2.5
    assert caught.value.attempts == 3 and "timeout" in (caught.value.hint or "")
    assert accountant.records()[0].attempts == 3
    stop_started = time.monotonic()
    server.stop()
    assert time.monotonic() - stop_started < 1.0
    assert _settle(baseline) == set()


def test_a_closed_port_is_a_connection_error_with_a_hint(fast: Any, drive: Any, serve: Any) -> None:
    server = serve({"rules": []})
    settings = fast(server, max_attempts=2)
    server.stop()  # nobody listens on that port any more
    with pytest.raises(LLMUnavailableError) as caught:
        drive(settings, _chat)
    assert caught.value.attempts == 2
    assert "is a server listening at http://127.0.0.1:" in (caught.value.hint or "")


@pytest.mark.parametrize(("fault", "status", "hint"), [
    ({"fault": "http_error", "status": 400, "message": "Unsupported parameter: 'temperature'"}, 400,
     "send_temperature: false"),
    ({"fault": "http_error", "status": 401, "message": "Incorrect API key"}, 401, "wants an API key"),
    ({"fault": "http_error", "status": 403, "message": "no access"}, 403, "permissions"),
    ({"fault": "http_error", "status": 404, "message": "The model does not exist"}, 404, "base_url"),
    ({"fault": "http_error", "status": 422, "message": "unprocessable"}, 422, "rejected a parameter"),
    ({"fault": "context_length"}, 400, "context"),
])
def test_non_retryable_errors_fail_fast_with_a_fix(serve: Any, fast: Any, drive: Any, fault: dict[str, Any],
                                                   status: int, hint: str) -> None:
    server = serve(_script({**fault, "times": 5}))
    accountant = Accountant()
    started = time.monotonic()
    with pytest.raises(LLMRequestError) as caught:
        drive(fast(server), _chat, accountant=accountant)
    assert time.monotonic() - started < 1.0
    error = caught.value
    assert error.status_code == status and len(server.chat_requests()) == 1
    assert f"model 'coder' (scripted-model at {server.base_url}) rejected the request (HTTP {status})" in error.message
    assert error.hint is not None and hint in error.hint
    assert error.context_length is (fault["fault"] == "context_length")
    assert accountant.records()[0].attempts == 1 and accountant.records()[0].error


def test_a_refused_key_names_the_variable(serve: Any, fast: Any, drive: Any,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRA_TEST_KEY", "sk-wrong")
    server = serve({"require_api_key": "sk-right", "rules": [{"answers": [OK]}]})
    with pytest.raises(LLMRequestError) as caught:
        drive(fast(server, api_key_env="AIRA_TEST_KEY"), _chat)
    assert caught.value.status_code == 401
    assert "the key in AIRA_TEST_KEY was refused" in (caught.value.hint or "")


def test_every_call_is_accounted_and_attempts_match_the_server(serve: Any, fast: Any) -> None:
    import asyncio

    from aira_dsl.llm import OpenAIChatModel

    server = serve({"faults": [{"fault": "rate_limit", "retry_after": 0.05}, {"fault": "server_error"},
                               {"fault": "truncated_json"}, {"fault": "empty_choices"},
                               {"fault": "http_error", "status": 404}],
                    "rules": [{"answers": [OK]}]})
    accountant = Accountant()

    async def main() -> list[Any]:
        async with OpenAIChatModel(fast(server, max_concurrency=1), accountant) as model:
            return await asyncio.gather(*(model.chat(HELLO, purpose=CallInfo("draft", node_id=i))
                                          for i in range(5)), return_exceptions=True)

    outcomes = asyncio.run(main())
    assert sum(isinstance(o, LLMRequestError) for o in outcomes) == 1
    records = accountant.records()
    assert len(records) == 5
    assert sum(r.attempts for r in records) == len(server.chat_requests())
    assert accountant.totals().attempts == len(server.chat_requests())
