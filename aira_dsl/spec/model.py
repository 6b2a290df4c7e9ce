"""The typed agent spec: settings dataclasses declared once, built from schema-valid data.

Each section of a spec is a frozen dataclass whose fields are declared with
:func:`~aira_dsl.settings.fields.setting` (type, default, range, description). The agent JSON
Schema and the reference tables in ``docs/spec-language.md`` are generated from these
declarations, from the shared sections in :mod:`aira_dsl.settings` (a model's settings, budgets,
execution), from each search policy's parameter declarations and from the operator-kind table;
nothing here restates a default.

Built only after the JSON Schema accepted the merged document, so constructors can trust
shapes and types; semantic problems (dangling references, bad expressions) are found later by
the compiler's check passes, which work on these objects and on the positioned document.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar, Literal

from aira_dsl.search.policy import PARAMS, POLICIES
from aira_dsl.settings.fields import (
    SettingError,
    build,
    convert,
    field_infos,
    parse_duration,
    setting,
    unwrap,
)
from aira_dsl.settings.model import ModelConfigError, ModelSettings
from aira_dsl.settings.run import BudgetSettings, ExecutionSettings

__all__ = [
    "DEFAULT_BUGGY",
    "DEFAULT_METRIC",
    "EXPRESSION_NOTE",
    "NAME_PATTERN",
    "POLICY_DEFAULTS",
    "POLICY_DURATIONS",
    "POLICY_ROLES",
    "AgentSpec",
    "BudgetSettings",
    "ComplexityRung",
    "ExecutionSettings",
    "FitnessSpec",
    "MemorySpec",
    "ModelSettings",
    "OperatorSpec",
    "PolicySpec",
    "PromptSpec",
    "SettingError",
    "build_spec",
    "parse_duration",
    "policy_classes",
]

EXPRESSION_NOTE = "An expression (see docs/expressions.md)."
NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_-]*$"
"""What a model or operator name looks like."""

DEFAULT_METRIC = "review.metric"
DEFAULT_BUGGY = ("exec.exit_code != 0 or exec.timed_out or review.is_bug or metric == null "
                 "or not submission.valid")


def policy_classes() -> dict[str, Any]:
    """Policy kind → policy class (the policies declare their parameters and roles)."""
    return dict(POLICIES)


POLICY_DEFAULTS: dict[str, dict[str, Any]] = {kind: asdict(cls()) for kind, cls in PARAMS.items()}
"""Defaults of each policy's parameters, derived from the policies' declarations."""

POLICY_DURATIONS: tuple[str, ...] = tuple(sorted({
    info.name for cls in PARAMS.values() for info in field_infos(cls) if unwrap(info.annotation)[2]}))
"""Policy parameters written as durations (``6h``); the typed spec holds them in seconds."""

POLICY_ROLES: dict[str, tuple[str, ...]] = {kind: cls.roles_needed for kind, cls in POLICIES.items()}
"""Operator roles each policy needs (analyze is needed when fitness reads review.*), from the policies."""

_TEMPLATE_TEXT = "A template file (path relative to the spec) or inline template text."


@dataclass(frozen=True, kw_only=True)
class PromptSpec:
    """Where an operator's messages come from: template paths or inline text, per role."""

    system: str | None = setting(None, min_length=1, doc=_TEMPLATE_TEXT, show_default=False)
    user: str | None = setting(None, min_length=1, doc=_TEMPLATE_TEXT, show_default=False)

    @staticmethod
    def is_file_reference(value: str) -> bool:
        return value.endswith(".j2") and "\n" not in value and "{{" not in value


@dataclass(frozen=True, kw_only=True)
class MemorySpec:
    __schema_doc__: ClassVar[str] = "What past attempts an operator's prompt sees."

    scope: Literal["none", "global", "siblings", "ancestors"] = setting(
        "none", doc="Which past nodes the prompt's `memory` shows: none, all (global), the operated node's "
                    "children (siblings), or the buggy ancestor chain (ancestors).")
    where: str | None = setting(None, min_length=1, show_default=False,
                                doc=f"Filter over candidate nodes (boolean); e.g. `not node.buggy`. {EXPRESSION_NOTE}")
    limit: int | None = setting(None, ge=0, show_default=False,
                                doc="Show at most this many entries (the most recent).")


@dataclass(frozen=True, kw_only=True)
class ComplexityRung:
    __schema_doc__: ClassVar[str] = "One rung of the complexity ladder; the first rung whose `below` holds applies."

    below: int | None = setting(None, ge=1, show_default=False,
                                doc="Applies while the operated node has fewer children than this.")
    cue: Literal["minimal", "moderate", "advanced"] = setting(
        doc="The complexity cue passed to the template as `complexity`.")


@dataclass(frozen=True, kw_only=True)
class OperatorSpec:
    __schema_def__: ClassVar[str] = "operator"
    __schema_doc__: ClassVar[str] = "One operator: an LLM call with a prompt template."

    name: str = setting(from_key=True, doc="The operator's name (its key under `operators`).")
    kind: str = setting(doc="What the operator does (a kind of the operator-kind table).")
    model: str = setting(doc="Name of an entry of `models`.")
    prompt: str | PromptSpec = setting(
        min_length=1,
        doc="The Jinja prompt: a template path relative to the spec (sent as the system message), or "
            "{system: ..., user: ...} where each is a .j2 path or inline template text.")
    memory: MemorySpec = setting(default_factory=MemorySpec, doc=MemorySpec.__schema_doc__)
    complexity: tuple[ComplexityRung, ...] = setting(
        (), min_items=1, show_default=False,
        doc="Complexity cue by number of children of the operated node (AIRA: below 2 minimal, below 4 "
            "moderate, else advanced).")
    retries: int = setting(3, ge=0, le=20, doc="Re-ask this many times when the answer holds no usable code "
                                               "(or review).")

    @property
    def prompt_parts(self) -> PromptSpec:
        """The prompt as ``{system, user}`` (a bare path or text is the system message)."""
        return PromptSpec(system=self.prompt) if isinstance(self.prompt, str) else self.prompt


