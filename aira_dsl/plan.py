"""The plan: the compiler's output and the runtime's only input.

A plan is self-contained (every default filled in, durations in seconds, template sources and
their sha256, expressions as typed ASTs) and deterministic: the same spec gives the same
bytes on any machine. ``plan_hash`` covers everything else in the document, so a run that
records it can be traced to the exact prompt and parameter text that produced it.
Secrets never enter a plan: models name the environment variable that holds the key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, ClassVar, Literal

from aira_dsl.diagnostics import Diagnostic, DiagnosticError
from aira_dsl.settings.fields import SettingError, build, dump, setting
from aira_dsl.settings.model import ModelSettings
from aira_dsl.settings.run import BudgetSettings, ExecutionSettings

__all__ = [
    "PLAN_VERSION",
    "BudgetPlan",
    "ExecutionPlan",
    "ExpressionPlan",
    "FitnessPlan",
    "MemoryPlan",
    "ModelPlan",
    "OperatorPlan",
    "Plan",
    "PolicyPlan",
    "PromptPlan",
    "canonical_json",
    "is_plan_file",
    "load_plan",
]

PLAN_VERSION = 1


def canonical_json(data: Any) -> str:
    """The byte-stable JSON used for hashing: sorted keys, no spaces, UTF-8 text kept."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True)
class ExpressionPlan:
    """An expression's source text and its checked, typed AST (see ``aira_dsl.expr.to_json``)."""

    __schema_def__: ClassVar[str] = "expression"
    __schema_doc__: ClassVar[str] = "An expression's text and its typed AST."

    source: str = setting(doc="The expression as written in the spec.")
    ast: dict[str, Any] = setting(doc="The checked, typed syntax tree.")


ModelPlan = ModelSettings
"""A plan's model entry is the one model-settings type (``aira_dsl.settings.model``)."""
BudgetPlan = BudgetSettings
ExecutionPlan = ExecutionSettings


@dataclass(frozen=True)
class PromptPlan:
    """A message's template: the entry name among the plan's ``templates``."""

    system: str | None = setting(doc="Template entry rendered as the system message; null for none.")
    user: str | None = setting(doc="Template entry rendered as the user message; null for none.")


@dataclass(frozen=True)
class MemoryPlan:
    scope: Literal["none", "global", "siblings", "ancestors"] = setting(doc="Which past nodes the prompt shows.")
    where: ExpressionPlan | None = setting(doc="Filter over candidate nodes; null for none.")
    limit: int | None = setting(doc="At most this many entries; null for no limit.")


@dataclass(frozen=True)
class OperatorPlan:
    __schema_def__: ClassVar[str] = "operator"
    __schema_doc__: ClassVar[str] = "One operator, with its prompt resolved to template entries."

    name: str = setting(doc="The operator's name.")
    kind: str = setting(doc="Its kind (a row of the operator-kind table).")
    model: str = setting(doc="The name of its model entry.")
    prompt: PromptPlan = setting(doc="Its messages' templates.")
    memory: MemoryPlan = setting(doc="What past nodes its prompt shows.")
    complexity: list[dict[str, Any]] = setting(doc="Complexity rungs, [{below, cue}], empty when off.")
    retries: int = setting(doc="Re-asks when an answer holds no usable code.")


@dataclass(frozen=True)
class PolicyPlan:
    __schema_doc__: ClassVar[str] = "The search policy, its parameters (defaults filled) and role bindings."

    kind: str = setting(doc="The policy kind.")
    params: dict[str, Any] = setting(doc="Every parameter, defaults filled in, durations in seconds.")
    roles: dict[str, str] = setting(doc="Role → operator name, for every role the policy uses (plus analyze "
                                        "when present).")


@dataclass(frozen=True)
class FitnessPlan:
    __schema_doc__: ClassVar[str] = "Fitness rules, as checked expressions."

    direction: Literal["maximize", "minimize", "task"] = setting(doc="Which way the metric improves.")
    metric: ExpressionPlan = setting(doc="The raw validation score.")
    buggy: ExpressionPlan = setting(doc="When a node is buggy.")
    value: ExpressionPlan = setting(doc="The fitness value.")
    select: Literal["best"] = setting(doc="How the final node is chosen.")
    oracle: bool = setting(doc="Whether the search sees hidden test scores (an ablation).")


