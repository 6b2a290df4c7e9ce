"""The hostile-endpoint suite: 23 ways a server answers badly, each against the real client.

Every mode is a real HTTP server misbehaving (:mod:`aira_dsl.llm.hostile` builds the bytes) and
the real :class:`OpenAIChatModel` reading it; nothing is patched. Each mode must end one of two
documented ways (docs/llm.md, "Hostile endpoints"): *retried* — the attempt is refused with a
clear reason and the next attempt's good answer is used (and when the server never stops, one
``LLMUnavailableError`` with that reason and a hint) — or *accepted cleaned* — the answer is used
with its strings sanitised or its usage replaced by the estimate and flagged. In every case:
no other exception escapes, accounting never records negative or absurd usage, and whatever is
bound for the journal holds no lone surrogate and no NUL (it is written to SQLite to prove it).
The last test runs the engine against a server that plays hostile modes mid-run.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from aira_dsl.llm import (
    Accountant,
    BudgetExceeded,
    CallInfo,
    LLMError,
    LLMRequestError,
    LLMUnavailableError,
    OpenAIChatModel,
    ask_for_review,
    parse_review,
    strip_reasoning,
)
from aira_dsl.llm.parsing import ReviewParseError
from aira_dsl.llm.script import FAULTS
from aira_dsl.llm.types import ChatResult
from aira_dsl.llm.untrusted import MAX_JSON_DEPTH, TransientResponseError, clean_text, decode_json
from aira_dsl.llm.wire import HIDDEN_REASONING_TOKENS, ParsedAnswer, settle_usage

HELLO = [{"role": "user", "content": "hello"}]
INFO = CallInfo("draft", "draft", 7)
OK = {"text": "fine"}
UNSAFE = re.compile("[\x00\ud800-\udfff]")
ABSURD_TOKENS = 10_000_000

# The 23 modes. Each: (id, fault, outcome, words the refusal must contain). Outcomes: "retried"
# (refused with a reason, the next attempt answers), "cleaned" (accepted, strings sanitised),
# "estimated" (accepted, usage replaced by the estimate and flagged), "fails_at_once" (one clear
# error, no retry), "reasked" (the review is asked for again by ask_for_review).
MODES: list[tuple[str, dict[str, Any], str, str]] = [
    ("invalid-json", {"fault": "invalid_json"}, "retried", "not valid JSON"),
    ("html-content-type", {"fault": "html"}, "retried", "HTML page"),
    ("error-body-with-200", {"fault": "error_body_200"}, "retried", "overloaded"),
    ("empty-choices", {"fault": "empty_choices"}, "retried", "no choices"),
    ("null-message", {"fault": "null_message"}, "retried", "no message"),
    ("non-json-tool-arguments", {"fault": "bad_review_args"}, "reasked", "could not be read"),
    ("huge-usage", {"fault": "bad_usage", "usage": {"prompt_tokens": 10**18, "completion_tokens": 10**18,
                                                     "completion_tokens_details": {"reasoning_tokens": 10**18}}},
     "estimated", "more than the text can hold"),
    ("negative-usage", {"fault": "bad_usage", "usage": {"prompt_tokens": -9_000_000_000,
                                                         "completion_tokens": -5}}, "estimated", "not a count"),
    ("string-usage", {"fault": "bad_usage", "usage": {"prompt_tokens": "many", "completion_tokens": "12"}},
     "estimated", "not a count"),
    ("huge-retry-after", {"fault": "rate_limit", "header": "99999999999"}, "fails_at_once", "asked to wait"),
    ("garbage-retry-after", {"fault": "rate_limit", "header": "soon, or NaN"}, "retried", "HTTP 429"),
    ("500-forever", {"fault": "server_error"}, "retried", "HTTP 500"),
    ("chunked-garbage", {"fault": "chunked_garbage"}, "retried", "RemoteProtocolError"),
    ("truncated-body", {"fault": "truncated_body"}, "retried", "RemoteProtocolError"),
    ("sse-garbage", {"fault": "sse_garbage"}, "retried", "not valid JSON"),
    ("list-content", {"fault": "list_content"}, "cleaned", ""),
    ("100000-deep-json", {"fault": "deep_json"}, "retried", "nested too deeply"),
    ("5mb-answer", {"fault": "huge_answer"}, "retried", "4"),
    ("lone-surrogates", {"fault": "lone_surrogates"}, "cleaned", ""),
    ("nul-characters", {"fault": "nul_bytes"}, "cleaned", ""),
    ("slow-drip", {"fault": "slow_drip", "seconds": 0.05}, "retried", "timed out"),
    ("close-without-response", {"fault": "close_without_response"}, "retried", "connection failed"),
    ("invalid-utf8", {"fault": "invalid_utf8"}, "retried", "not UTF-8"),
]
TIMEOUT = 0.6
"""The per-attempt deadline in these tests (the slow drip would take ~15 s without it)."""


def test_the_suite_covers_23_modes_and_docs_list_every_fault() -> None:
    assert len(MODES) == 23 and len({mode[0] for mode in MODES}) == 23
    docs = (Path(__file__).resolve().parents[2] / "docs" / "llm.md").read_text(encoding="utf-8")
    assert [kind for kind in FAULTS if f"| `{kind}` |" not in docs] == []
    assert {mode[1]["fault"] for mode in MODES} <= set(FAULTS)


def _script(fault: dict[str, Any], times: int, answer: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"rules": [{"faults": [{**fault, "times": times}], "answers": [answer or OK]}]}


def _journal(*texts: str | None) -> None:
    """Write ``texts`` to SQLite as the journal does: a lone surrogate would raise here."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (v TEXT)")
    conn.executemany("INSERT INTO t VALUES (?)", [(t,) for t in texts if t is not None])
    assert all(UNSAFE.search(v) is None for (v,) in conn.execute("SELECT v FROM t"))


