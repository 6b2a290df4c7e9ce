"""Fixtures for the LLM layer's tests: scripted servers on 127.0.0.1 and fast client settings.

Every test talks to a real :class:`ScriptedServer` over real HTTP through the real client; the
settings here only shorten timeouts and backoff so fault tests finish in well under a second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

import pytest

from aira_dsl.llm import Accountant, ModelSettings, OpenAIChatModel, ResponseCache
from aira_dsl.llm.scripted import ScriptedServer

T = TypeVar("T")

Serve = Callable[..., ScriptedServer]
Fast = Callable[..., ModelSettings]
Drive = Callable[..., Any]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start scripted servers; all are stopped (and checked to be stopped) after the test."""
    servers: list[ScriptedServer] = []

    def start(script: Mapping[str, Any], **options: Any) -> ScriptedServer:
        server = ScriptedServer(script, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        assert server._thread is None or not server._thread.is_alive()


@pytest.fixture
def fast() -> Fast:
    """Settings for a scripted server with short timeouts and backoff."""

    def make(server: ScriptedServer | None = None, **overrides: Any) -> ModelSettings:
        values: dict[str, Any] = {
            "name": "coder", "model": "scripted-model",
            "base_url": server.base_url if server else "http://127.0.0.1:9/v1",
            "api_key_env": None, "timeout": 2.0, "max_attempts": 4, "max_retry_time": 10.0,
            "backoff_initial": 0.02, "backoff_max": 0.1,
        }
        values.update(overrides)
        return ModelSettings(**values)

    return make


@pytest.fixture
def drive() -> Drive:
    """Run ``body(model)`` in a fresh event loop with a model built from ``settings``; close it after."""

    def run(settings: ModelSettings, body: Callable[[OpenAIChatModel], Awaitable[T]], *,
            accountant: Accountant | None = None, cache: ResponseCache | None = None) -> T:
        async def main() -> T:
            async with OpenAIChatModel(settings, accountant, cache) as model:
                return await body(model)

        return asyncio.run(main())

    return run
