"""ask_for_review over real HTTP: the four structured-output methods, detection, memory, re-asks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aira_dsl.llm import CallInfo, LLMRequestError, OpenAIChatModel, ask_for_review
from aira_dsl.llm.review import REVIEW_TOOL_NAME

REVIEW = [{"role": "user", "content": "Review this run: validation accuracy 0.87."}]
INFO = CallInfo("analyze", "analyze", "12")
VERDICT = {"review": {"is_bug": False, "summary": "Trained and scored.", "metric": 0.87}}


def _review(model: Any) -> Any:
    return ask_for_review(model, REVIEW, info=INFO)


@pytest.mark.parametrize(("refuse", "method"), [
    ([], "tools"),
    (["tools"], "json_schema"),
    (["tools", "json_schema"], "json_object"),
    (["tools", "json_schema", "json_object"], "text"),
])
def test_detection_finds_the_first_supported_method_and_remembers_it(serve: Any, fast: Any, refuse: list[str],
                                                                     method: str) -> None:
    server = serve({"refuse": refuse, "rules": [{"when": {"kind": "analyze"}, "answers": [VERDICT]}]})

    async def main() -> tuple[Any, Any, Any]:
        async with OpenAIChatModel(fast(server)) as model:
            first = await _review(model)
            second = await _review(model)
            return first, second, model.review_method

    first, second, remembered = asyncio.run(main())
    for result in (first, second):
        assert result.review.is_bug is False and result.review.metric == 0.87
        assert result.review.summary == "Trained and scored."
        assert result.method == method and result.ok
    assert remembered == method
    assert first.detected and not second.detected
    assert [m for m, _ in first.rejected] == refuse
    outcomes = [r["outcome"] for r in server.chat_requests()]
    assert outcomes == [f"refused:{f}" for f in refuse] + ["answer", "answer"]  # second review: one request


def test_each_method_asks_the_way_it_should(serve: Any, fast: Any, drive: Any) -> None:
    server = serve({"rules": [{"answers": [VERDICT]}]})
    for method in ("tools", "json_schema", "json_object", "text"):
        drive(fast(server, structured_output=method), _review)
    tools, schema, obj, text = (r["body"] for r in server.chat_requests())
    assert tools["tools"][0]["function"]["name"] == REVIEW_TOOL_NAME
    assert tools["tool_choice"] == {"type": "function", "function": {"name": REVIEW_TOOL_NAME}}
    assert schema["response_format"]["type"] == "json_schema"
    assert schema["response_format"]["json_schema"]["schema"]["required"] == ["is_bug", "summary", "metric"]
    assert obj["response_format"] == {"type": "json_object"}
    assert "tools" not in text and "response_format" not in text
    assert "```json" in text["messages"][-1]["content"]
    assert all(body["messages"][-1]["content"].startswith(REVIEW[0]["content"])
               for body in (tools, schema, obj, text))


def test_a_configured_method_skips_detection(serve: Any, fast: Any, drive: Any) -> None:
    server = serve({"rules": [{"answers": [VERDICT]}]})
    result = drive(fast(server, structured_output="json_object"), _review)
    assert result.method == "json_object" and not result.detected
    assert len(server.chat_requests()) == 1


def test_a_configured_method_the_server_refuses_is_an_error(serve: Any, fast: Any, drive: Any) -> None:
    server = serve({"refuse": ["tools"], "rules": [{"answers": [VERDICT]}]})
    with pytest.raises(LLMRequestError, match="does not support `tools`"):
        drive(fast(server, structured_output="tools"), _review)


@pytest.mark.parametrize("stream", [False, True])
def test_malformed_review_arguments_are_re_asked(serve: Any, fast: Any, drive: Any, stream: bool) -> None:
    server = serve({"rules": [{"faults": [{"fault": "bad_review_args"}], "answers": [VERDICT]}]})
    result = drive(fast(server, stream=stream), _review)
    assert result.ok and result.method == "tools" and len(result.calls) == 2
    complaint = server.chat_requests()[1]["body"]["messages"][-1]["content"]
    assert "could not be read: the answer holds no JSON object" in complaint


def test_unreadable_reviews_everywhere_give_a_buggy_stand_in(serve: Any, fast: Any) -> None:
    server = serve({"rules": [{"faults": [{"fault": "bad_review_args", "times": 100}]}]})

    async def main() -> tuple[Any, Any]:
        async with OpenAIChatModel(fast(server)) as model:
            return await _review(model), model.review_method

    result, remembered = asyncio.run(main())
    assert not result.ok and result.method is None and remembered is None
    assert result.review.is_bug is True and result.review.metric is None
    assert "could not be read" in result.review.summary
    assert len(result.calls) == 8 == len(server.chat_requests())  # 4 methods x (1 + 1 re-ask)


def test_every_method_refused_is_reported(serve: Any, fast: Any, drive: Any) -> None:
    server = serve({"rules": [{"faults": [{"fault": "http_error", "status": 400, "message": "nope",
                                           "times": 10}]}]})
    result = drive(fast(server), _review)
    assert not result.ok and result.calls == ()
    assert result.problem is not None and result.problem.startswith("the endpoint rejected every")
    assert [m for m, _ in result.rejected] == ["tools", "json_schema", "json_object", "text"]


@pytest.mark.parametrize(("metric", "expected"), [("0.93", 0.93), (7, 7.0), ("n/a", None), ([1], None)])
def test_metric_shapes_from_the_wire(serve: Any, fast: Any, drive: Any, metric: Any, expected: Any) -> None:
    server = serve({"rules": [{"answers": [{"review": {"is_bug": False, "summary": "s", "metric": metric}}]}]})
    result = drive(fast(server), _review)
    assert result.ok and result.review.metric == expected


def test_context_length_is_not_mistaken_for_an_unsupported_method(serve: Any, fast: Any, drive: Any) -> None:
    server = serve({"rules": [{"faults": [{"fault": "context_length", "times": 10}]}]})
    with pytest.raises(LLMRequestError) as caught:
        drive(fast(server), _review)
    assert caught.value.context_length and len(server.chat_requests()) == 1


def test_a_500_that_is_a_validation_error_counts_as_a_refusal(serve: Any, fast: Any, drive: Any) -> None:
    # llama-cpp-python answers an unknown response_format type with HTTP 500 and a pydantic message.
    refusal = {"fault": "http_error", "status": 500,
               "message": "1 validation error: Input should be 'text' or 'json_object'"}
    server = serve({"refuse": ["tools"], "rules": [{"faults": [refusal], "answers": [VERDICT]}]})
    result = drive(fast(server), _review)
    assert result.ok and result.method == "json_object"
    assert [m for m, _ in result.rejected] == ["tools", "json_schema"]
    assert len(server.chat_requests()) == 3  # the 500 was not retried