def _journal_result(result: ChatResult) -> None:
    _journal(result.text, result.reasoning, result.tool_arguments, result.tool_name, result.finish_reason,
             json.dumps(result.raw, ensure_ascii=False), json.dumps(result.to_dict(), ensure_ascii=False))


def _sane_accounting(accountant: Accountant) -> None:
    for record in accountant.records():
        for count in (record.prompt_tokens, record.completion_tokens, record.reasoning_tokens):
            assert isinstance(count, int) and 0 <= count < ABSURD_TOKENS, record
        assert 0.0 <= record.cost_usd < 1.0, record
        _journal(record.error)


def _chat(model: OpenAIChatModel) -> Any:
    return model.chat(HELLO, purpose=INFO)


def _review(model: OpenAIChatModel) -> Any:
    return ask_for_review(model, HELLO, info=CallInfo("analyze", "analyze", 7))


PRICED = {"price_input_per_mtok": 1.0, "price_output_per_mtok": 2.0}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize(("name", "fault", "outcome", "words"), MODES, ids=[m[0] for m in MODES])
def test_each_mode_once_is_handled_as_documented(serve: Any, fast: Any, drive: Any, name: str,
                                                 fault: dict[str, Any], outcome: str, words: str,
                                                 stream: bool, caplog: pytest.LogCaptureFixture) -> None:
    review = {"review": {"is_bug": False, "summary": "ran fine", "metric": 0.5}}
    server = serve(_script(fault, 1, review if outcome == "reasked" else None))
    accountant = Accountant()
    settings = fast(server, stream=stream, timeout=TIMEOUT, **PRICED)
    started = time.monotonic()
    if outcome == "fails_at_once":
        with pytest.raises(LLMUnavailableError) as caught:
            drive(settings, _chat, accountant=accountant)
        assert caught.value.attempts == 1 and words in caught.value.message
        assert "max_retry_time" in (caught.value.hint or "")
        _journal(caught.value.message, caught.value.hint)
    elif outcome == "reasked":
        result = drive(settings, _review, accountant=accountant)
        assert result.ok and len(result.calls) == 2 and not result.review.is_bug
        complaint = server.chat_requests()[1]["body"]["messages"][-1]["content"]
        assert words in complaint
        for call in result.calls:
            _journal_result(call)
    else:
        result = drive(settings, _chat, accountant=accountant)
        _journal_result(result)
        if outcome == "retried":
            assert result.attempts == 2 and result.text == "fine"
            assert words in caplog.text  # the refused attempt's reason was logged with the retry
        else:
            assert result.attempts == 1 and result.text.startswith("fine")
            assert result.usage_estimated is (outcome == "estimated")
            if outcome == "estimated":
                assert words in caplog.text and "implausible usage" in caplog.text
                assert result.usage.prompt_tokens == (len("hello") + 3) // 4
                assert result.usage.reasoning_tokens <= result.usage.completion_tokens
                assert accountant.records()[0].usage_estimated
    _sane_accounting(accountant)
    assert time.monotonic() - started < (TIMEOUT + 3.0)
    assert server.chat_requests()[0]["outcome"] == f"fault:{fault['fault']}"