@dataclass(frozen=True)
class Plan:
    """The executable form of an agent spec."""

    __schema_doc__: ClassVar[str] = (
        "The compiled, self-contained form of an agent spec: every default filled in, durations in seconds, "
        "template sources with sha256, expressions as typed ASTs, and a plan_hash over all of it.")

    name: str = setting(doc="The spec's name.")
    description: str = setting(doc="The spec's description.")
    sources: list[str] = setting(doc="The spec file and the bases it extends, relative to the spec's folder.")
    vars: dict[str, Any] = setting(doc="User constants.")
    models: dict[str, ModelSettings] = setting(doc="Models by name, every setting filled in (no secrets: keys "
                                                   "are named by their environment variable).")
    operators: dict[str, OperatorPlan] = setting(doc="Operators by name.")
    templates: dict[str, dict[str, str]] = setting(
        doc="Template name -> source text and its sha256 (entries and includes).",
        schema={"additionalProperties": {
            "type": "object", "additionalProperties": False, "description": "One template.",
            "properties": {"source": {"type": "string"}, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
            "required": ["source", "sha256"]}})
    """Template name → ``{"source": text, "sha256": hex}``; includes are entries too."""
    policy: PolicyPlan = setting(doc=PolicyPlan.__schema_doc__)
    fitness: FitnessPlan = setting(doc=FitnessPlan.__schema_doc__)
    budget: BudgetSettings = setting(doc="Budgets; durations in seconds.")
    execution: ExecutionSettings = setting(doc="Execution settings.")
    plan_version: Literal[1] = setting(PLAN_VERSION, doc="Plan format version.", schema={"const": PLAN_VERSION},
                                       show_default=False)
    plan_hash: str = dataclass_field(default="", compare=False, metadata={
        "doc": "sha256 of the canonical JSON of every other field.", "pattern": "^[0-9a-f]{64}$",
        "show_default": False})

    def body(self) -> dict[str, Any]:
        """Everything the hash covers (the plan file's form, without ``plan_hash``)."""
        data: dict[str, Any] = dump(self)
        data.pop("plan_hash")
        return data

    def compute_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.body()).encode("utf-8")).hexdigest()

    def with_hash(self) -> Plan:
        from dataclasses import replace

        return replace(self, plan_hash=self.compute_hash())

    def to_dict(self) -> dict[str, Any]:
        data = self.body()
        data["plan_hash"] = self.plan_hash or self.compute_hash()
        return data

    def to_json(self) -> str:
        """The plan file's bytes: indented, sorted keys, newline-terminated."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def write(self, path: Path) -> None:
        from aira_dsl.atomicfile import atomic_write

        atomic_write(path, self.to_json())

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Plan:
        """A plan from its file form (raises ``SettingError`` naming the first value that does not fit)."""
        plan: Plan = build(Plan, data)
        return plan

    def template_sources(self) -> dict[str, str]:
        return {name: entry["source"] for name, entry in self.templates.items()}


def is_plan_file(path: Path) -> bool:
    """A plan is a JSON file whose top level holds ``plan_version`` (specs are YAML mappings)."""
    if path.suffix.lower() != ".json":
        try:
            with path.open("rb") as handle:
                head = handle.read(64).lstrip()
        except OSError:
            return False
        if not head.startswith(b"{"):
            return False
    try:
        with path.open("rb") as handle:
            return b'"plan_version"' in handle.read(1 << 20)
    except OSError:
        return False


def load_plan(path: Path, display: str | None = None) -> Plan:
    """Read a plan file, checking its version and that its contents match its hash."""
    name = display or str(path)

    def fail(code: str, message: str, hint: str | None = None) -> DiagnosticError:
        return DiagnosticError(Diagnostic(code, message, file=name, hint=hint))

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise fail("unreadable-file", f"cannot read plan: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise fail("plan-invalid", f"not a valid plan file: {exc}") from None
    except UnicodeDecodeError as exc:
        raise fail("plan-invalid", f"not a valid plan file: not UTF-8 text (byte {exc.start})") from None
    except (ValueError, RecursionError) as exc:  # a huge integer; JSON nested past Python's stack
        raise fail("plan-invalid", "not a valid plan file: "
                   + ("nested too deeply" if isinstance(exc, RecursionError) else "an integer is too large")) from None
    from aira_dsl.spec.yamlpos import number_problem

    if number_problem(data) is not None:  # the limits a spec's numbers have (a plan can be edited)
        raise fail("plan-invalid", f"not a valid plan file: {number_problem(data)}",
                   "recompile the spec; plan files are not meant to be edited")
    if not isinstance(data, dict) or "plan_version" not in data:
        raise fail("plan-invalid", "not a plan file (no plan_version)",
                   "compile a spec with `aira-dsl compile SPEC -o plan.json`")
    if data["plan_version"] != PLAN_VERSION:
        raise fail("plan-version", f"plan_version {data['plan_version']!r} is not supported "
                   f"(this aira-dsl reads version {PLAN_VERSION})",
                   "recompile the spec with this version of aira-dsl")
    try:
        plan = Plan.from_dict(data)
    except (SettingError, KeyError, TypeError, ValueError, AssertionError, AttributeError) as exc:
        raise fail("plan-invalid", f"the plan file is incomplete or malformed ({exc!r})",
                   "recompile the spec; plan files are not meant to be edited") from None
    expected = plan.compute_hash()
    if plan.plan_hash != expected:
        raise fail("plan-hash-mismatch",
                   f"plan contents do not match plan_hash (recorded {plan.plan_hash[:12]}…, "
                   f"computed {expected[:12]}…): the file was edited after compiling",
                   "change the spec and recompile instead of editing the plan")
    for tname, entry in plan.templates.items():
        if hashlib.sha256(entry.get("source", "").encode("utf-8")).hexdigest() != entry.get("sha256"):
            raise fail("plan-hash-mismatch", f"template '{tname}' does not match its sha256")
    return plan
