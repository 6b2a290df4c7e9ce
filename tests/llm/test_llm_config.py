"""Model settings: lowering from spec entries, checks, and what reaches the wire."""

from __future__ import annotations

from typing import Any

import pytest

from aira_dsl.llm import CallInfo, LLMConfigError, ModelConfigError, ModelSettings, OpenAIChatModel

ECHO = {"rules": [{"answers": [{"text": "ok"}]}]}


def test_spec_style_entry_round_trips_through_to_dict() -> None:
    settings = ModelSettings.from_dict(
        {"model": "o3", "temperature": 1.0, "max_tokens": 32000, "price": {"input_per_mtok": 2, "output_per_mtok": 8},
         "extra_body": {"chat_template_kwargs": {"enable_thinking": False}}}, name="coder")
    assert settings.name == "coder"
    assert settings.price_input_per_mtok == 2 and settings.price_output_per_mtok == 8
    again = ModelSettings.from_dict(settings.to_dict())
    assert again == settings
    assert hash(again) == hash(settings)
    assert again.to_dict()["extra_body"] == {"chat_template_kwargs": {"enable_thinking": False}}


def test_unknown_setting_suggests_the_close_name() -> None:
    with pytest.raises(ModelConfigError, match="'temprature' \\(did you mean 'temperature'\\?\\)"):
        ModelSettings.from_dict({"model": "gpt-4o", "temprature": 0.5}, name="reviewer")


@pytest.mark.parametrize(("values", "message"), [
    ({"base_url": "localhost:8000"}, "is not an http\\(s\\) URL"),
    ({"timeout": 0}, "`timeout` must be positive"),
    ({"timeout": "30s"}, "`timeout` must be a number"),
    ({"max_concurrency": 0}, "at least 1"),
    ({"structured_output": "xml"}, "`structured_output` must be one of"),
    ({"send_temperature": "no"}, "true or false"),
    ({"extra_body": ["not", "a", "mapping"]}, "must be a mapping"),
])
def test_bad_values_are_config_errors_naming_the_model(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelConfigError, match=message) as caught:
        ModelSettings(name="coder", model="m", **values)
    assert "model 'coder'" in str(caught.value)


def test_missing_key_names_the_variable_model_and_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    settings = ModelSettings(name="coder", model="gpt-4o")
    with pytest.raises(LLMConfigError) as caught:
        OpenAIChatModel(settings).preflight()
    error = caught.value
    assert error.message.startswith("OPENAI_API_KEY is not set")
    assert "'coder'" in error.message and "https://api.openai.com/v1" in error.message
    assert error.hint and "export OPENAI_API_KEY" in error.hint
    assert error.to_diagnostic().code == "llm-config"


def test_endpoint_falls_back_to_openai_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1234/v1/")
    assert ModelSettings(name="m", model="x").endpoint == "http://127.0.0.1:1234/v1"
    assert ModelSettings(name="m", model="x", base_url="http://h:1/v1").endpoint == "http://h:1/v1"


def test_missing_key_fails_before_any_request(serve: Any, fast: Any, drive: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRA_TEST_NO_SUCH_KEY", raising=False)
    server = serve(ECHO)
    settings = fast(server, api_key_env="AIRA_TEST_NO_SUCH_KEY")
    with pytest.raises(LLMConfigError, match="AIRA_TEST_NO_SUCH_KEY is not set"):
        drive(settings, lambda m: m.chat([{"role": "user", "content": "hi"}], purpose=CallInfo("draft")))
    assert server.requests == []


def test_key_from_the_named_variable_is_sent(serve: Any, fast: Any, drive: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRA_TEST_KEY", "sk-scripted")
    server = serve({**ECHO, "require_api_key": "sk-scripted"})
    result = drive(fast(server, api_key_env="AIRA_TEST_KEY"),
                   lambda m: m.chat([{"role": "user", "content": "hi"}], purpose=CallInfo("draft")))
    assert result.text == "ok"


def test_parameters_on_the_wire(serve: Any, fast: Any, drive: Any) -> None:
    server = serve(ECHO)
    settings = fast(server, temperature=0.6, top_p=0.95, max_tokens=500, max_tokens_param="max_completion_tokens",
                    reasoning_effort="high", extra_body={"seed": 7}, extra_headers={"api-key": "azure-style"})
    drive(settings, lambda m: m.chat([{"role": "user", "content": "hi"}],
                                     purpose=CallInfo("draft", "draft", 3)))
    [request] = server.chat_requests()
    body = request["body"]
    assert body["temperature"] == 0.6 and body["top_p"] == 0.95
    assert body["max_completion_tokens"] == 500 and "max_tokens" not in body
    assert body["reasoning_effort"] == "high" and body["seed"] == 7
    assert body["model"] == "scripted-model"
    assert (request["operator"], request["kind"], request["node"]) == ("draft", "draft", "3")


def test_o_series_style_models_get_no_temperature(serve: Any, fast: Any, drive: Any) -> None:
    server = serve(ECHO)
    settings = fast(server, temperature=1.0, top_p=0.9, send_temperature=False, max_tokens=100)
    drive(settings, lambda m: m.chat([{"role": "user", "content": "hi"}], purpose=CallInfo("draft")))
    body = server.chat_requests()[0]["body"]
    assert "temperature" not in body and "top_p" not in body and body["max_tokens"] == 100


def test_without_system_role_the_system_text_leads_the_first_user_turn(serve: Any, fast: Any,
                                                                       drive: Any) -> None:
    server = serve(ECHO)
    messages = [{"role": "system", "content": "You are a Kaggle grandmaster."},
                {"role": "user", "content": "Solve the task."}]
    drive(fast(server, system_role=False), lambda m: m.chat(messages, purpose=CallInfo("draft")))
    sent = server.chat_requests()[0]["body"]["messages"]
    assert sent == [{"role": "user", "content": "You are a Kaggle grandmaster.\n\nSolve the task."}]
