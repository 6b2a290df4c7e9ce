"""One model's settings: the spec's ``models.<name>`` section, the plan's model entry and the LLM
client's input are this one type.

Differences between endpoints (o-series models that refuse ``temperature``, servers whose chat
template has no system role, ``max_completion_tokens`` versus ``max_tokens``) are switches here
rather than lists of model names in the client, because new model names appear faster than any
list can follow. Every field is declared once, with its default, range and description; the
schema and the reference docs are generated from these declarations.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Literal, get_args
from urllib.parse import urlparse

from aira_dsl.diagnostics import Diagnostic
from aira_dsl.settings.fields import Duration, SettingError, setting
from aira_dsl.settings.providers import PROVIDERS, ProviderName

__all__ = [
    "DEFAULT_BASE_URL",
    "ENDPOINT_APIS",
    "ENV_NAME",
    "MaxTokensParam",
    "ModelConfigError",
    "ModelSettings",
    "ReviewMethod",
    "StructuredOutput",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
"""Where requests go when neither ``base_url`` nor ``OPENAI_BASE_URL`` says otherwise."""

ENV_NAME = "^[A-Za-z_][A-Za-z0-9_]*$"
"""What an environment variable's name looks like."""

StructuredOutput = Literal["auto", "tools", "json_schema", "json_object", "text"]
ReviewMethod = Literal["tools", "json_schema", "json_object", "text"]
MaxTokensParam = Literal["max_tokens", "max_completion_tokens"]
ReasoningEffort = Literal["minimal", "low", "medium", "high"]
EndpointApi = Literal["chat", "responses"]
ENDPOINT_APIS: tuple[str, ...] = get_args(EndpointApi)

_FROZEN_MAPPINGS = ("extra_body", "extra_headers")


class ModelConfigError(SettingError):
    """Model settings that cannot work: a malformed ``base_url``, a bad value, a missing key variable.

    Carries a one-line ``message`` and a ``hint``; the CLI prints both and exits 2.
    """

    code = "llm-config"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        return self.message + (f"\n  hint: {self.hint}" if self.hint else "")

    def to_diagnostic(self) -> Diagnostic:
        return Diagnostic(self.code, self.message, hint=self.hint)


