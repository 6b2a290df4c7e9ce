"""Choosing models on the command line: ``--model NAME=PROVIDER/MODEL`` and ``-M NAME.KEY=VALUE``.

Both are sugar for overrides of ``models.NAME.*``, applied to the merged spec before any check
(``--model`` first, then ``-M``, then ``--set``, so the most specific wins), so the choice is
lowered into the plan and the plan's hash says which model ran. ``--model`` sets ``provider``
and ``model`` and drops the entry's ``base_url`` and ``api_key_env``, which the provider then
fills (:func:`resolve_providers`); the entry's other settings (temperature, prices, ...) stay.

:func:`resolve_providers` is also what gives a spec's own ``provider:`` its meaning: for every
model entry with a provider, the provider's endpoint and key variable are written where the
entry leaves them out, read from this machine's environment now (a plan records the URL, never
the environment), as the loader does for ``${env:...}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from aira_dsl.compiler.overrides import Override, apply_overrides, parse_override
from aira_dsl.diagnostics import Diagnostic, Severity
from aira_dsl.settings.providers import PROVIDERS, resolve_provider
from aira_dsl.spec.schema_check import did_you_mean
from aira_dsl.spec.yamlpos import Path, YamlDocument

__all__ = ["apply_model_choices", "resolve_providers", "uses_providers"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_ENDPOINT_KEYS = ("base_url", "api_key_env")


def _shown(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def _model_names(doc: YamlDocument) -> list[str] | None:
    models = doc.data.get("models") if isinstance(doc.data, dict) else None
    return [str(name) for name in models] if isinstance(models, dict) else None


def _unknown_name(where: str, name: str, names: list[str] | None) -> Diagnostic | None:
    """The "no such model" diagnostic for ``name``, or None when the spec defines it."""
    if names is not None and name in names:
        return None
    if not names:
        return Diagnostic("unknown-model", f"{where}: the spec defines no models",
                          hint="add the model under `models:` in the spec first")
    guess = did_you_mean(name, names)
    return Diagnostic("unknown-model", f"{where}: no model '{name}' in the spec"
                      + (f"; did you mean '{guess}'?" if guess else ""),
                      hint=f"the spec's models: {', '.join(names)}")


def _parse_model(text: str, names: list[str] | None) -> tuple[str, str, str] | Diagnostic:
    """``NAME=PROVIDER/MODEL`` → (name, provider, model id)."""
    where = f"--model {_shown(text)}"
    providers = ", ".join(PROVIDERS)
    name, sep, choice = text.partition("=")
    name = name.strip()
    if not sep or not _NAME.match(name):
        return Diagnostic("bad-override", f"{where}: expected NAME=PROVIDER/MODEL, e.g. coder=openai/gpt-4o",
                          hint="NAME is a model of the spec's `models:`")
    provider, slash, model = choice.strip().partition("/")
    if not slash or not provider or not model.strip():
        return Diagnostic("bad-override", f"{where}: expected PROVIDER/MODEL after '=', e.g. {name}=openai/gpt-4o",
                          hint=f"providers: {providers} (docs/llm.md, Providers); to change only the model id: "
                               f"-M {name}.model=ID")
    if provider not in PROVIDERS:
        guess = did_you_mean(provider, list(PROVIDERS))
        return Diagnostic("unknown-provider", f"{where}: unknown provider '{provider}'"
                          + (f"; did you mean '{guess}'?" if guess else ""),
                          hint=f"providers: {providers} (docs/llm.md, Providers); any other OpenAI-compatible "
                               f"endpoint: -M {name}.base_url=URL")
    unknown = _unknown_name(where, name, names)
    return unknown if unknown is not None else (name, provider, model.strip())


def _drop(doc: YamlDocument, path: Path) -> None:
    """Remove the value at ``path`` (and its positions) if it is there."""
    node: Any = doc.data
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)
    for table in (doc.spans, doc.key_spans, doc.scalars):
        for p in [p for p in table if p[: len(path)] == path]:
            del table[p]


def apply_model_choices(doc: YamlDocument, models: Sequence[str], settings: Sequence[str]) -> list[Diagnostic]:
    """Apply ``--model`` then ``-M`` arguments to ``doc`` (a copy the caller owns).

    Every argument is checked before any is applied; problems are reported against the argument
    as typed, and nothing is applied when there is one.
    """
    names = _model_names(doc)
    problems: list[Diagnostic] = []
    chosen: dict[str, str] = {}
    overrides: list[Override] = []
    for text in models:
        parsed = _parse_model(text, names)
        if isinstance(parsed, Diagnostic):
            problems.append(parsed)
            continue
        name, provider, model = parsed
        if name in chosen:
            problems.append(Diagnostic("bad-override", f"--model {_shown(text)}: model '{name}' is already chosen "
                                       f"by --model {_shown(chosen[name])}", hint="give each NAME once"))
            continue
        chosen[name] = text
        shown = _shown(text)
        overrides += [Override(shown, ("models", name, "provider"), provider, "--model"),
                      Override(shown, ("models", name, "model"), model, "--model")]
    for text in settings:
        where = f"-M {_shown(text)}"
        key = text.partition("=")[0].strip()
        name, dot, rest = key.partition(".")
        if "=" not in text or not dot or not name or not rest:
            problems.append(Diagnostic("bad-override", f"{where}: expected NAME.KEY=VALUE, e.g. coder.temperature=0.2",
                                       hint="NAME is a model of the spec's `models:`, KEY one of its settings"))
            continue
        unknown = _unknown_name(where, name, names)
        if unknown is not None:
            problems.append(unknown)
            continue
        item = parse_override(f"models.{text.strip()}", origin="-M", shown=text.strip())
        if isinstance(item, Diagnostic):
            problems.append(item)
        else:
            overrides.append(item)
    if problems:
        return problems
    for name in chosen:
        for key in _ENDPOINT_KEYS:
            _drop(doc, ("models", name, key))
    return apply_overrides(doc, overrides)


def uses_providers(data: Any) -> bool:
    """Whether any model entry of spec data names a provider (so :func:`resolve_providers` has work)."""
    models = data.get("models") if isinstance(data, dict) else None
    return isinstance(models, dict) and any(isinstance(e, dict) and "provider" in e for e in models.values())


def resolve_providers(doc: YamlDocument, env: Callable[[str], str | None], env_mode: str) -> list[Diagnostic]:
    """Fill ``base_url`` and ``api_key_env`` of model entries that name a provider (a copy the
    caller owns). A required variable that is unset is reported like an unset ``${env:...}``:
    an error when compiling (``env_mode="error"``), a warning when validating, nothing when
    ``env_mode="off"``; the URL is then left as a ``${env:...}`` placeholder."""
    models = doc.data.get("models") if isinstance(doc.data, dict) else None
    if not isinstance(models, dict):
        return []
    lookup = env if env_mode != "off" else (lambda name: None)
    problems: list[Diagnostic] = []
    for name, entry in models.items():
        provider = entry.get("provider") if isinstance(entry, dict) else None
        if not isinstance(provider, str) or provider not in PROVIDERS:
            continue  # unknown names are the schema's to report, with the list
        at: Path = ("models", name, "provider")
        resolved = resolve_provider(provider, lookup)
        values = {"base_url": resolved.base_url, "api_key_env": resolved.api_key_env}
        for key, value in values.items():
            if key in entry:
                continue
            entry[key] = value
            span = doc.span(at)
            if span is not None:
                doc.spans[(*at[:-1], key)] = span
            if key == "base_url" and resolved.missing and env_mode != "off":
                example = PROVIDERS[provider].url_example or "URL"
                problems.append(doc.diagnostic(
                    "env-unset", f"environment variable {resolved.missing} is not set: provider '{provider}' of "
                                 f"model '{name}' takes its endpoint from it",
                    at, severity=Severity.ERROR if env_mode == "error" else Severity.WARNING,
                    hint=f"export {resolved.missing}={example} (or put it in a .env file), or set "
                         f"models.{name}.base_url"))
    return problems
