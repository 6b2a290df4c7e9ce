"""Provider names for OpenAI-compatible endpoints: the one table behind ``--model coder=vllm/MODEL``.

Researchers name models the way inspect_ai and their notebooks do, ``openai/gpt-4o`` or
``vllm/Qwen/Qwen2.5-Coder-32B-Instruct``. A provider is only shorthand for two settings a model
already has: where its endpoint is (``base_url``) and which environment variable holds its key
(``api_key_env``). This table is the single definition of that shorthand; the compiler resolves
it when a spec is compiled (so the plan records the URL and the variable's name, never a key),
and docs/llm.md's table is generated from it (``python -m aira_dsl.settings.providers --write
docs/llm.md``; ``tests/llm/test_llm_providers.py`` fails when the two drift apart).

Where an endpoint depends on the machine (Azure's resource, a local server's port), its URL comes
from a documented environment variable, with the tool's conventional local port as the default
where it has one. Like the rest of ``settings/``, this module imports nothing from aira_dsl.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

__all__ = ["PROVIDERS", "Provider", "ProviderName", "ResolvedProvider", "provider_table", "resolve_provider"]

ProviderName = Literal["openai", "azure", "openrouter", "anthropic", "google", "vllm", "ollama", "lmstudio"]
"""The provider prefixes (the keys of :data:`PROVIDERS`, in the docs' order)."""


@dataclass(frozen=True)
class Provider:
    """One provider: where its OpenAI-compatible endpoint is and which variable holds its key.

    ``url_env`` names a variable that gives (or overrides) the URL; ``base_url`` is the URL when
    that variable is unset (None: the variable is required). ``url_suffix`` is appended to the
    variable's value when missing (Azure's variable holds the resource URL, the API lives under
    ``/openai/v1``). ``key_envs`` are the key variables in order of preference: the first one
    set is recorded; when none is set the first is recorded (so the missing-key error names it),
    or none at all when ``key_optional`` (local servers that check no key unless told to).
    ``url_example`` shows what a required ``url_env`` holds, for the hint when it is unset.
    """

    name: str
    title: str
    base_url: str | None
    url_env: str | None = None
    url_suffix: str = ""
    key_envs: tuple[str, ...] = ()
    key_optional: bool = False
    notes: str = ""
    url_example: str = ""


PROVIDERS: dict[str, Provider] = {p.name: p for p in (
    Provider("openai", "OpenAI", "https://api.openai.com/v1", url_env="OPENAI_BASE_URL",
             key_envs=("OPENAI_API_KEY",),
             notes="o-series: `send_temperature: false`, `max_tokens_param: max_completion_tokens`"),
    Provider("azure", "Azure OpenAI (v1 API)", None, url_env="AZURE_OPENAI_ENDPOINT", url_suffix="/openai/v1",
             key_envs=("AZURE_OPENAI_API_KEY",),
             notes="`AZURE_OPENAI_ENDPOINT=https://RESOURCE.openai.azure.com`; MODEL is the deployment name",
             url_example="https://RESOURCE.openai.azure.com"),
    Provider("openrouter", "OpenRouter", "https://openrouter.ai/api/v1", key_envs=("OPENROUTER_API_KEY",),
             notes="MODEL is OpenRouter's id, e.g. `openrouter/anthropic/claude-sonnet-4`"),
    Provider("anthropic", "Anthropic (OpenAI SDK compatibility)", "https://api.anthropic.com/v1",
             key_envs=("ANTHROPIC_API_KEY",), notes="Chat Completions only; Anthropic calls the layer a way to test and compare models"),
    Provider("google", "Google Gemini (OpenAI compatibility)",
             "https://generativelanguage.googleapis.com/v1beta/openai", key_envs=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
             notes="the first of the two key variables that is set"),
    Provider("vllm", "vLLM (`vllm serve MODEL`)", "http://localhost:8000/v1", url_env="VLLM_BASE_URL",
             key_envs=("VLLM_API_KEY",), key_optional=True,
             notes="key only when `VLLM_API_KEY` is set (a server started with `--api-key`)"),
    Provider("ollama", "Ollama", "http://localhost:11434/v1", url_env="OLLAMA_BASE_URL", key_optional=True,
             notes="checks no key"),
    Provider("lmstudio", "LM Studio", "http://localhost:1234/v1", url_env="LMSTUDIO_BASE_URL", key_optional=True,
             notes="checks no key"),
)}
"""Every provider by name; :data:`ProviderName` lists the same names."""

if tuple(PROVIDERS) != get_args(ProviderName):  # pragma: no cover - a broken edit of this file
    raise AssertionError("PROVIDERS and ProviderName must list the same providers in the same order")


@dataclass(frozen=True)
class ResolvedProvider:
    """A provider's settings on this machine. ``missing`` names a required variable that is unset
    (``base_url`` is then a ``${env:NAME}`` placeholder, as the spec loader leaves unset values)."""

    base_url: str
    api_key_env: str | None
    missing: str | None = None


def resolve_provider(name: str, env: Callable[[str], str | None]) -> ResolvedProvider:
    """``base_url`` and ``api_key_env`` of provider ``name`` given the environment ``env``.

    Raises ``KeyError`` for an unknown name (callers check names against :data:`PROVIDERS`).
    """
    provider = PROVIDERS[name]
    found = env(provider.url_env) if provider.url_env else None
    missing = None
    if found:
        url = found.strip().rstrip("/")
        if provider.url_suffix and not url.endswith(provider.url_suffix):
            url += provider.url_suffix
    elif provider.base_url is not None:
        url = provider.base_url
    else:
        missing = provider.url_env
        url = f"${{env:{provider.url_env}}}{provider.url_suffix}"
    key = next((k for k in provider.key_envs if env(k)), None)
    if key is None and not provider.key_optional and provider.key_envs:
        key = provider.key_envs[0]
    return ResolvedProvider(url, key, missing)


def provider_table() -> str:
    """The Markdown table of docs/llm.md (between its ``providers`` markers)."""
    rows = ["| prefix | endpoint | `base_url` | key variable | notes |",
            "| --- | --- | --- | --- | --- |"]
    for p in PROVIDERS.values():
        if p.url_env and p.base_url:
            url = f"`${p.url_env}`, else `{p.base_url}`"
        elif p.url_env:
            url = f"`${p.url_env}` + `{p.url_suffix}` (required)"
        else:
            url = f"`{p.base_url}`"
        keys = " or ".join(f"`{k}`" for k in p.key_envs) or "none"
        if p.key_optional and p.key_envs:
            keys += " (optional)"
        rows.append(f"| `{p.name}` | {p.title} | {url} | {keys} | {p.notes} |")
    return "\n".join(rows) + "\n"


BEGIN = "<!-- providers table: generated by `python -m aira_dsl.settings.providers --write docs/llm.md` -->\n"
END = "<!-- end of providers table -->\n"


def with_table(text: str) -> str:
    """``text`` (a docs page holding the markers) with the table between them replaced."""
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError("the page holds no providers-table markers")
    return head + BEGIN + provider_table() + END + tail


def _main(argv: list[str] | None = None) -> int:
    import argparse  # only for this script entry: every spec check imports this module

    parser = argparse.ArgumentParser(description="Print the provider table, or write it into a docs page.")
    parser.add_argument("--write", type=Path, help="replace the table between the markers of this page")
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.write(provider_table())
        return 0
    args.write.write_text(with_table(args.write.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