@dataclass(frozen=True)
class PolicySpec:
    kind: str
    params: dict[str, Any]
    use: dict[str, str]

    def role(self, role: str) -> str:
        """Operator name bound to a role (same name unless ``use`` says otherwise)."""
        return self.use.get(role, role)


@dataclass(frozen=True, kw_only=True)
class FitnessSpec:
    __schema_doc__: ClassVar[str] = "How nodes are scored and which node is final."

    direction: Literal["maximize", "minimize", "task"] = setting(
        "task", doc="Whether a higher metric is better; `task` takes it from the task.")
    metric: str = setting(DEFAULT_METRIC, min_length=1,
                          doc="Where the raw validation score comes from, e.g. review.metric, reported.cv_score "
                              f"or hidden.score. {EXPRESSION_NOTE}")
    buggy: str = setting(DEFAULT_BUGGY, min_length=1, doc=f"When a node counts as buggy (boolean). {EXPRESSION_NOTE}")
    value: str = setting("metric", min_length=1, doc="Optional transform of the metric into the fitness value "
                                                     f"(number or null). {EXPRESSION_NOTE}")
    select: Literal["best"] = setting("best", doc="How the final node is chosen: best validation fitness among "
                                                 "valid nodes.")
    oracle: bool = setting(False, doc="Ablation switch: let the search see hidden test scores. Never on for real "
                                      "results.")


@dataclass(frozen=True, kw_only=True)
class AgentSpec:
    """A whole spec, after ``extends`` merging and defaults."""

    __schema_doc__: ClassVar[str] = "An aira-dsl agent spec: models, operators, a search policy and fitness rules."

    version: Literal[1] = setting(doc="Spec language version; must be 1.", schema={"const": 1})
    name: str = setting(pattern="^[a-z0-9][a-z0-9-]*$", max_length=64,
                        doc="Agent name: lower-case letters, digits and dashes.")
    description: str = setting("", show_default=False, doc="What this agent is, for people.")
    extends: str | None = setting(None, min_length=1, show_default=False,
                                  doc="Path of a base spec, relative to this file, or a shipped spec as "
                                      "aira-dsl:specs/<name>.yaml. Mappings are deep-merged; lists are replaced.")
    abstract: bool = setting(False, doc="true for a spec meant only to be extended: it may leave required parts out "
                                        "and is never run.")
    vars: dict[str, Any] = setting(
        default_factory=dict, show_default=False, key_pattern="^[A-Za-z_][A-Za-z0-9_]*$",
        schema={"additionalProperties": {"type": ["string", "number", "boolean", "array", "null"],
                                         "items": {"type": ["string", "number", "boolean"]}}},
        doc="User constants, visible to templates and expressions as `vars.<name>`.")
    models: dict[str, ModelSettings] = setting(default_factory=dict, show_default=False, min_items=1,
                                               key_pattern=NAME_PATTERN,
                                               doc="Named LLM settings referred to by operators.")
    operators: dict[str, OperatorSpec] = setting(default_factory=dict, show_default=False, min_items=1,
                                                 key_pattern=NAME_PATTERN,
                                                 doc="Operators by name; policies and `policy.use` refer to these "
                                                     "names.")
    policy: PolicySpec | None = setting(None, show_default=False, schema={"$ref": "#/$defs/policy"},
                                        doc="The search policy: what to do next given the graph. Fields depend on "
                                            "`kind`.")
    fitness: FitnessSpec = setting(default_factory=FitnessSpec, doc=FitnessSpec.__schema_doc__)
    budget: BudgetSettings = setting(default_factory=BudgetSettings, doc=BudgetSettings.__schema_doc__)
    execution: ExecutionSettings = setting(default_factory=ExecutionSettings, doc=ExecutionSettings.__schema_doc__)


_SPEC_FIELDS = ("version", "name", "description", "extends", "abstract", "vars", "models", "operators", "fitness",
                "budget", "execution")


def _policy(data: Any) -> PolicySpec | None:
    """The policy section with its parameters filled from the policy's own declarations."""
    if not isinstance(data, dict):
        return None
    kind = data.get("kind")
    if kind not in POLICIES:
        return None
    params = dict(POLICY_DEFAULTS[kind])
    for info in field_infos(PARAMS[kind]):
        if info.key in data:
            params[info.name] = convert(info.annotation, data[info.key], ("policy", info.key), info.meta)
    return PolicySpec(kind=kind, params=params, use=dict(data.get("use") or {}))


def build_spec(data: dict[str, Any]) -> AgentSpec:
    """Typed spec from schema-valid data, defaults filled in.

    Raises :class:`SettingError` (with the value's path) for what the schema cannot check,
    such as a duration written as text whose value is out of range.
    """
    values = {key: data[key] for key in _SPEC_FIELDS if key in data}
    values.setdefault("version", 1)
    values.setdefault("name", "")
    models = values.pop("models", None) or {}
    spec: AgentSpec = build(AgentSpec, values)
    built = {}
    for name, entry in models.items():
        try:
            built[name] = build(ModelSettings, entry, key=name, path=("models", name))
        except ModelConfigError as exc:  # a value the schema cannot judge (a malformed base_url)
            raise SettingError(exc.message, ("models", name)) from None
    return replace(spec, models=built, policy=_policy(data.get("policy")))
