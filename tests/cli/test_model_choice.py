"""``--model``, ``-M`` and ``.env`` through the real CLI, against the scripted server.

The end-to-end run is what a researcher types: a ``.env`` file names the endpoint, ``--model``
picks each model of the spec by provider, ``-M`` sets one of their settings, and one of the two
models speaks the Responses API. The scripted server's log then shows which model name reached
which route, and the run's plan records the choice (so its hash differs from the spec's own).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests_support import REPO, run_cli  # type: ignore[import-not-found]

from aira_dsl.cli import main
from aira_dsl.llm.scripted import ScriptedServer

SPEC = REPO / "specs" / "aira-greedy.yaml"

GOOD = """import json, shutil
shutil.copy("./data/sample_submission.csv", "./submission/submission.csv")
print("validation accuracy: 0.5")
json.dump({"cv_score": 0.5}, open("./working/metrics.json", "w"))
"""

SCRIPT: dict[str, Any] = {"rules": [
    {"when": {"kind": "analyze"}, "answers": [{"review": {"is_bug": False, "summary": "ran", "metric": 0.5}}]},
    {"when": {"kind": ["draft", "improve", "debug", "crossover"]},
     "answers": [{"plan": "copy the sample", "code": GOOD, "reasoning": "keep it simple",
                  "usage": {"prompt_tokens": 900, "completion_tokens": 80, "reasoning_tokens": 7}}]},
]}


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any model endpoint or key variable."""
    names = ("OPENAI_", "VLLM_", "OLLAMA_", "LMSTUDIO_", "AZURE_OPENAI_", "OPENROUTER_", "ANTHROPIC_", "GEMINI_",
             "GOOGLE_API")
    env = {k: v for k, v in os.environ.items() if not k.startswith(names)}
    return {**env, **extra}


