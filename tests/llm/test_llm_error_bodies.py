"""The body of an HTTP error status is cut before the ``openai`` package reads it (docs/llm.md,
"Hostile endpoints"), directly and through a proxy taken from the environment.

The scripted server runs as its own process (``aira-dsl serve-scripted``), so the memory this
process allocates is the client's alone; a real forwarding proxy counts the bytes the client
took.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from aira_dsl.llm import LLMError, OpenAIChatModel
from aira_dsl.llm.accounting import CallInfo
from aira_dsl.llm.untrusted import MAX_ERROR_BODY_BYTES

HELLO = [{"role": "user", "content": "hello"}]
BODY = 64 * 1024 * 1024
"""The error message the server sends: 64 MiB (the fault's default size)."""


@pytest.fixture
def scripted(tmp_path: Path) -> Iterator[Any]:
    """Start ``aira-dsl serve-scripted`` processes; returns their base URLs."""
    processes: list[subprocess.Popen[str]] = []

    def start(script: dict[str, Any]) -> str:
        path = tmp_path / f"script-{len(processes)}.json"
        path.write_text(json.dumps(script), encoding="utf-8")
        proc = subprocess.Popen([sys.executable, "-m", "aira_dsl", "serve-scripted", str(path), "--port", "0",
                                 "--quiet"], stdout=subprocess.PIPE, text=True)
        processes.append(proc)
        assert proc.stdout is not None
        return proc.stdout.readline().strip()

    yield start
    for proc in processes:
        proc.terminate()
        proc.wait(timeout=30)


def call(fast: Any, base_url: str, **overrides: Any) -> tuple[Any, int]:
    """One chat call; (the result or the LLMError it raised, peak bytes allocated meanwhile)."""
    settings = fast(None, base_url=base_url, **overrides)

    async def main() -> Any:
        async with OpenAIChatModel(settings) as model:
            try:
                return await model.chat(HELLO, purpose=CallInfo("draft", "draft", 1))
            except LLMError as exc:
                return exc

    tracemalloc.start()
    try:
        outcome = asyncio.run(main())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return outcome, peak


def huge_error(status: int, then_answer: bool = False) -> dict[str, Any]:
    rule: dict[str, Any] = {"faults": [{"fault": "huge_error_body", "status": status, "times": 1}],
                            "answers": [{"text": "fine"}]}
    return {"rules": [rule]} if then_answer else {"rules": [{**rule, "faults": [{**rule["faults"][0], "times": 99}]}]}


def test_a_64_mib_error_body_is_cut_and_fails_fast_with_a_short_message(scripted: Any, fast: Any) -> None:
    outcome, peak = call(fast, scripted(huge_error(400)), max_attempts=3)
    assert isinstance(outcome, LLMError), outcome
    message = str(outcome)
    assert "400" in message and "overloaded" in message and len(message) < 4000, message[:300]
    assert peak < 16 * 1024 * 1024, f"the client allocated {peak / 2**20:.1f} MiB for one error"


def test_a_huge_server_error_is_retried_and_the_next_answer_used(scripted: Any, fast: Any) -> None:
    outcome, peak = call(fast, scripted(huge_error(500, then_answer=True)), max_attempts=3)
    assert not isinstance(outcome, Exception), outcome
    assert outcome.text == "fine"
    assert peak < 16 * 1024 * 1024, f"the client allocated {peak / 2**20:.1f} MiB"


class _ForwardingProxy(BaseHTTPRequestHandler):
    """A plain-HTTP forward proxy: forwards absolute-form requests, streams the answer back and
    counts the body bytes the client accepted."""

    requests: list[str]
    delivered: list[int]

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        target = urlsplit(self.path)
        self.requests.append(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
        upstream = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port or 80, timeout=30)
        upstream.request("POST", target.path, body=body, headers=headers)
        answer = upstream.getresponse()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("connection", "transfer-encoding", "keep-alive"):
                self.send_header(key, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        sent = 0
        try:
            while piece := answer.read(65536):
                self.wfile.write(piece)
                sent += len(piece)
        except OSError:
            pass  # the client stopped reading
        finally:
            self.delivered.append(sent)
            upstream.close()


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_ForwardingProxy]]:
    handler = type("Proxy", (_ForwardingProxy,), {"requests": [], "delivered": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def test_through_an_environment_proxy_answers_arrive_and_error_bodies_are_cut(
        scripted: Any, fast: Any, proxy: type[_ForwardingProxy]) -> None:
    good, _ = call(fast, scripted({"rules": [{"answers": [{"text": "fine"}]}]}))
    assert not isinstance(good, Exception) and good.text == "fine"
    assert len(proxy.requests) == 1  # the environment's proxy is still used

    outcome, peak = call(fast, scripted(huge_error(400)), max_attempts=1)
    assert isinstance(outcome, LLMError) and "overloaded" in str(outcome)
    assert len(proxy.requests) == 2
    assert proxy.delivered[-1] < 16 * 1024 * 1024, f"the client took {proxy.delivered[-1] / 2**20:.1f} MiB"
    assert peak < 16 * 1024 * 1024


def test_the_cut_is_the_documented_size() -> None:
    assert MAX_ERROR_BODY_BYTES == 64 * 1024
    docs = (Path(__file__).resolve().parents[2] / "docs" / "llm.md").read_text(encoding="utf-8")
    assert "cut to 64 KiB" in docs