def _copy(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """A private plain-dict copy (picklable, unlike a mappingproxy), so callers cannot alias it."""
    return None if value is None else dict(value)


@dataclass(frozen=True)
class ModelSettings:
    """Everything needed to call one model; defaults suit OpenAI's hosted models.

    ``name`` is the spec's key for the model (``coder``), ``model`` the id sent to the endpoint.
    ``None`` for a sampling parameter means "not sent" (the server's default applies).
    """

    __schema_def__: ClassVar[str] = "model"
    __schema_doc__: ClassVar[str] = "Settings of one named LLM."
    __schema_groups__: ClassVar[dict[str, str]] = {
        "price": "Token prices used for cost accounting and the cost_usd budget."}

    name: str = setting(from_key=True, doc="The spec's name for the model (its key under `models`).")
    model: str = setting(min_length=1, doc="Model name as the endpoint knows it (e.g. o3, gpt-4o, "
                                           "Qwen/Qwen2.5-7B-Instruct).")
    provider: ProviderName | None = setting(
        None, omit_default=True,
        doc="Shorthand for an endpoint (docs/llm.md, Providers): fills base_url and api_key_env where this "
            "entry does not set them, resolved when the spec is compiled.")
    base_url: str | None = setting(None, min_length=1, doc="OpenAI-compatible endpoint URL; default: "
                                                           "$OPENAI_BASE_URL or OpenAI's.")
    api_key_env: str | None = setting(
        "OPENAI_API_KEY", pattern=ENV_NAME,
        doc="Name of the environment variable holding the API key (the key itself never enters a plan).")
    temperature: float | None = setting(None, ge=0, le=2, doc="Sampling temperature; leave out for models "
                                                              "that reject it (o-series).")
    top_p: float | None = setting(None, gt=0, le=1, doc="Nucleus sampling mass.")
    max_tokens: int | None = setting(None, ge=1, doc="Upper bound on completion tokens.")
    reasoning_effort: ReasoningEffort | None = setting(None, doc="Reasoning effort for reasoning models.")
    timeout: Duration = setting(600.0, gt=0, doc="Request timeout.")
    max_concurrency: int = setting(8, ge=1, doc="Requests in flight at once to this model.")
    price_input_per_mtok: float = setting(0.0, ge=0, key="price.input_per_mtok",
                                          doc="USD per million prompt tokens.")
    price_output_per_mtok: float = setting(0.0, ge=0, key="price.output_per_mtok",
                                           doc="USD per million completion tokens (reasoning included).")
    system_role: bool = setting(True, doc="false folds the system message into the user message, for models "
                                          "without a system role.")
    send_temperature: bool = setting(True, doc="false never sends temperature/top_p (o-series style models "
                                               "reject them).")
    max_tokens_param: MaxTokensParam = setting(
        "max_tokens", doc="Which request field carries max_tokens; o-series models want max_completion_tokens.")
    max_attempts: int = setting(6, ge=1, doc="Attempts per request (the first included) on rate limits, "
                                             "timeouts and server errors.")
    max_retry_time: Duration = setting(900.0, ge=0, doc="No retry starts later than this after the first "
                                                        "attempt.")
    backoff_initial: Duration = setting(1.0, ge=0, doc="First wait between attempts (doubled each time, with "
                                                       "jitter; a server's Retry-After wins).")
    backoff_max: Duration = setting(60.0, ge=0, doc="Longest wait between attempts.")
    api: EndpointApi = setting(
        "chat", omit_default=True,
        doc="Which OpenAI API to call: chat (Chat Completions, what every compatible server has) or responses "
            "(the Responses API, for models served only there).")
    stream: bool = setting(False, doc="Use server-sent events; helps behind proxies that cut idle connections "
                                      "on long answers.")
    structured_output: StructuredOutput = setting(
        "auto", doc="How the analyze operator asks for its review: tool call, JSON schema, JSON object or "
                    "text; auto tries them in that order and remembers what the endpoint accepts.")
    extra_body: dict[str, Any] | None = setting(
        None, doc="Merged into every request body (e.g. {chat_template_kwargs: {...}} for vLLM).")
    extra_headers: dict[str, str] | None = setting(
        None, doc="Sent with every request. Not for secrets: headers enter the plan (keys belong in the "
                  "variable api_key_env names).")

    def __post_init__(self) -> None:
        for name in _FROZEN_MAPPINGS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, Mapping):
                raise ModelConfigError(f"model '{self.name}': `{name}` must be a mapping, got {value!r}")
            object.__setattr__(self, name, _copy(value))
        problems = list(self._problems())
        if problems:
            raise ModelConfigError(
                f"model '{self.name}': " + "; ".join(problems),
                hint="fix the values under `models:` in the spec",
            )

    def __hash__(self) -> int:
        return hash(tuple((f.name, repr(getattr(self, f.name))) for f in fields(self)))

    def _problems(self) -> list[str]:
        out = [f"`{key}` must be {kind}, got {getattr(self, key)!r}"
               for key, kind, ok in self._type_checks() if not ok]
        if out:
            return out
        if not self.model:
            out.append("`model` is empty")
        if self.timeout <= 0:
            out.append(f"`timeout` must be positive, got {self.timeout}")
        if self.max_concurrency < 1:
            out.append(f"`max_concurrency` must be at least 1, got {self.max_concurrency}")
        if self.max_attempts < 1:
            out.append(f"`max_attempts` must be at least 1, got {self.max_attempts}")
        if self.max_retry_time < 0 or self.backoff_initial < 0 or self.backoff_max < 0:
            out.append("retry times must not be negative")
        if self.price_input_per_mtok < 0 or self.price_output_per_mtok < 0:
            out.append("prices must not be negative")
        if self.structured_output not in get_args(StructuredOutput):
            out.append(f"`structured_output` must be one of {', '.join(get_args(StructuredOutput))}, "
                       f"got {self.structured_output!r}")
        if self.api not in ENDPOINT_APIS:
            out.append(f"`api` must be chat or responses, got {self.api!r}")
        if self.provider is not None and self.provider not in PROVIDERS:
            out.append(f"`provider` must be one of {', '.join(PROVIDERS)}, got {self.provider!r}")
        if self.max_tokens_param not in get_args(MaxTokensParam):
            out.append(f"`max_tokens_param` must be max_tokens or max_completion_tokens, "
                       f"got {self.max_tokens_param!r}")
        if self.base_url is not None and "${" not in self.base_url:  # a placeholder `validate` left unset
            parsed = urlparse(self.base_url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                out.append(f"`base_url` {self.base_url!r} is not an http(s) URL "
                           "(expected e.g. http://127.0.0.1:8000/v1)")
        return out

    def _type_checks(self) -> list[tuple[str, str, bool]]:
        def number(value: object, optional: bool = False) -> bool:
            if value is None:
                return optional
            return isinstance(value, int | float) and not isinstance(value, bool)

        def integer(value: object, optional: bool = False) -> bool:
            if value is None:
                return optional
            return isinstance(value, int) and not isinstance(value, bool)

        checks = [(key, "a number or null", number(getattr(self, key), True))
                  for key in ("temperature", "top_p")]
        checks += [(key, "a number", number(getattr(self, key)))
                   for key in ("timeout", "max_retry_time", "backoff_initial", "backoff_max",
                               "price_input_per_mtok", "price_output_per_mtok")]
        checks += [("max_tokens", "an integer or null", integer(self.max_tokens, True))]
        checks += [(key, "an integer", integer(getattr(self, key)))
                   for key in ("max_concurrency", "max_attempts")]
        checks += [(key, "true or false", isinstance(getattr(self, key), bool))
                   for key in ("system_role", "send_temperature", "stream")]
        checks += [(key, "a string", isinstance(getattr(self, key), str)) for key in ("name", "model")]
        checks += [(key, "a string or null", getattr(self, key) is None or isinstance(getattr(self, key), str))
                   for key in ("base_url", "api_key_env", "reasoning_effort", "provider")]
        checks += [("api", "a string", isinstance(self.api, str))]
        return checks

    # ---------------------------------------------------------------- resolution

    @property
    def endpoint(self) -> str:
        """The base URL requests go to: ``base_url``, else ``OPENAI_BASE_URL``, else OpenAI's."""
        return (self.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")

    def api_key(self) -> str:
        """The key from ``api_key_env``; raises :class:`ModelConfigError` naming the variable."""
        if self.api_key_env is None:
            return "not-needed"
        value = os.environ.get(self.api_key_env, "")
        if not value:
            raise ModelConfigError(
                f"{self.api_key_env} is not set: model '{self.name}' ({self.model} at {self.endpoint}) "
                "needs an API key",
                hint=f"export {self.api_key_env}=<your key> (or put it in a .env file), or set "
                     f"models.{self.name}.api_key_env to the "
                     "variable that holds it (api_key_env: null for local servers that need no key)",
            )
        return value

    def sampling_params(self) -> dict[str, Any]:
        """The generation parameters sent with every request (and part of the cache key)."""
        params: dict[str, Any] = {}
        if self.send_temperature:
            if self.temperature is not None:
                params["temperature"] = self.temperature
            if self.top_p is not None:
                params["top_p"] = self.top_p
        if self.max_tokens is not None:
            params[self.max_tokens_param] = self.max_tokens
        if self.reasoning_effort is not None:
            params["reasoning_effort"] = self.reasoning_effort
        return params

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """US dollars for one call at this model's prices (completion includes reasoning)."""
        return (prompt_tokens * self.price_input_per_mtok
                + completion_tokens * self.price_output_per_mtok) / 1_000_000

    # ---------------------------------------------------------------- (de)serialisation

    def to_dict(self) -> dict[str, Any]:
        """A flat JSON-safe dict (the plan's form); :meth:`from_dict` reads it back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str | None = None) -> ModelSettings:
        """Build from a flat dict or from a spec-style entry with ``price: {input_per_mtok, ...}``.

        Unknown keys are a :class:`ModelConfigError` with a "did you mean" suggestion.
        """
        values = dict(data)
        price = values.pop("price", None)
        if price is not None:
            if not isinstance(price, Mapping):
                raise ModelConfigError(f"model '{name or values.get('name')}': `price` must be a mapping",
                                       hint="price: {input_per_mtok: 2.5, output_per_mtok: 10}")
            price = dict(price)
            for key in ("input_per_mtok", "output_per_mtok"):
                if key in price:
                    values[f"price_{key}"] = price.pop(key)
            if price:
                raise ModelConfigError(f"unknown price field(s): {', '.join(sorted(price))}",
                                       hint="price takes input_per_mtok and output_per_mtok")
        if name is not None:
            values.setdefault("name", name)
        values.setdefault("name", values.get("model", ""))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            suggestions = []
            for key in unknown:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                suggestions.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ModelConfigError(f"model '{values['name']}': unknown setting(s) {', '.join(suggestions)}",
                                   hint="known settings: " + ", ".join(sorted(known)))
        if "model" not in values:
            raise ModelConfigError(f"model '{values['name']}': `model` is missing",
                                   hint="give the model id the endpoint expects, e.g. model: gpt-4o")
        return cls(**values)