FOREVER = [mode for mode in MODES if mode[2] == "retried"]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize(("name", "fault", "outcome", "words"), FOREVER, ids=[m[0] for m in FOREVER])
def test_each_mode_forever_fails_with_one_clear_error(serve: Any, fast: Any, drive: Any, name: str,
                                                      fault: dict[str, Any], outcome: str, words: str,
                                                      stream: bool) -> None:
    server = serve(_script(fault, 100))
    accountant = Accountant()
    with pytest.raises(LLMUnavailableError) as caught:
        drive(fast(server, stream=stream, timeout=TIMEOUT, max_attempts=2, **PRICED), _chat,
              accountant=accountant)
    error = caught.value
    assert error.attempts == 2 and len(server.chat_requests()) == 2
    assert "failed after 2 attempt(s)" in error.message and words in error.message, error.message
    assert error.hint and "Traceback" not in error.render()
    if name == "slow-drip":
        assert "timeout=0.6s" in error.hint
    elif name in ("invalid-json", "html-content-type", "100000-deep-json", "5mb-answer", "invalid-utf8"):
        assert "OpenAI-compatible" in error.hint
    [record] = accountant.records()
    assert record.error is not None and record.attempts == 2 and record.cost_usd == 0.0
    _sane_accounting(accountant)
    _journal(error.message, error.hint)


def test_a_slow_drip_is_cut_by_the_per_attempt_deadline(serve: Any, fast: Any, drive: Any) -> None:
    """One byte every 50 ms never trips a per-read timeout; the total deadline cuts it at 0.6 s."""
    server = serve(_script({"fault": "slow_drip", "seconds": 0.05}, 1))
    started = time.monotonic()
    result = drive(fast(server, timeout=TIMEOUT), _chat)
    elapsed = time.monotonic() - started
    first, second = (r["time"] for r in server.chat_requests())
    assert result.text == "fine" and result.attempts == 2
    assert TIMEOUT - 0.05 <= second - first < TIMEOUT + 0.5  # cut at the deadline, then retried
    assert elapsed < TIMEOUT + 1.0  # the whole body would have taken 200+ bytes x 50 ms = 10+ s