@pytest.mark.slow
def test_model_env_file_and_responses_api_through_the_real_cli(tmp_path: Path) -> None:
    with ScriptedServer({**SCRIPT, "require_api_key": "key-from-environment"}) as server:
        # The file names the endpoint and a key; the key already set in the environment wins.
        (tmp_path / ".env").write_text(f"VLLM_BASE_URL={server.base_url}\nVLLM_API_KEY=key-from-file\n")
        out = tmp_path / "run"
        result = run_cli("run", str(SPEC), "--task", "penguins", "--out", str(out), "--workers", "1",
                         "--model", "coder=vllm/Qwen/Qwen2.5-Coder-7B", "--model", "reviewer=vllm/scripted-reviewer",
                         "-M", "coder.api=responses", "-M", "coder.temperature=0.25",
                         "--set", "budget.steps=2", cwd=tmp_path, timeout=240,
                         env=clean_env(VLLM_API_KEY="key-from-environment"))
        requests = [r for r in server.requests if r["method"] == "POST"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"loaded .env from {tmp_path / '.env'}" in result.stderr
    assert result.stderr.count("loaded .env") == 1
    assert "key-from" not in result.stdout + result.stderr  # paths are shown, values never

    coder = [r for r in requests if r["kind"] != "analyze"]
    reviewer = [r for r in requests if r["kind"] == "analyze"]
    assert coder and reviewer
    assert {r["path"] for r in coder} == {"/v1/responses"}  # -M coder.api=responses
    assert {r["body"]["model"] for r in coder} == {"Qwen/Qwen2.5-Coder-7B"}  # the model id keeps its own slash
    assert all(r["body"]["temperature"] == 0.25 and "input" in r["body"] and r["body"]["store"] is False
               for r in coder)
    assert {r["path"] for r in reviewer} == {"/v1/chat/completions"}
    assert {r["body"]["model"] for r in reviewer} == {"scripted-reviewer"}
    assert all(r["outcome"] == "answer" for r in requests)  # every request carried the environment's key

    plan = json.loads((out / "plan.json").read_text())
    coder_plan = plan["models"]["coder"]
    assert (coder_plan["provider"], coder_plan["model"], coder_plan["base_url"], coder_plan["api_key_env"],
            coder_plan["api"]) == ("vllm", "Qwen/Qwen2.5-Coder-7B", server.base_url, "VLLM_API_KEY", "responses")
    assert "key-from" not in json.dumps(plan)
    own = run_cli("compile", str(SPEC), "--no-env-file", cwd=tmp_path, env=clean_env())
    assert own.returncode == 0 and json.loads(own.stdout)["plan_hash"] != plan["plan_hash"]

    # Accounting saw the Responses API's usage (reasoning included) like a chat call's.
    import sqlite3

    conn = sqlite3.connect(out / "journal.sqlite")
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(llm_calls)")]
        rows = [dict(zip(columns, row, strict=True)) for row in conn.execute("SELECT * FROM llm_calls")]
    finally:
        conn.close()
    drafts = [r for r in rows if r["kind"] != "analyze"]
    assert drafts and all((r["prompt_tokens"], r["completion_tokens"], r["reasoning_tokens"], r["reasoning"])
                          == (900, 80, 7, "keep it simple") for r in drafts)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``aira-dsl ARGS`` in this process: (exit code, stdout, stderr)."""
    try:
        main([*args])
        code = 0
    except SystemExit as exit_info:
        code = int(exit_info.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def no_endpoints(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A working folder without .env and an environment without endpoint variables; whatever a
    .env file adds to the environment is taken out again afterwards."""
    import aira_dsl.cli._models as models

    saved = dict(os.environ)
    for name in list(os.environ):
        if name not in clean_env():
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(models, "_loaded", None)
    yield tmp_path
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize(("args", "code", "expected"), [
    (["--model", "codr=openai/o3"], 1,
     "--model codr=openai/o3: no model 'codr' in the spec; did you mean 'coder'?"),
    (["--model", "coder=opnai/o3"], 1, "unknown provider 'opnai'; did you mean 'openai'?"),
    (["--model", "coder=o3"], 1, "expected PROVIDER/MODEL after '='"),
    (["--model", "coder"], 1, "expected NAME=PROVIDER/MODEL"),
    (["--model", "coder=openai/o3", "--model", "coder=vllm/x"], 1, "model 'coder' is already chosen"),
    (["-M", "codr.temperature=0.2"], 1, "-M codr.temperature=0.2: no model 'codr' in the spec"),
    (["-M", "coder.temprature=0.2"], 1, "did you mean 'temperature'?"),
    (["-M", "coder=0.2"], 1, "expected NAME.KEY=VALUE"),
    (["--model", "coder=azure/my-deployment"], 1, "environment variable AZURE_OPENAI_ENDPOINT is not set"),
    (["--env-file", "missing.env"], 2, "--env-file missing.env: no such file"),
    (["--env-file", "a.env", "--no-env-file"], 2, "contradict each other"),
])
def test_compile_refuses_bad_model_choices(capsys: pytest.CaptureFixture[str], no_endpoints: Path,
                                           args: list[str], code: int, expected: str) -> None:
    (no_endpoints / "a.env").write_text("")
    status, out, err = cli(capsys, "compile", str(SPEC), *args)
    assert status == code, err
    assert expected in err
    assert out == "" and "Traceback" not in err
    assert len(err.splitlines()) <= 12  # one screen


def test_unknown_provider_lists_the_providers(capsys: pytest.CaptureFixture[str], no_endpoints: Path) -> None:
    status, _, err = cli(capsys, "compile", str(SPEC), "--model", "coder=bedrock/claude")
    assert status == 1
    assert "unknown provider 'bedrock'" in err
    assert "openai, azure, openrouter, anthropic, google, vllm, ollama, lmstudio" in err


def test_model_and_settings_are_lowered_into_the_plan(capsys: pytest.CaptureFixture[str], no_endpoints: Path) -> None:
    status, out, err = cli(capsys, "compile", str(SPEC), "--model", "reviewer=ollama/qwen2.5:7b",
                           "-M", "reviewer.max_tokens=512", "--set", "models.reviewer.max_tokens=1024")
    assert status == 0, err
    reviewer = json.loads(out)["models"]["reviewer"]
    assert (reviewer["provider"], reviewer["model"], reviewer["base_url"], reviewer["api_key_env"]) == (
        "ollama", "qwen2.5:7b", "http://localhost:11434/v1", None)
    assert reviewer["max_tokens"] == 1024  # --set comes after -M
    assert "loaded .env" not in err


def test_render_takes_model_choices(capsys: pytest.CaptureFixture[str], no_endpoints: Path) -> None:
    status, out, err = cli(capsys, "render", str(SPEC), "draft", "--model", "coder=anthropic/claude-sonnet-4-5",
                           "--format", "json")
    assert status == 0, err
    assert json.loads(out)["model"] == "claude-sonnet-4-5"


def test_a_compiled_plan_and_a_resumed_run_refuse_model_choices(capsys: pytest.CaptureFixture[str],
                                                                 no_endpoints: Path) -> None:
    status, _, err = cli(capsys, "compile", str(SPEC), "-o", "plan.json")
    assert status == 0, err
    status, _, err = cli(capsys, "render", "plan.json", "draft", "--model", "coder=openai/o3")
    assert status == 2 and "--model cannot change a compiled plan" in err
    status, _, err = cli(capsys, "run", "--resume", str(no_endpoints / "nothing"), "--model", "coder=openai/o3")
    assert status == 2 and "cannot change a run being resumed" in err


def test_env_file_is_found_from_the_spec_and_never_overrides(capsys: pytest.CaptureFixture[str], no_endpoints: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    project = no_endpoints / "project"
    (project / "specs").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    spec = project / "specs" / "agent.yaml"
    spec.write_text(SPEC.read_text().replace("extends: aira-base.yaml", f"extends: {REPO / 'specs' / 'aira-base.yaml'}"))
    (project / ".env").write_text("VLLM_BASE_URL=http://gpu-box:8000/v1\nOLLAMA_BASE_URL=http://from-file/v1\n")
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://already-set:11434/v1")
    monkeypatch.chdir(no_endpoints)  # not the project: the file is found from the spec
    status, out, err = cli(capsys, "compile", str(spec), "--model", "coder=vllm/m", "--model", "reviewer=ollama/r")
    assert status == 0, err
    assert f"loaded .env from {project / '.env'}" in err
    models = json.loads(out)["models"]
    assert models["coder"]["base_url"] == "http://gpu-box:8000/v1"
    assert models["reviewer"]["base_url"] == "http://already-set:11434/v1"
    assert "gpu-box" not in err  # the path is shown, values never
    status, out, err = cli(capsys, "compile", str(spec), "--model", "coder=vllm/m", "--no-env-file")
    assert status == 0 and "loaded .env" not in err


def test_a_run_whose_provider_key_is_unset_is_refused_before_it_starts(capsys: pytest.CaptureFixture[str],
                                                                        no_endpoints: Path) -> None:
    out = no_endpoints / "run"
    status, _, err = cli(capsys, "run", str(SPEC), "--task", "penguins", "--out", str(out),
                         "--model", "coder=anthropic/claude-sonnet-4-5", "--model", "reviewer=ollama/qwen2.5:7b")
    assert status == 2, err
    assert ("ANTHROPIC_API_KEY is not set: model 'coder' (claude-sonnet-4-5 at https://api.anthropic.com/v1) "
            "needs an API key") in err
    assert "put it in a .env file" in err and "Traceback" not in err
    assert not out.exists()


def test_validate_reads_the_env_file_as_run_does(tmp_path: Path) -> None:
    """A ${env:NAME} kept in the project's .env is not reported unset by validate (run would see
    it); --no-env-file and a folder argument behave as documented."""
    project = tmp_path / "project"
    (project / "specs").mkdir(parents=True)
    (project / ".git").mkdir()
    spec = project / "specs" / "agent.yaml"
    spec.write_text("version: 1\nextends: aira-dsl:specs/aira-greedy.yaml\nname: env-agent\n"
                    "models:\n  coder: {model: \"${env:AIRA_TEST_CODER_MODEL}\"}\n", encoding="utf-8")
    env = clean_env()
    env.pop("AIRA_TEST_CODER_MODEL", None)
    unset = run_cli("validate", str(spec), "--no-env-file", cwd=tmp_path, env=env)
    assert unset.returncode == 0 and "env-unset" in unset.stdout and "loaded .env" not in unset.stderr

    (project / ".env").write_text("AIRA_TEST_CODER_MODEL=gpt-4o\n", encoding="utf-8")
    for target in (spec, project / "specs"):
        found = run_cli("validate", str(target), cwd=tmp_path, env=env)
        assert found.returncode == 0, found.stdout + found.stderr
        assert "env-unset" not in found.stdout and f"loaded .env from {project / '.env'}" in found.stderr
        assert "gpt-4o" not in found.stderr  # the path is shown, values never
    strict = run_cli("validate", str(spec), "--strict", "--no-env-file", cwd=tmp_path, env=env)
    assert strict.returncode == 1
    missing = run_cli("validate", str(spec), "--env-file", str(tmp_path / "nope.env"), cwd=tmp_path, env=env)
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr
