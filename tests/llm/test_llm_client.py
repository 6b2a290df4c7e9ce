"""The client against the scripted server over real HTTP: answers, reasoning, streaming, limits."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from aira_dsl.llm import Accountant, CallInfo, ModelSettings, OpenAIChatModel
from aira_dsl.llm.review import review_request

HELLO = [{"role": "user", "content": "Write a program that prints hello."}]
ANSWER = {"plan": "Print it.", "code": "print('hello')", "think": "easy one", "reasoning": "server-side thoughts",
          "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "reasoning_tokens": 200}}


def test_answer_usage_cost_and_accounting(serve: Any, fast: Any, drive: Any) -> None:
    server = serve({"rules": [{"answers": [ANSWER]}]})
    accountant = Accountant()
    settings = fast(server, price_input_per_mtok=2.0, price_output_per_mtok=8.0)
    result = drive(settings, lambda m: m.chat(HELLO, purpose=CallInfo("draft", "draft", "n1")),
                   accountant=accountant)
    assert result.text == "Print it.\n\n```python\nprint('hello')\n```"
    assert result.reasoning == "server-side thoughts\n\neasy one"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.reasoning_tokens) == \
        (1000, 500, 200)
    assert result.cost_usd == pytest.approx((1000 * 2.0 + 500 * 8.0) / 1e6)
    assert result.latency > 0 and not result.cached and result.attempts == 1
    assert result.raw["choices"][0]["message"]["content"].startswith("<think>")
    [record] = accountant.records()
    assert (record.operator, record.kind, record.node_id, record.model, record.model_id) == \
        ("draft", "draft", "n1", "coder", "scripted-model")
    assert record.cost_usd == result.cost_usd and record.error is None
    assert accountant.by_operator()["draft"].completion_tokens == 500


@pytest.mark.parametrize("method", ["tools", "json_schema", "text"])
def test_streaming_gives_the_same_result_as_a_plain_call(serve: Any, fast: Any, drive: Any, method: str) -> None:
    review = {"review": {"is_bug": False, "summary": "fine", "metric": 0.5}, "reasoning": "r" * 50}
    server = serve({"rules": [{"answers": [review]}]})
    extra = review_request(method)  # type: ignore[arg-type]

    def call(stream: bool) -> Any:
        return drive(fast(server, stream=stream),
                     lambda m: m.chat(HELLO, purpose=CallInfo("analyze", "analyze"), **extra))

    plain, streamed = call(False), call(True)
    assert [r["stream"] for r in server.chat_requests()] == [False, True]
    assert streamed.text == plain.text
    assert streamed.tool_arguments == plain.tool_arguments
    assert streamed.tool_name == plain.tool_name
    assert streamed.reasoning == plain.reasoning == "r" * 50
    assert streamed.usage == plain.usage
    assert streamed.finish_reason == plain.finish_reason


def test_concurrency_limit_bounds_requests_in_flight(serve: Any, fast: Any) -> None:
    server = serve({"latency": 0.2, "rules": [{"answers": [{"text": "ok"}]}]})
    settings = fast(server, max_concurrency=2)

    async def main() -> float:
        async with OpenAIChatModel(settings) as model:
            started = time.monotonic()
            await asyncio.gather(*(model.chat(HELLO, purpose=CallInfo("draft", node_id=i)) for i in range(6)))
            return time.monotonic() - started

    elapsed = asyncio.run(main())
    assert server.max_in_flight == 2
    assert elapsed >= 0.6 - 0.05  # three waves of 0.2 s


def test_one_model_serves_several_event_loops(serve: Any, fast: Any) -> None:
    server = serve({"rules": [{"answers": [{"text": "ok"}]}]})
    model = OpenAIChatModel(fast(server))

    async def once() -> str:
        return (await model.chat(HELLO, purpose=CallInfo("draft"))).text

    assert asyncio.run(once()) == "ok"
    assert asyncio.run(once()) == "ok"  # a new loop gets a new HTTP client, not a closed one


def test_settings_object_is_what_the_protocol_exposes(fast: Any) -> None:
    settings: ModelSettings = fast(None, structured_output="json_object")
    model = OpenAIChatModel(settings)
    assert model.settings is settings
    assert model.review_method == "json_object"
    assert "coder" in repr(model)


@pytest.mark.parametrize("stream", [False, True])
def test_missing_usage_is_estimated_and_flagged(serve: Any, fast: Any, drive: Any, stream: bool) -> None:
    server = serve({"report_usage": False, "rules": [{"answers": [{"text": "x" * 400}]}]})
    accountant = Accountant()
    result = drive(fast(server, stream=stream, price_output_per_mtok=10.0),
                   lambda m: m.chat(HELLO, purpose=CallInfo("draft")), accountant=accountant)
    assert "usage" not in result.raw
    assert result.usage_estimated and result.usage.completion_tokens == 100
    assert result.usage.prompt_tokens == (len(HELLO[0]["content"]) + 3) // 4
    assert result.cost_usd == pytest.approx(100 * 10.0 / 1e6)
    assert accountant.records()[0].usage_estimated


def test_threads_with_their_own_event_loops_share_one_model(serve: Any, fast: Any) -> None:
    import threading

    server = serve({"latency": 0.05, "rules": [{"answers": [{"text": "ok"}]}]})
    model = OpenAIChatModel(fast(server))
    answers: list[str] = []

    async def work(worker: int) -> None:
        try:
            for step in range(3):
                answers.append((await model.chat(HELLO, purpose=CallInfo("draft", node_id=f"{worker}-{step}"))).text)
        finally:
            await model.aclose()

    threads = [threading.Thread(target=asyncio.run, args=(work(i),)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert answers == ["ok"] * 9
    assert len(model.accountant.records()) == 9
