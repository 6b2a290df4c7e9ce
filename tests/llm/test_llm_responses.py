"""The Responses API option (``api: responses``) against the scripted server, which speaks it too.

The client translates a chat call into ``POST /v1/responses`` and the answer back; these tests
check what goes over the wire, that answers, reasoning, tool calls and usage come back as from a
chat call (accounting and record/replay included), and that the hostile-endpoint faults the
server plays on that route end the same way they do for Chat Completions.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from aira_dsl.llm import (
    Accountant,
    CallInfo,
    LLMRequestError,
    OpenAIChatModel,
    ReplayMissError,
    ResponseCache,
    ask_for_review,
)
from aira_dsl.llm.responses import collect_response_stream, completion_from_response, responses_params
from aira_dsl.llm.scripted import ScriptedServer
from aira_dsl.llm.untrusted import TransientResponseError
from aira_dsl.settings.model import ModelSettings

DRAFT = CallInfo("draft", "draft", 1)
REVIEW = CallInfo("analyze", "analyze", 1)
ANSWER = {"plan": "A baseline.", "code": "print('ok')", "reasoning": "start simple",
          "usage": {"prompt_tokens": 40, "completion_tokens": 30, "reasoning_tokens": 12}}
SCRIPT: dict[str, Any] = {"rules": [
    {"when": {"kind": "analyze"}, "answers": [{"review": {"is_bug": False, "summary": "ran", "metric": 0.75}}]},
    {"answers": [ANSWER]},
]}
Serve = Any  # the fixtures of tests/llm/conftest.py
Fast = Any
Drive = Any
MESSAGES = [{"role": "system", "content": "You write code."}, {"role": "user", "content": "Solve it."}]


def ask(model: OpenAIChatModel) -> Any:
    return model.chat(MESSAGES, purpose=DRAFT)


@pytest.mark.parametrize("stream", [False, True])
def test_a_call_goes_to_the_responses_route_and_comes_back_like_a_chat_answer(
        serve: Serve, fast: Fast, drive: Drive, stream: bool) -> None:
    server = serve(SCRIPT)
    accountant = Accountant()
    settings = fast(server, api="responses", stream=stream, temperature=0.3, max_tokens=2000,
                    reasoning_effort="high", extra_body={"metadata": {"run": "r1"}})
    result = drive(settings, ask, accountant=accountant)
    assert result.text == "A baseline.\n\n```python\nprint('ok')\n```"
    assert result.reasoning == "start simple"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.reasoning_tokens) == (40, 30, 12)
    assert not result.usage_estimated and result.finish_reason == "stop"
    (request,) = server.responses_requests()
    body = request["body"]
    assert request["path"] == "/v1/responses" and request["api"] == "responses" and request["kind"] == "draft"
    assert body["model"] == "scripted-model" and body["input"] == MESSAGES and "messages" not in body
    assert (body["temperature"], body["max_output_tokens"], body["reasoning"], body["store"], body["metadata"]) == (
        0.3, 2000, {"effort": "high"}, False, {"run": "r1"})
    assert "max_tokens" not in body and bool(body.get("stream")) is stream
    (record,) = accountant.records()
    assert (record.prompt_tokens, record.completion_tokens, record.reasoning_tokens) == (40, 30, 12)


def test_the_system_role_switch_and_the_temperature_switch_apply(serve: Serve, fast: Fast, drive: Drive) -> None:
    server = serve(SCRIPT)
    drive(fast(server, api="responses", system_role=False, send_temperature=False, temperature=0.7), ask)
    (request,) = server.responses_requests()
    assert request["body"]["input"] == [{"role": "user", "content": "You write code.\n\nSolve it."}]
    assert "temperature" not in request["body"]


@pytest.mark.parametrize(("method", "stream"), [("tools", False), ("tools", True), ("json_schema", False),
                                                ("json_object", True), ("text", False)])
def test_reviews_use_function_tools_and_text_format(serve: Serve, fast: Fast, drive: Drive, method: str,
                                                    stream: bool) -> None:
    server = serve(SCRIPT)
    settings = fast(server, api="responses", structured_output=method, stream=stream)
    result = drive(settings, lambda model: ask_for_review(model, MESSAGES, info=REVIEW))
    assert (result.review.is_bug, result.review.summary, result.review.metric, result.method) == (
        False, "ran", 0.75, method)
    body = server.responses_requests()[-1]["body"]
    if method == "tools":
        (tool,) = body["tools"]
        assert tool["type"] == "function" and tool["name"] == "submit_review" and "function" not in tool
        assert body["tool_choice"] == {"type": "function", "name": "submit_review"}
    elif method == "json_schema":
        fmt = body["text"]["format"]
        assert fmt["type"] == "json_schema" and fmt["name"] and fmt["schema"]["type"] == "object"
    elif method == "json_object":
        assert body["text"] == {"format": {"type": "json_object"}}
    else:
        assert "text" not in body and "tools" not in body


def test_detection_falls_back_when_the_endpoint_refuses_tools(serve: Serve, fast: Fast, drive: Drive) -> None:
    server = serve({**SCRIPT, "refuse": ["tools"]})
    result = drive(fast(server, api="responses"), lambda model: ask_for_review(model, MESSAGES, info=REVIEW))
    assert result.method == "json_schema" and result.detected
    assert [method for method, _ in result.rejected] == ["tools"]
    assert result.review.metric == 0.75


def test_record_and_replay_keep_the_two_apis_apart(serve: Serve, fast: Fast, drive: Drive, tmp_path: Path) -> None:
    server = serve(SCRIPT)
    path = tmp_path / "llm.sqlite"
    recorded = drive(fast(server, api="responses"), ask, cache=ResponseCache(path, "record"))
    replayed = drive(fast(None, api="responses"), ask, cache=ResponseCache(path, "replay"))
    assert replayed.cached and replayed.text == recorded.text and replayed.usage == recorded.usage
    with pytest.raises(ReplayMissError):
        drive(fast(None), ask, cache=ResponseCache(path, "replay"))  # a chat call finds no chat recording
    assert len(server.requests) == 1


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("fault", [
    "server_error", "truncated_json", "empty_choices", "null_message", "invalid_json", "html", "error_body_200",
    "chunked_garbage", "truncated_body", "deep_json", "close_without_response", "invalid_utf8", "sse_garbage"])
def test_hostile_answers_on_the_responses_route_are_retried(serve: Serve, fast: Fast, drive: Drive, fault: str,
                                                            stream: bool) -> None:
    server = serve({"rules": [{"faults": [{"fault": fault}], "answers": [{"text": "fine after all"}]}]})
    result = drive(fast(server, api="responses", stream=stream), ask)
    assert result.text == "fine after all" and result.attempts == 2
    assert {r["path"] for r in server.requests} == {"/v1/responses"}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("fault", "check"), [
    ({"fault": "lone_surrogates"}, lambda r: "\ufffd" in r.text and not r.usage_estimated),
    ({"fault": "list_content"}, lambda r: r.text == "fine after all"),
    ({"fault": "bad_usage", "usage": {"input_tokens": -5, "output_tokens": "many"}}, lambda r: r.usage_estimated),
])
def test_twisted_answers_on_the_responses_route_are_used(serve: Serve, fast: Fast, drive: Drive,
                                                         fault: dict[str, Any], check: Any, stream: bool) -> None:
    server = serve({"rules": [{"faults": [fault], "answers": [{"text": "fine after all"}]}]})
    result = drive(fast(server, api="responses", stream=stream), ask)
    assert result.attempts == 1 and check(result)
    assert result.usage.prompt_tokens >= 0 and result.usage.completion_tokens >= 0


def test_a_missing_route_says_the_endpoint_needs_the_responses_api(serve: Serve, fast: Fast, drive: Drive) -> None:
    server = serve({"rules": [{"faults": [{"fault": "http_error", "status": 404, "message": "Not Found"}]}]})
    with pytest.raises(LLMRequestError) as caught:
        drive(fast(server, api="responses"), ask)
    assert caught.value.status_code == 404 and caught.value.hint and "POST " in caught.value.hint
    assert "/responses" in caught.value.hint


def test_the_answer_translation_reads_every_output_item() -> None:
    raw = {"id": "resp_1", "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"},
           "error": None, "output": [
               {"type": "reasoning", "summary": [{"type": "summary_text", "text": "plan"}],
                "content": [{"type": "reasoning_text", "text": "steps"}]},
               {"type": "message", "content": [{"type": "output_text", "text": "part one, "},
                                               {"type": "refusal", "refusal": "no more"}]},
               {"type": "function_call", "call_id": "c1", "name": "submit_review", "arguments": "{}"},
               {"type": "web_search_call"}, "junk"],
           "usage": {"input_tokens": 10, "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 2}}}
    completion = completion_from_response(raw)
    (choice,) = completion["choices"]
    assert choice["message"]["content"] == "part one, no more"
    assert choice["message"]["reasoning_content"] == "plan\n\nsteps"
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "submit_review", "arguments": "{}"}
    assert choice["finish_reason"] == "length"
    assert completion["usage"] == {"prompt_tokens": 10, "completion_tokens": 5,
                                   "completion_tokens_details": {"reasoning_tokens": 2}}
    with pytest.raises(TransientResponseError, match="the response failed: overloaded"):
        completion_from_response({"status": "failed", "error": {"message": "overloaded"}, "output": []})
    with pytest.raises(TransientResponseError, match="holds no output"):
        completion_from_response({"status": "completed", "output": None})


def test_a_stream_needs_its_final_event() -> None:
    async def events(*items: dict[str, Any]) -> Any:
        for item in items:
            yield item

    final = {"type": "response.completed", "response": {"status": "completed", "output": []}}
    assert asyncio.run(collect_response_stream(events({"type": "response.created"}, final))) == final["response"]
    with pytest.raises(TransientResponseError, match="ended before"):
        asyncio.run(collect_response_stream(events({"type": "response.output_text.delta", "delta": "x"})))
    with pytest.raises(TransientResponseError, match="error in the stream: rate limited"):
        asyncio.run(collect_response_stream(events({"type": "error", "message": "rate limited"})))


def test_tool_and_format_translation() -> None:
    settings = ModelSettings(name="m", model="x", max_tokens=5, max_tokens_param="max_completion_tokens")
    params = responses_params(
        settings, tools=[{"type": "function", "function": {"name": "f", "description": "d", "parameters": {}}}],
        tool_choice="required", response_format={"type": "json_schema", "json_schema": {
            "name": "review", "schema": {"type": "object"}, "strict": True}})
    assert params == {"store": False, "max_output_tokens": 5, "tool_choice": "required",
                      "tools": [{"type": "function", "name": "f", "description": "d", "parameters": {}}],
                      "text": {"format": {"type": "json_schema", "name": "review", "schema": {"type": "object"},
                                          "strict": True}}}


def test_the_scripted_server_answers_both_apis_from_one_script() -> None:
    with ScriptedServer(SCRIPT) as server:
        settings = ModelSettings(name="m", model="x", base_url=server.base_url, api_key_env=None)

        async def both() -> tuple[str, str]:
            async with OpenAIChatModel(settings) as chat_model, OpenAIChatModel(
                    ModelSettings(**{**settings.to_dict(), "api": "responses"})) as responses_model:
                return (await chat_model.chat(MESSAGES, purpose=DRAFT)).text, \
                    (await responses_model.chat(MESSAGES, purpose=DRAFT)).text

        chat_text, responses_text = asyncio.run(both())
        assert chat_text == responses_text
        assert [r["api"] for r in server.requests] == ["chat", "responses"]