def test_lone_surrogates_and_nul_never_reach_the_journal(serve: Any, fast: Any, drive: Any) -> None:
    """Answer, reasoning, tool arguments, raw body and error messages are all cleaned."""
    review = {"review": {"is_bug": False, "summary": "ok", "metric": 0.9}, "reasoning": "thinking"}
    server = serve({"rules": [
        {"when": {"kind": "analyze"}, "faults": [{"fault": "lone_surrogates"}], "answers": [review]},
        {"when": {"kind": "draft"}, "faults": [{"fault": "nul_bytes"}],
         "answers": [{"code": "print(1)", "plan": "p", "reasoning": "r"}]},
        {"when": {"kind": "debug"}, "faults": [{"fault": "http_error", "status": 400,
                                                "message": "bad \ud800 request \x00 here"}]},
    ]})
    settings = fast(server)
    verdict = drive(settings, _review)
    assert verdict.ok and verdict.review.summary.startswith("ok") and "\ufffd" in verdict.review.summary
    for call in verdict.calls:
        _journal_result(call)
        assert "\ufffd" in (call.tool_arguments or "") and "\ufffd" in call.reasoning
    drafted = drive(settings, _chat)
    _journal_result(drafted)
    assert "\ufffd\ufffd" in drafted.text and "\ufffd" in drafted.reasoning
    with pytest.raises(LLMRequestError) as caught:
        drive(settings, lambda m: m.chat(HELLO, purpose=CallInfo("debug", "debug")))
    assert "bad \ufffd request \ufffd here" in caught.value.message
    _journal(caught.value.message)


def test_a_surrogate_pair_split_across_stream_events_is_joined(serve: Any, fast: Any, drive: Any) -> None:
    """Cleaning happens after assembly: a character split in two events is not lost."""
    server = serve({"rules": [{"answers": [{"text": "emoji: " + "\U0001f600" * 40}]}]})
    result = drive(fast(server, stream=True), _chat)
    assert result.text == "emoji: " + "\U0001f600" * 40


def test_budgets_are_never_loosened_by_reported_usage(serve: Any, fast: Any, drive: Any) -> None:
    """Negative counts would give budgets head-room; the estimate is counted, so limits still bind."""
    prompt = [{"role": "user", "content": "x" * 2000}]  # about 500 tokens by the estimate
    server = serve(_script({"fault": "bad_usage", "usage": {"prompt_tokens": -9_000_000_000,
                                                            "completion_tokens": -9_000_000_000}}, 100))
    accountant = Accountant(max_tokens=1200, max_cost_usd=1.0)
    settings = fast(server, price_input_per_mtok=100.0, price_output_per_mtok=100.0)
    spent: list[tuple[int, float]] = []

    async def main() -> None:
        async with OpenAIChatModel(settings, accountant) as model:
            for _ in range(10):
                await model.chat(prompt, purpose=INFO)
                totals = accountant.totals()
                spent.append((totals.total_tokens, totals.cost_usd))

    with pytest.raises(BudgetExceeded) as caught:
        asyncio.run(main())
    assert caught.value.limit == "tokens" and len(spent) == 3  # 501 + 501 + 501 >= 1200
    assert all(b[0] > a[0] and b[1] > a[1] for a, b in itertools.pairwise(spent))
    assert all(record.usage_estimated for record in accountant.records())
    _sane_accounting(accountant)


def test_absurd_usage_neither_spends_nor_frees_the_budget(serve: Any, fast: Any, drive: Any) -> None:
    server = serve(_script({"fault": "bad_usage", "usage": {"prompt_tokens": 10**18,
                                                            "completion_tokens": 10**18}}, 1))
    accountant = Accountant(max_tokens=1000, max_cost_usd=0.01)
    drive(fast(server, **PRICED), _chat, accountant=accountant)
    accountant.check()  # 1e18 tokens would have spent both limits at once
    assert accountant.totals().total_tokens < 10 and accountant.totals().cost_usd < 1e-4


@pytest.mark.parametrize(("reported", "kept"), [
    ({"prompt_tokens": 3, "completion_tokens": 2}, (3, 2, 0)),
    ({"prompt_tokens": 3.0, "completion_tokens": 2}, (3, 2, 0)),  # integral floats are counts
    ({"prompt_tokens": 3, "completion_tokens": 2, "completion_tokens_details": {"reasoning_tokens": 1}},
     (3, 2, 1)),
    ({"prompt_tokens": 3, "completion_tokens": HIDDEN_REASONING_TOKENS}, (3, HIDDEN_REASONING_TOKENS, 0)),
])
def test_plausible_usage_is_kept(reported: dict[str, Any], kept: tuple[int, int, int]) -> None:
    usage, estimated, problem = settle_usage(reported, HELLO, ParsedAnswer("fine", "", None, None, "stop"))
    assert (usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens) == kept
    assert not estimated and problem is None


