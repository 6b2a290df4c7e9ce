"""Provider prefixes resolve as docs/llm.md documents them, and the table there is generated.

Each row of the documented table is checked by compiling a spec with ``--model coder=PROVIDER/...``
under a given environment; providers whose endpoint comes from a variable are also pointed at a
scripted server and called through the real client, with the key variable the table names.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from aira_dsl.compiler import check_spec, compile_spec
from aira_dsl.llm import CallInfo, OpenAIChatModel
from aira_dsl.llm.scripted import ScriptedServer
from aira_dsl.plan import Plan, load_plan
from aira_dsl.settings.fields import build, dump
from aira_dsl.settings.model import ModelSettings
from aira_dsl.settings.providers import PROVIDERS, provider_table, with_table

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "specs" / "aira-greedy.yaml"
GEMINI = "https://generativelanguage.googleapis.com/v1beta/openai"

# (provider, environment, base_url, api_key_env): what docs/llm.md's Providers table says.
CASES: list[tuple[str, dict[str, str], str, str | None]] = [
    ("openai", {}, "https://api.openai.com/v1", "OPENAI_API_KEY"),
    ("openai", {"OPENAI_BASE_URL": "http://proxy:4000/v1"}, "http://proxy:4000/v1", "OPENAI_API_KEY"),
    ("azure", {"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com/"}, "https://res.openai.azure.com/openai/v1",
     "AZURE_OPENAI_API_KEY"),
    ("azure", {"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com/openai/v1/"},
     "https://res.openai.azure.com/openai/v1", "AZURE_OPENAI_API_KEY"),
    ("openrouter", {}, "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    ("anthropic", {}, "https://api.anthropic.com/v1", "ANTHROPIC_API_KEY"),
    ("google", {}, GEMINI, "GEMINI_API_KEY"),
    ("google", {"GOOGLE_API_KEY": "k"}, GEMINI, "GOOGLE_API_KEY"),
    ("google", {"GEMINI_API_KEY": "k", "GOOGLE_API_KEY": "k"}, GEMINI, "GEMINI_API_KEY"),
    ("vllm", {}, "http://localhost:8000/v1", None),
    ("vllm", {"VLLM_BASE_URL": "http://gpu-box:9000/v1/", "VLLM_API_KEY": "k"}, "http://gpu-box:9000/v1",
     "VLLM_API_KEY"),
    ("ollama", {}, "http://localhost:11434/v1", None),
    ("ollama", {"OLLAMA_BASE_URL": "http://mac:11434/v1"}, "http://mac:11434/v1", None),
    ("lmstudio", {}, "http://localhost:1234/v1", None),
    ("lmstudio", {"LMSTUDIO_BASE_URL": "http://desk:1234/v1"}, "http://desk:1234/v1", None),
]


@pytest.mark.parametrize(("provider", "env", "base_url", "key"), CASES)
def test_each_provider_resolves_as_documented(provider: str, env: dict[str, str], base_url: str,
                                              key: str | None) -> None:
    result = compile_spec(SPEC, models=[f"coder={provider}/org/model-1"], env=env.get)
    assert result.plan is not None, result.diagnostics.sorted()
    coder = result.plan.models["coder"]
    assert (coder.provider, coder.model, coder.base_url, coder.api_key_env) == (provider, "org/model-1", base_url, key)
    assert "k" not in {coder.base_url, coder.api_key_env}  # names and URLs only, never a key's value
    row = next(line for line in provider_table().splitlines() if line.startswith(f"| `{provider}` |"))
    assert (key or "none") in row or (key is None and PROVIDERS[provider].key_optional)
    assert (base_url in row) or any(f"${name}" in row for name in env)


def test_every_provider_has_a_case() -> None:
    assert {case[0] for case in CASES} == set(PROVIDERS)


def test_the_documented_table_is_the_generated_one() -> None:
    page = (REPO / "docs" / "llm.md").read_text(encoding="utf-8")
    assert with_table(page) == page, ("docs/llm.md's provider table is stale: run "
                                      "`python -m aira_dsl.settings.providers --write docs/llm.md`")
    assert provider_table() in page


@pytest.mark.parametrize("provider", ["openai", "azure", "vllm", "ollama", "lmstudio"])
def test_a_provider_endpoint_from_the_environment_is_called(provider: str) -> None:
    """Providers whose URL a variable gives: a call reaches that URL with the documented key."""
    spec = PROVIDERS[provider]
    key_env = spec.key_envs[0] if spec.key_envs else None
    script: dict[str, Any] = {"rules": [{"answers": [{"text": "hello"}]}]}
    if key_env is not None:
        script["require_api_key"] = "sk-test"
    with ScriptedServer(script) as server:
        assert spec.url_env is not None
        # Azure's variable holds the resource URL (the suffix /openai/v1 is added); the others, the API's.
        env = {spec.url_env: server.base_url.removesuffix("/v1") if spec.url_suffix else server.base_url}
        if key_env is not None:
            env[key_env] = "sk-test"
        result = compile_spec(SPEC, models=[f"reviewer={provider}/served-model"], env=env.get)
        assert result.plan is not None, result.diagnostics.sorted()
        settings = result.plan.models["reviewer"]
        settings = ModelSettings(**{**settings.to_dict(), "name": "reviewer", "timeout": 5.0, "max_attempts": 1})

        async def call() -> str:
            import os

            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                async with OpenAIChatModel(settings) as model:
                    return (await model.chat([{"role": "user", "content": "hi"}], purpose=CallInfo("t", "t"))).text
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v

        assert asyncio.run(call()) == "hello"
        (request,) = server.requests
    expected = "/openai/v1/chat/completions" if provider == "azure" else "/v1/chat/completions"
    assert request["path"] == expected and request["body"]["model"] == "served-model"
    assert request["outcome"] == "answer"  # with require_api_key: the documented variable's key was sent


def write_spec(tmp_path: Path, models: str) -> Path:
    spec = tmp_path / "agent.yaml"
    spec.write_text(f"version: 1\nname: agent\nextends: {SPEC}\nmodels:\n{models}", encoding="utf-8")
    return spec


def test_a_spec_may_name_a_provider(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "  coder: {provider: vllm, model: Qwen/Qwen2.5-Coder-32B-Instruct}\n"
                                "  reviewer: {provider: openrouter, model: openai/gpt-4o, base_url: 'http://mine/v1'}\n")
    result = compile_spec(spec, env={"VLLM_BASE_URL": "http://gpu:8000/v1"}.get)
    assert result.plan is not None, result.diagnostics.sorted()
    coder, reviewer = result.plan.models["coder"], result.plan.models["reviewer"]
    assert (coder.base_url, coder.api_key_env, coder.model) == ("http://gpu:8000/v1", None,
                                                                  "Qwen/Qwen2.5-Coder-32B-Instruct")
    assert (reviewer.base_url, reviewer.api_key_env) == ("http://mine/v1", "OPENROUTER_API_KEY")  # the entry wins
    # --model replaces the spec's endpoint; a provider does not reach into another entry.
    chosen = compile_spec(spec, models=["reviewer=anthropic/claude-sonnet-4-5"], env={}.get)
    assert chosen.plan is not None
    assert chosen.plan.models["reviewer"].base_url == "https://api.anthropic.com/v1"


def test_a_required_endpoint_variable_is_positioned_at_the_provider(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "  coder: {provider: azure, model: my-deployment}\n")
    (error,) = [d for d in compile_spec(spec, env={}.get).diagnostics.sorted() if d.is_error]
    assert (error.code, error.file, error.line) == ("env-unset", str(spec), 5)
    assert "AZURE_OPENAI_ENDPOINT" in error.message and error.hint and "https://RESOURCE.openai.azure.com" in error.hint
    warnings = [d for d in check_spec(spec, env={}.get).diagnostics.sorted() if d.code == "env-unset"]
    assert warnings and not any(d.is_error for d in warnings)  # validate: a warning, as for ${env:...}


def test_an_unknown_provider_in_a_spec_is_a_schema_error(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "  coder: {provider: olama, model: llama3}\n")
    diagnostics = check_spec(spec).diagnostics.sorted()
    assert any(d.is_error and "olama" in d.message and d.line == 5 and "ollama" in (d.hint or d.message)
               for d in diagnostics), diagnostics


def test_new_model_settings_stay_out_of_plans_that_do_not_use_them(tmp_path: Path) -> None:
    """``provider`` and ``api`` at their defaults are left out of the plan file, so plans compiled
    before they existed keep their bytes and hashes (and still load)."""
    plain = compile_spec(SPEC).plan
    assert plain is not None
    assert {"provider", "api"}.isdisjoint(plain.to_dict()["models"]["coder"])
    path = tmp_path / "plan.json"
    plain.write(path)
    assert load_plan(path).plan_hash == plain.plan_hash
    chosen = compile_spec(SPEC, models=["coder=openai/o3"], model_settings=["coder.api=responses"]).plan
    assert chosen is not None and chosen.plan_hash != plain.plan_hash
    data = json.loads(chosen.to_json())
    assert data["models"]["coder"]["api"] == "responses" and data["models"]["coder"]["provider"] == "openai"
    assert Plan.from_dict(data).models["coder"].api == "responses"
    settings = chosen.models["coder"]
    assert build(ModelSettings, dump(settings), key="coder") == settings


def test_model_settings_refuse_an_unknown_api_or_provider() -> None:
    from aira_dsl.settings.model import ModelConfigError

    with pytest.raises(ModelConfigError, match="`api` must be chat or responses"):
        ModelSettings(name="m", model="x", api="completions")  # type: ignore[arg-type]
    with pytest.raises(ModelConfigError, match="`provider` must be one of"):
        ModelSettings(name="m", model="x", provider="bedrock")  # type: ignore[arg-type]
