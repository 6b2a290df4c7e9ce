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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aira_dsl.diagnostics import Diagnostic, DiagnosticError

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

    source: str
    ast: dict[str, Any]


@dataclass(frozen=True)
class ModelPlan:
    name: str
    model: str
    base_url: str | None
    api_key_env: str
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    reasoning_effort: str | None
    timeout: float
    max_concurrency: int
    system_role: bool
    price_input_per_mtok: float
    price_output_per_mtok: float


@dataclass(frozen=True)
class PromptPlan:
    """A message's template: the entry name among the plan's ``templates``."""

    system: str | None
    user: str | None


@dataclass(frozen=True)
class MemoryPlan:
    scope: str
    where: ExpressionPlan | None
    limit: int | None


@dataclass(frozen=True)
class OperatorPlan:
    name: str
    kind: str
    model: str
    prompt: PromptPlan
    memory: MemoryPlan
    complexity: list[dict[str, Any]]
    retries: int


@dataclass(frozen=True)
class PolicyPlan:
    kind: str
    params: dict[str, Any]
    roles: dict[str, str]
    """Role → operator name, for every role the policy uses (plus analyze when present)."""


@dataclass(frozen=True)
class FitnessPlan:
    direction: str
    metric: ExpressionPlan
    buggy: ExpressionPlan
    value: ExpressionPlan
    select: str
    oracle: bool


@dataclass(frozen=True)
class BudgetPlan:
    time: float | None
    steps: int | None
    exec_timeout: float
    cost_usd: float | None
    tokens: int | None


@dataclass(frozen=True)
class ExecutionPlan:
    sandbox: str
    workers: int
    gpus_per_worker: int


@dataclass(frozen=True)
class Plan:
    """The executable form of an agent spec."""

    name: str
    description: str
    sources: list[str]
    vars: dict[str, Any]
    models: dict[str, ModelPlan]
    operators: dict[str, OperatorPlan]
    templates: dict[str, dict[str, str]]
    """Template name → ``{"source": text, "sha256": hex}``; includes are entries too."""
    policy: PolicyPlan
    fitness: FitnessPlan
    budget: BudgetPlan
    execution: ExecutionPlan
    plan_version: int = PLAN_VERSION
    plan_hash: str = field(default="", compare=False)

    def body(self) -> dict[str, Any]:
        """Everything the hash covers."""
        data = asdict(self)
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
        def expr(d: dict[str, Any] | None) -> ExpressionPlan | None:
            return None if d is None else ExpressionPlan(source=d["source"], ast=d["ast"])

        def req_expr(d: dict[str, Any]) -> ExpressionPlan:
            value = expr(d)
            assert value is not None
            return value

        operators = {}
        for name, op in data["operators"].items():
            memory = op["memory"]
            operators[name] = OperatorPlan(
                name=op["name"], kind=op["kind"], model=op["model"],
                prompt=PromptPlan(**op["prompt"]),
                memory=MemoryPlan(scope=memory["scope"], where=expr(memory["where"]), limit=memory["limit"]),
                complexity=list(op["complexity"]), retries=op["retries"])
        fitness = data["fitness"]
        return Plan(
            name=data["name"], description=data["description"], sources=list(data["sources"]),
            vars=dict(data["vars"]),
            models={k: ModelPlan(**v) for k, v in data["models"].items()},
            operators=operators, templates={k: dict(v) for k, v in data["templates"].items()},
            policy=PolicyPlan(**data["policy"]),
            fitness=FitnessPlan(direction=fitness["direction"], metric=req_expr(fitness["metric"]),
                                buggy=req_expr(fitness["buggy"]), value=req_expr(fitness["value"]),
                                select=fitness["select"], oracle=fitness["oracle"]),
            budget=BudgetPlan(**data["budget"]), execution=ExecutionPlan(**data["execution"]),
            plan_version=data["plan_version"], plan_hash=data.get("plan_hash", ""))

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
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail("plan-invalid", f"not a valid plan file: {exc}") from None
    if not isinstance(data, dict) or "plan_version" not in data:
        raise fail("plan-invalid", "not a plan file (no plan_version)",
                   "compile a spec with `aira-dsl compile SPEC -o plan.json`")
    if data["plan_version"] != PLAN_VERSION:
        raise fail("plan-version", f"plan_version {data['plan_version']!r} is not supported "
                   f"(this aira-dsl reads version {PLAN_VERSION})",
                   "recompile the spec with this version of aira-dsl")
    try:
        plan = Plan.from_dict(data)
    except (KeyError, TypeError, AssertionError, AttributeError) as exc:
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
