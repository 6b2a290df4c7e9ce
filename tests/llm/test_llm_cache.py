"""Record/replay: a recorded session replays offline exactly; misses name the operator and node."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from aira_dsl.llm import (
    Accountant,
    CallInfo,
    LLMConfigError,
    LLMUnavailableError,
    OpenAIChatModel,
    ReplayMissError,
    ResponseCache,
    ask_for_code,
    ask_for_review,
    request_key,
)

TASK = [{"role": "user", "content": "Solve the task."}]
REVIEW = [{"role": "user", "content": "Review the run."}]


def _session(model: OpenAIChatModel) -> Any:
    """A small run: two identical drafts (different answers), one with a re-ask, and a review."""

    async def run() -> list[Any]:
        first = await ask_for_code(model, TASK, retries=2, info=CallInfo("draft", "draft", 1))
        second = await ask_for_code(model, TASK, retries=2, info=CallInfo("draft", "draft", 2))
        review = await ask_for_review(model, REVIEW, info=CallInfo("analyze", "analyze", 1))
        return [first.code, first.attempts, second.code, second.attempts, review.review, review.method,
                [c.text for c in (*first.calls, *second.calls, *review.calls)],
                [c.usage for c in (*first.calls, *second.calls, *review.calls)]]

    return run()


SCRIPT = {"refuse": ["tools"], "rules": [
    {"when": {"kind": "analyze"}, "answers": [{"review": {"is_bug": False, "summary": "ok", "metric": 0.7}}]},
    {"when": {"kind": "draft"}, "cycle": False, "answers": [{"text": "thinking about it"}, {"code": "a = 1"},
                                                            {"plan": "other", "code": "b = 2"}]},
]}


def test_a_recorded_session_replays_offline_exactly(serve: Any, fast: Any, drive: Any, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "llm.sqlite"
    server = serve(SCRIPT)
    recorder = Accountant()
    with ResponseCache(path, "record") as cache:
        recorded = drive(fast(server), _session, accountant=recorder, cache=cache)
        assert len(cache) == len(recorder.records())
    assert recorded[0] == "a = 1\n" and recorded[1] == 2 and recorded[2] == "b = 2\n"
    assert recorded[5] == "json_schema"
    server.stop()  # offline from here: nothing listens at that address any more

    monkeypatch.delenv("AIRA_TEST_UNSET_KEY", raising=False)
    settings = fast(server, api_key_env="AIRA_TEST_UNSET_KEY", timeout=99)  # replay needs no key
    replayer = Accountant()
    with ResponseCache(path, "replay") as cache:
        replayed = drive(settings, _session, accountant=replayer, cache=cache)
    assert replayed == recorded
    assert all(r.cached for r in replayer.records())
    assert replayer.totals().cost_usd == recorder.totals().cost_usd
    assert replayer.totals().fresh_cost_usd == 0.0
    assert [(r.operator, r.node_id, r.error is None) for r in replayer.records()] == \
        [(r.operator, r.node_id, r.error is None) for r in recorder.records()]


def test_a_replay_miss_names_the_operator_and_node(serve: Any, fast: Any, drive: Any, tmp_path: Path) -> None:
    path = tmp_path / "llm.sqlite"
    server = serve({"rules": [{"answers": [{"code": "print(1)"}]}]})
    with ResponseCache(path, "record") as cache:
        drive(fast(server), lambda m: m.chat(TASK, purpose=CallInfo("draft", "draft", 1)), cache=cache)
    with ResponseCache(path, "replay") as cache, pytest.raises(ReplayMissError) as caught:
        drive(fast(server), lambda m: m.chat([{"role": "user", "content": "A different prompt"}],
                                             purpose=CallInfo("improve", "improve", 42)), cache=cache)
    error = caught.value
    assert "operator 'improve' for node 42" in error.message
    assert (error.operator, error.node_id) == ("improve", "42")
    assert len(server.chat_requests()) == 1


def test_recorded_failures_fail_again_in_replay(serve: Any, fast: Any, drive: Any, tmp_path: Path) -> None:
    path = tmp_path / "llm.sqlite"
    server = serve({"rules": [{"faults": [{"fault": "server_error", "times": 10}]}]})

    def call(model: OpenAIChatModel) -> Any:
        return model.chat(TASK, purpose=CallInfo("draft"))

    with ResponseCache(path, "record") as cache, pytest.raises(LLMUnavailableError) as recorded:
        drive(fast(server, max_attempts=2), call, cache=cache)
    with ResponseCache(path, "replay") as cache, pytest.raises(LLMUnavailableError) as replayed:
        drive(fast(server, max_attempts=2), call, cache=cache)
    assert replayed.value.message == recorded.value.message
    assert len(server.chat_requests()) == 2


def test_the_key_ignores_endpoint_timeout_and_key_but_not_parameters(serve: Any, fast: Any, tmp_path: Path) -> None:
    messages = [{"role": "user", "content": "x"}]
    assert request_key("m", messages, {"temperature": 1}) == request_key("m", [dict(messages[0])], {"temperature": 1})
    assert request_key("m", messages, {"temperature": 1}) != request_key("m", messages, {"temperature": 0.5})
    assert request_key("m", messages, {}) != request_key("other", messages, {})

    path = tmp_path / "llm.sqlite"
    server = serve({"rules": [{"answers": [{"text": "recorded"}]}]})

    async def call(settings: Any, cache: ResponseCache) -> str:
        async with OpenAIChatModel(settings, cache=cache) as model:
            return (await model.chat(messages, purpose=CallInfo("draft"))).text

    with ResponseCache(path, "record") as cache:
        asyncio.run(call(fast(server, temperature=0.3), cache))
    with ResponseCache(path, "replay") as cache:
        moved = fast(None, base_url="http://127.0.0.1:1/v1", timeout=50, temperature=0.3)
        assert asyncio.run(call(moved, cache)) == "recorded"
    with ResponseCache(path, "replay") as cache, pytest.raises(ReplayMissError):
        asyncio.run(call(fast(server, temperature=0.9), cache))


def test_mode_off_stores_nothing_and_bad_setups_are_config_errors(serve: Any, fast: Any, drive: Any,
                                                                  tmp_path: Path) -> None:
    cache = ResponseCache(None, "off")
    server = serve({"rules": [{"answers": [{"text": "x"}]}]})
    drive(fast(server), lambda m: m.chat(TASK, purpose=CallInfo("draft")), cache=cache)
    assert len(cache) == 0 and not cache.enabled
    with pytest.raises(LLMConfigError, match="does not exist"):
        ResponseCache(tmp_path / "missing.sqlite", "replay")
    with pytest.raises(LLMConfigError, match="unknown cache mode"):
        ResponseCache(tmp_path / "x.sqlite", "replay-all")  # type: ignore[arg-type]
    with pytest.raises(LLMConfigError, match="needs a file path"):
        ResponseCache(None, "record")
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("hello, not a database\n" * 100)
    with pytest.raises(LLMConfigError, match="cannot open the recording"):
        ResponseCache(not_sqlite, "replay")


def _tampered(serve: Any, fast: Any, tmp_path: Path, change: Any) -> tuple[Path, Any]:
    """A one-call recording whose stored outcome went through ``change`` (a function of the
    outcome's JSON text), and the settings that replay it."""
    import sqlite3

    path = tmp_path / "llm.sqlite"
    server = serve({"rules": [{"answers": [{"text": "recorded answer"}]}]})
    settings = fast(server)
    with ResponseCache(path, "record") as cache:
        asyncio.run(_one_call(settings, cache))
    conn = sqlite3.connect(path)
    (outcome,) = conn.execute("SELECT outcome FROM responses").fetchone()
    conn.execute("UPDATE responses SET outcome = ?", (change(outcome),))
    conn.commit()
    conn.close()
    return path, settings


async def _one_call(settings: Any, cache: ResponseCache, accountant: Accountant | None = None) -> Any:
    async with OpenAIChatModel(settings, accountant, cache=cache) as model:
        return await model.chat(TASK, purpose=CallInfo("draft", "draft", 3))


def _json_edit(edit: Any) -> Any:
    import json

    def change(text: str) -> str:
        data = json.loads(text)
        edit(data)
        return json.dumps(data)

    return change


TAMPERED = [
    ("negative-usage", _json_edit(lambda d: d["result"]["usage"].update(prompt_tokens=-9_000_000_000)),
     "result.usage.prompt_tokens is -9000000000"),
    ("huge-usage", _json_edit(lambda d: d["result"]["usage"].update(completion_tokens=10**18)),
     "result.usage.completion_tokens is 1000000000000000000, outside"),
    ("string-usage", _json_edit(lambda d: d["result"]["usage"].update(prompt_tokens="many")),
     "result.usage.prompt_tokens is str"),
    ("negative-cost", _json_edit(lambda d: d["result"].update(cost_usd=-9000.0)), "result.cost_usd is -9000.0"),
    ("nan-latency", lambda text: text.replace('"latency": ', '"latency": NaN, "x": '), "result.latency is nan"),
    ("text-not-text", _json_edit(lambda d: d["result"].update(text={"code": 1})), "result.text is dict"),
    ("not-json", lambda text: text[: len(text) // 2], "not valid JSON"),
    ("deep-json", lambda text: "[" * 100_000 + "]" * 100_000, "nested"),
    ("too-large", lambda text: text.replace('"recorded answer"', '"' + "x" * (17 * 1024 * 1024) + '"'),
     "larger than 16 MiB"),
    ("neither", lambda text: "{}", "neither one result nor one error"),
]


@pytest.mark.parametrize(("name", "change", "words"), TAMPERED, ids=[t[0] for t in TAMPERED])
def test_a_tampered_recording_is_a_clear_error_never_a_crash_or_a_looser_budget(
        serve: Any, fast: Any, tmp_path: Path, name: str, change: Any, words: str) -> None:
    path, settings = _tampered(serve, fast, tmp_path, change)
    accountant = Accountant()
    with ResponseCache(path, "replay") as cache, pytest.raises(LLMConfigError) as caught:
        asyncio.run(_one_call(settings, cache, accountant))
    message = str(caught.value)
    assert "malformed answer" in message and "draft" in message and words in message, message
    assert "record the run again" in (caught.value.hint or "")
    assert len(message) < 1000
    assert all(r.prompt_tokens >= 0 and r.cost_usd >= 0 for r in accountant.records())


def test_a_recorded_lone_surrogate_is_cleaned_on_replay(serve: Any, fast: Any, tmp_path: Path) -> None:
    path, settings = _tampered(serve, fast, tmp_path,
                               lambda text: text.replace("recorded answer", "recorded \\ud800 answer\\u0000"))
    with ResponseCache(path, "replay") as cache:
        result = asyncio.run(_one_call(settings, cache))
    assert result.text == "recorded \ufffd answer\ufffd" and result.cached