@pytest.mark.parametrize("value", [-1, -9e9, 1e18, 10**30, float("nan"), float("inf"), 2.5, True, "12", "many",
                                   None, [], {"n": 1}])
def test_implausible_counts_become_the_estimate(value: Any) -> None:
    answer = ParsedAnswer("fine", "", None, None, "stop")
    usage, estimated, problem = settle_usage({"prompt_tokens": value, "completion_tokens": 1}, HELLO, answer)
    assert estimated and problem and "prompt_tokens" in problem
    assert usage.prompt_tokens == 2 and usage.completion_tokens == 1  # the estimate; the good count is kept


def test_too_few_tokens_for_a_long_text_are_implausible() -> None:
    long = [{"role": "user", "content": "word " * 2000}]
    usage, estimated, problem = settle_usage({"prompt_tokens": 1, "completion_tokens": 1}, long,
                                             ParsedAnswer("fine", "", None, None, "stop"))
    assert estimated and "too few" in (problem or "") and usage.prompt_tokens == 2500


def test_max_tokens_bounds_the_hidden_reasoning_allowed() -> None:
    answer = ParsedAnswer("fine", "", None, None, "stop")
    reported = {"prompt_tokens": 2, "completion_tokens": 50_000}
    assert not settle_usage(reported, HELLO, answer)[1]
    assert settle_usage(reported, HELLO, answer, max_tokens=1000)[1]


@pytest.mark.parametrize(("payload", "words"), [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, "nested too deeply"),
    (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), f"more than {MAX_JSON_DEPTH} levels"),
    (b'{"n": ' + b"9" * 5000 + b"}", "not valid JSON"),
    (b'{"a": "\xff"}', "not UTF-8"),
    (b"<html>", "not valid JSON"),
    (b"x" * (4 * 1024 * 1024 + 1), "larger than 4 MiB"),
])
def test_decoding_refuses_with_a_reason(payload: bytes, words: str) -> None:
    with pytest.raises(TransientResponseError, match=re.escape(words)):
        decode_json(payload)


def test_clean_text_replaces_only_what_breaks_journaling() -> None:
    assert clean_text("plain é \U0001f600") == "plain é \U0001f600"
    assert clean_text("a\ud800b\udfffc\x00d") == "a\ufffdb\ufffdc\ufffdd"
    assert clean_text("\ud83d\ude00") == "\U0001f600"  # a pair kept apart is joined back


def test_hostile_answer_text_is_parsed_in_linear_time() -> None:
    started = time.monotonic()
    assert strip_reasoning("<think>" * 400_000) == ("", "<think>" * 399_999)
    assert strip_reasoning("a<think>b</think>c<thinking>d") == ("ac", "b\n\nd")
    with pytest.raises(ReviewParseError):
        parse_review('{"a": ' * 50_000 + '"x"' + "}" * 50_000)
    with pytest.raises(ReviewParseError):
        parse_review("{" * 1_000_000)
    assert time.monotonic() - started < 3.0
    review = parse_review('{"is_bug": false, "summary": "s", "metric": ' + "9" * 400 + "}")
    assert review.metric is None  # a 400-digit number is no metric, not an OverflowError


def test_errors_are_llm_errors_with_a_hint_never_raw_exceptions(serve: Any, fast: Any, drive: Any) -> None:
    """Every hostile mode at once on one model: each call ends in a result or an LLMError."""
    faults = [{**mode[1], "times": 1} for mode in MODES if mode[2] != "reasked"]
    server = serve({"rules": [{"faults": faults, "answers": [OK]}]})
    accountant = Accountant()
    outcomes: list[str] = []

    async def main() -> None:
        async with OpenAIChatModel(fast(server, timeout=TIMEOUT, max_attempts=1, **PRICED), accountant) as model:
            for _ in range(len(faults) + 1):
                try:
                    result = await _chat(model)
                except LLMError as exc:
                    assert exc.hint, exc
                    _journal(exc.message, exc.hint)
                    outcomes.append("error")
                else:
                    _journal_result(result)
                    outcomes.append("answer")

    asyncio.run(main())
    assert outcomes[-1] == "answer" and outcomes.count("answer") == 1 + 6  # 6 accepted modes + the last
    _sane_accounting(accountant)


