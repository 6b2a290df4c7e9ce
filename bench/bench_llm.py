"""Benchmark of the LLM client against the scripted server (run: ``python bench/bench_llm.py``).

1. Overhead per call, zero server latency, one call at a time: the client (retry wrapper,
   accounting, answer parsing; optionally recording to SQLite) against two baselines measured in
   the same process on the same server: a bare keep-alive ``http.client`` POST, and the ``openai``
   package's AsyncOpenAI called directly.
2. Concurrency scaling with 100 ms of server latency: 128 calls through one model whose
   ``max_concurrency`` is 1, 4 and 16; throughput and speedup over 1 in flight.

The server runs in its own process (``aira-dsl serve-scripted``) so it does not share the GIL with
the client. Figures are medians over repetitions.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlparse

import openai

from aira_dsl.llm import CallInfo, ModelSettings, OpenAIChatModel, ResponseCache

MESSAGES = [{"role": "system", "content": "You write Python."}, {"role": "user", "content": "Print hello."}]
SCRIPT = "rules:\n  - answers:\n      - plan: Print it.\n        code: print('hello')\n"


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    folder = Path(tempfile.mkdtemp(prefix="bench-llm-"))
    script = folder / "answers.yaml"
    script.write_text(f"latency: {latency}\n{SCRIPT}")
    process = subprocess.Popen([sys.executable, "-m", "aira_dsl", "serve-scripted", str(script), "--port", "0",
                                "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def settings(url: str, concurrency: int = 1) -> ModelSettings:
    return ModelSettings(name="bench", model="scripted", base_url=url, api_key_env=None, timeout=30,
                         max_concurrency=concurrency)


def raw_http(url: str, calls: int) -> float:
    """Seconds for ``calls`` sequential POSTs on one keep-alive connection (the floor)."""
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=30)
    body = json.dumps({"model": "scripted", "messages": MESSAGES})
    started = time.perf_counter()
    for _ in range(calls):
        connection.request("POST", parsed.path + "/chat/completions", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        json.loads(response.read())
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


async def bare_openai(url: str, calls: int) -> float:
    client = openai.AsyncOpenAI(base_url=url, api_key="none", max_retries=0)
    started = time.perf_counter()
    for _ in range(calls):
        await client.chat.completions.create(model="scripted", messages=MESSAGES)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


async def ours(url: str, calls: int, cache: ResponseCache | None = None) -> float:
    async with OpenAIChatModel(settings(url), cache=cache) as model:
        started = time.perf_counter()
        for index in range(calls):
            # distinct node ids; in record mode each call is a new occurrence of the same request
            await model.chat(MESSAGES, purpose=CallInfo("draft", "draft", index))
        return time.perf_counter() - started


async def recording(url: str, calls: int) -> float:
    with tempfile.TemporaryDirectory() as folder, ResponseCache(Path(folder) / "rec.sqlite", "record") as cache:
        return await ours(url, calls, cache)


def median_rate(measure: Callable[[], float], calls: int, repeats: int) -> float:
    return statistics.median(calls / measure() for _ in range(repeats))


def overhead(calls: int, repeats: int) -> None:
    process, url = start_server(0.0)
    try:
        def arun(factory: Callable[[str, int], Awaitable[float]]) -> Callable[[], float]:
            return lambda: asyncio.run(factory(url, calls))  # type: ignore[arg-type]

        raw_http(url, 50)  # warm up both sides
        asyncio.run(ours(url, 50))
        rates = {
            "raw http.client (baseline)": median_rate(lambda: raw_http(url, calls), calls, repeats),
            "openai.AsyncOpenAI directly": median_rate(arun(bare_openai), calls, repeats),
            "OpenAIChatModel.chat": median_rate(arun(ours), calls, repeats),
            "OpenAIChatModel.chat + record": median_rate(arun(recording), calls, repeats),
        }
    finally:
        process.terminate()
        process.wait()
    base = rates["raw http.client (baseline)"]
    bare = rates["openai.AsyncOpenAI directly"]
    print(f"\n1. overhead per call, zero latency, sequential ({calls} calls, median of {repeats})")
    print(f"{'path':34} {'calls/s':>9} {'ms/call':>9} {'vs raw':>8} {'+ms vs openai':>14}")
    for name, rate in rates.items():
        extra = (1000 / rate - 1000 / bare) if name.startswith("OpenAIChatModel") else float("nan")
        print(f"{name:34} {rate:9.0f} {1000 / rate:9.2f} {base / rate:7.2f}x {extra:14.2f}")


async def scaled(url: str, concurrency: int, calls: int) -> float:
    async with OpenAIChatModel(settings(url, concurrency)) as model:
        started = time.perf_counter()
        await asyncio.gather(*(model.chat(MESSAGES, purpose=CallInfo("draft", "draft", i)) for i in range(calls)))
        return time.perf_counter() - started


def scaling(calls: int, repeats: int) -> None:
    process, url = start_server(0.1)
    try:
        asyncio.run(scaled(url, 4, 8))
        rates = {k: median_rate(lambda k=k: asyncio.run(scaled(url, k, calls)), calls, repeats)  # type: ignore[misc]
                 for k in (1, 4, 16)}
    finally:
        process.terminate()
        process.wait()
    print(f"\n2. concurrency scaling, 100 ms server latency ({calls} calls, median of {repeats})")
    print(f"{'in flight':>9} {'calls/s':>9} {'speedup':>8} {'ideal':>6} {'efficiency':>11}")
    for k, rate in rates.items():
        speedup = rate / rates[1]
        print(f"{k:9d} {rate:9.1f} {speedup:7.2f}x {k:5d}x {speedup / k:10.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per overhead measurement")
    parser.add_argument("--scaling-calls", type=int, default=128, help="calls per scaling measurement")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, openai {openai.__version__}")
    overhead(args.calls, args.repeats)
    scaling(args.scaling_calls, max(1, args.repeats // 2 + 1))


if __name__ == "__main__":
    main()
