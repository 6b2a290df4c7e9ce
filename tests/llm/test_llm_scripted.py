"""The scripted server itself: script checking, rule matching, routes, latency, shutdown."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from aira_dsl.llm import CallInfo, LLMRequestError
from aira_dsl.llm.script import ScriptError, load_script
from aira_dsl.llm.scripted import ScriptedServer


def _post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _content(url: str, text: str = "hi", **headers: str) -> str:
    status, payload = _post(url, {"model": "m", "messages": [{"role": "user", "content": text}]}, headers)
    assert status == 200, payload
    return str(payload["choices"][0]["message"]["content"])


@pytest.mark.parametrize(("script", "problem"), [
    ({"rules": [{"faults": [{"fault": "rate_limt"}]}]}, "script.rules[0].faults[0].fault: 'rate_limt' is not one of"),
    ({"rules": [{"answers": [{"text": "a", "code": "b"}]}]}, "script.rules[0].answers[0]"),
    ({"rules": [{"when": {"match": "("}}]}, "script.rules[0].when.match: bad regular expression"),
    ({"refuse": ["xml"]}, "script.refuse[0]"),
    ({"latency": -1}, "script.latency"),
    (["not", "a", "mapping"], "must be a mapping"),
])
def test_invalid_scripts_are_reported_with_their_place(script: Any, problem: str) -> None:
    with pytest.raises(ScriptError) as caught:
        load_script(script)
    assert problem in str(caught.value)


def test_script_files_are_read_and_their_errors_reported(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text("rules:\n  - when: {kind: draft}\n    answers:\n      - code: print(1)\n")
    assert load_script(path).rules[0].kinds == ("draft",)
    path.write_text("rules: [unclosed\n")
    with pytest.raises(ScriptError, match="not valid YAML"):
        load_script(path)
    with pytest.raises(ScriptError, match="cannot read the script"):
        load_script(tmp_path / "missing.yaml")


def test_rules_match_by_header_kind_operator_prompt_and_model(serve: Any) -> None:
    server = serve({"rules": [
        {"name": "by-kind", "when": {"kind": ["debug", "improve"]}, "answers": [{"text": "kind"}]},
        {"name": "by-operator", "when": {"operator": "draft-small"}, "answers": [{"text": "operator"}]},
        {"name": "by-prompt", "when": {"match": "crossover of (two|2)"}, "answers": [{"text": "prompt"}]},
        {"name": "by-model", "when": {"model": "special-.*"}, "answers": [{"text": "model"}]},
        {"name": "fallback", "answers": [{"text": "fallback"}]},
    ]})
    url = server.base_url
    assert _content(url, **{"X-Aira-Kind": "improve"}) == "kind"
    assert _content(url, **{"X-Aira-Operator": "draft-small"}) == "operator"
    assert _content(url, "Do a crossover of two parents") == "prompt"
    _, payload = _post(url, {"model": "special-1", "messages": []})
    assert payload["choices"][0]["message"]["content"] == "model"
    assert _content(url) == "fallback"
    assert [r["rule"] for r in server.chat_requests()] == ["by-kind", "by-operator", "by-prompt", "by-model",
                                                           "fallback"]


def test_review_requests_count_as_analyze_without_a_header(serve: Any) -> None:
    server = serve({"rules": [{"when": {"kind": "analyze"},
                               "answers": [{"review": {"is_bug": True, "summary": "x", "metric": None}}]}]})
    status, payload = _post(server.base_url, {"model": "m", "messages": [], "response_format": {"type": "json_object"}})
    assert status == 200
    assert json.loads(payload["choices"][0]["message"]["content"]) == {"is_bug": True, "summary": "x", "metric": None}


def test_answers_cycle_or_are_consumed(serve: Any) -> None:
    server = serve({"rules": [{"cycle": False, "answers": [{"text": "one"}, {"text": "two"}]},
                              {"answers": [{"text": "A"}, {"text": "B"}]}]})
    got = [_content(server.base_url) for _ in range(6)]
    assert got == ["one", "two", "A", "B", "A", "B"]


def test_no_matching_rule_is_a_clear_non_retryable_error(serve: Any, fast: Any, drive: Any) -> None:
    server = serve({"rules": [{"when": {"kind": "analyze"}, "answers": [{"text": "x"}]}]})
    with pytest.raises(LLMRequestError, match="no rule of the script matches this request \\(kind=draft"):
        drive(fast(server), lambda m: m.chat([{"role": "user", "content": "hi"}],
                                             purpose=CallInfo("draft", "draft")))
    assert len(server.chat_requests()) == 1


def test_models_route_unknown_routes_and_bad_bodies(serve: Any) -> None:
    server = serve({"rules": []})
    with urllib.request.urlopen(server.base_url + "/models", timeout=5) as response:
        assert json.loads(response.read())["data"][0]["id"] == "scripted"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(server.base_url + "/embeddings", timeout=5)
    assert caught.value.code == 404
    request = urllib.request.Request(server.base_url + "/chat/completions", data=b"[1, 2", method="POST")
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(request, timeout=5)
    assert bad.value.code == 400


def test_latency_global_and_per_rule(serve: Any) -> None:
    server = serve({"latency": 0.15, "rules": [{"when": {"match": "slow"}, "latency": 0.6, "answers": [{"text": "s"}]},
                                               {"answers": [{"text": "f"}]}]})
    for text, low, high in (("fast", 0.15, 0.55), ("slow", 0.6, 1.5)):
        started = time.monotonic()
        _content(server.base_url, text)
        assert low <= time.monotonic() - started < high


def test_stop_closes_idle_keep_alive_connections_and_hung_requests() -> None:
    baseline = set(threading.enumerate())
    server = ScriptedServer({"rules": [{"faults": [{"fault": "hang"}], "answers": [{"text": "x"}]}]}).start()
    idle = socket.create_connection(("127.0.0.1", server.port))  # a keep-alive connection that never asks
    hung = threading.Thread(target=lambda: _post_quietly(server.base_url))
    hung.start()
    deadline = time.monotonic() + 3
    while not server.chat_requests() and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    hung.join(timeout=3)
    assert time.monotonic() - started < 1.5 and not hung.is_alive()
    idle.close()
    deadline = time.monotonic() + 3
    while {t for t in threading.enumerate() if t not in baseline} and time.monotonic() < deadline:
        time.sleep(0.02)
    assert {t for t in threading.enumerate() if t not in baseline} == set()


def _post_quietly(url: str) -> None:
    try:
        _post(url, {"model": "m", "messages": []})
    except Exception:  # the hung request is cut off by stop(): that is the point
        return


def test_the_example_script_in_the_docs_is_valid_and_answers(serve: Any, fast: Any, drive: Any) -> None:
    import re

    import yaml

    from aira_dsl.llm import ask_for_code, ask_for_review

    docs = Path(__file__).resolve().parents[2] / "docs" / "llm.md"
    [example] = [block for block in re.findall(r"```yaml\n(.*?)```", docs.read_text(), re.DOTALL)
                 if "rules:" in block]
    script = yaml.safe_load(example)
    script["latency"] = 0
    script["faults"] = []
    server = serve(script)

    async def run(model: Any) -> tuple[Any, Any]:
        code = await ask_for_code(model, [{"role": "user", "content": "draft"}], retries=1,
                                  info=CallInfo("draft", "draft", 1))
        review = await ask_for_review(model, [{"role": "user", "content": "review"}],
                                      info=CallInfo("analyze", "analyze", 1))
        return code, review

    code, review = drive(fast(server), run)
    assert code.attempts == 2 and code.code == "print('ridge')\n" and code.reasoning == "start simple"
    assert review.review.metric == 0.87 and review.method == "json_schema"  # the example refuses tools