@pytest.mark.slow
def test_a_run_with_a_hostile_endpoint_mid_run_does_not_crash(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine against a server that plays hostile modes in the middle of a run: every node ends
    (answered after retries, or failed with a reason), the run reaches its last step, and the
    journal holds no lone surrogate, NUL or negative count."""
    from aira_dsl.compiler import load_plan_or_spec
    from aira_dsl.llm.scripted import ScriptedServer
    from aira_dsl.runtime.engine import Engine, RunOptions

    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    repo = Path(__file__).resolve().parents[2]
    code = ("import shutil\nshutil.copy('./data/sample_submission.csv', './submission/submission.csv')\n"
            "print('validation accuracy: 0.5')\n")
    hostile = [{"fault": "lone_surrogates"}, {"fault": "deep_json"}, {"fault": "html"},
               {"fault": "bad_usage", "usage": {"prompt_tokens": -9_000_000_000, "completion_tokens": "x"}},
               {"fault": "nul_bytes"}, {"fault": "slow_drip", "seconds": 0.05}, {"fault": "huge_answer"},
               {"fault": "close_without_response"}, {"fault": "server_error", "times": 3}]
    script = {"rules": [
        {"when": {"kind": "analyze"}, "faults": [{"fault": "lone_surrogates"}, {"fault": "invalid_utf8"}],
         "answers": [{"review": {"is_bug": False, "summary": "ran", "metric": 0.5}}]},
        {"faults": hostile, "answers": [{"plan": "copy the sample", "code": code}]},
    ]}
    models = [f"models.{name}.{key}={value}" for name in ("coder", "reviewer")
              for key, value in (("timeout", "1s"), ("max_attempts", 3), ("backoff_initial", 0.01),
                                 ("backoff_max", 0.02))]
    plan = load_plan_or_spec(repo / "specs" / "aira-greedy.yaml",
                             overrides=("budget.steps=5", "budget.exec_timeout=30s", "budget.time=3m", *models))
    out = tmp_path / "run"
    with ScriptedServer(script) as server:
        summary: Any = asyncio.run(Engine(plan, RunOptions(task_ref="penguins", out=out, workers=1,
                                                           base_url=server.base_url)).run())
    assert summary.status == "finished" and summary.stop_reason == "steps", summary.stop_reason
    played = {str(r.get("outcome")) for r in server.chat_requests()}
    assert {"fault:lone_surrogates", "fault:deep_json", "fault:server_error"} <= played, (
        len(server.requests), summary)
    conn = sqlite3.connect(out / "journal.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM nodes WHERE status = 'done'").fetchone()[0] == 5
    assert conn.execute("SELECT MIN(prompt_tokens), MIN(completion_tokens), MIN(cost_usd) "
                        "FROM llm_calls").fetchone() >= (0, 0, 0)
    assert conn.execute("SELECT MAX(prompt_tokens + completion_tokens) FROM llm_calls").fetchone()[0] < ABSURD_TOKENS
    texts = [v for row in conn.execute("SELECT messages, response, reasoning FROM llm_calls") for v in row if v]
    texts += [v for (v,) in conn.execute("SELECT error FROM nodes WHERE error IS NOT NULL")]
    assert texts and all(UNSAFE.search(text) is None for text in texts)
    assert any("\ufffd" in text for text in texts)  # the hostile characters arrived, cleaned
    errors = [v for (v,) in conn.execute("SELECT error FROM nodes WHERE error LIKE 'model unavailable%'")]
    assert all("Traceback" not in e for e in errors)
