"""``aira-dsl serve-scripted`` as a real process: URL on stdout, answers, clean stop, exit codes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aira_dsl.llm import CallInfo, ModelSettings, OpenAIChatModel, ask_for_code

SCRIPT = """\
# answers for the serve-scripted test
rules:
  - when: {kind: draft}
    answers:
      - plan: Print a greeting.
        code: print("hello from the script")
"""


def _env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serves_the_script_until_interrupted(tmp_path: Path, sig: signal.Signals) -> None:
    script = tmp_path / "answers.yaml"
    script.write_text(SCRIPT)
    process = subprocess.Popen([sys.executable, "-m", "aira_dsl", "serve-scripted", str(script), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        settings = ModelSettings(name="coder", model="any", base_url=url, api_key_env=None, timeout=5)

        async def main() -> Any:
            async with OpenAIChatModel(settings) as model:
                return await ask_for_code(model, [{"role": "user", "content": "go"}], retries=0,
                                          info=CallInfo("draft", "draft", 1))

        result = asyncio.run(main())
        assert result.code == 'print("hello from the script")\n' and result.plan == "Print a greeting."
        process.send_signal(sig)
        _, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert "kind=draft operator=draft node=1 rule=rule 1 -> answer" in err
    assert "test instrument" in err


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aira_dsl", *args], capture_output=True, text=True, env=_env(),
                          timeout=60)


def test_an_invalid_script_exits_2_with_the_problem(tmp_path: Path) -> None:
    script = tmp_path / "bad.yaml"
    script.write_text("rules:\n  - answers:\n      - {txt: hello}\n")
    done = _run("serve-scripted", str(script), "--port", "0")
    assert done.returncode == 2
    assert "script.rules[0].answers[0]" in done.stderr and "hint:" in done.stderr


def test_a_missing_script_exits_2(tmp_path: Path) -> None:
    done = _run("serve-scripted", str(tmp_path / "nope.yaml"), "--port", "0")
    assert done.returncode == 2 and "cannot read the script" in done.stderr


def test_a_busy_port_exits_2(tmp_path: Path, serve: Any) -> None:
    server = serve({"rules": []})
    script = tmp_path / "answers.yaml"
    script.write_text(SCRIPT)
    done = _run("serve-scripted", str(script), "--port", str(server.port))
    assert done.returncode == 2 and f"cannot listen on 127.0.0.1:{server.port}" in done.stderr


def test_help_shows_examples() -> None:
    done = _run("serve-scripted", "--help")
    assert done.returncode == 0
    assert "Examples:" in done.stdout and "--port" in done.stdout and "not a model" in done.stdout
