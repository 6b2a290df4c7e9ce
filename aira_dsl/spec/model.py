"""The typed spec: plain dataclasses built from schema-valid data, with defaults filled in.

Built only after the JSON Schema accepted the merged document, so constructors can trust
shapes and types; semantic problems (dangling references, bad expressions) are found later by
the compiler's check passes, which work on these objects and on the positioned document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_BUGGY",
    "DEFAULT_METRIC",
    "POLICY_DEFAULTS",
    "POLICY_DURATIONS",
    "POLICY_ROLES",
    "AgentSpec",
    "BudgetSpec",
    "ComplexityRung",
    "ExecutionSpec",
    "FitnessSpec",
    "MemorySpec",
    "ModelSpec",
    "OperatorSpec",
    "PolicySpec",
    "PromptSpec",
    "build_spec",
    "parse_duration",
]

DEFAULT_METRIC = "review.metric"
DEFAULT_BUGGY = ("exec.exit_code != 0 or exec.timed_out or review.is_bug or metric == null "
                 "or not submission.valid")

_DEBUG_CHAIN_DEFAULTS: dict[str, Any] = {"max_debug_time": None, "draft_debug_depth": 0}
"""Debug-chain parameters every policy has (aira_dsl/search/debugging.py)."""

POLICY_DEFAULTS: dict[str, dict[str, Any]] = {
    "greedy": {"num_drafts": 5, "debug_prob": 1.0, "max_debug_depth": 20, **_DEBUG_CHAIN_DEFAULTS},
    "mcts": {"num_children": 5, "uct_c": 0.25, "max_debug_depth": 20, "expansion": "progressive",
             **_DEBUG_CHAIN_DEFAULTS},
    "evolutionary": {"individuals_per_generation": 5, "num_generations": None, "crossover_prob": 0.5,
                     "crossover_after_generation": 2, "num_islands": 1, "max_island_size": 500,
                     "migration_prob": 0.0, "temperature": 1.0, "max_debug_depth": 10,
                     "initial_temperature": None, "final_temperature": None, "schedule": "generational",
                     **_DEBUG_CHAIN_DEFAULTS},
}
"""Defaults of each policy's parameters (the paper's settings)."""

POLICY_DURATIONS: tuple[str, ...] = ("max_debug_time",)
"""Policy parameters written as durations (``6h``); the typed spec holds them in seconds."""

POLICY_ROLES: dict[str, tuple[str, ...]] = {
    "greedy": ("draft", "improve", "debug"),
    "mcts": ("draft", "improve", "debug"),
    "evolutionary": ("draft", "improve", "debug", "crossover"),
}
"""Operator roles each policy needs (analyze is needed when fitness reads review.*)."""

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float | None:
    """``90`` / ``"90s"`` / ``"1h30m"`` → seconds; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    parts = _DURATION_PART.findall(text)
    if not parts or _DURATION_PART.sub("", text).strip():
        return None
    return float(sum(float(number) * _UNITS[unit] for number, unit in parts))


@dataclass(frozen=True)
class ModelSpec:
    name: str
    model: str
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    reasoning_effort: str | None = None
    timeout: float = 600.0
    max_concurrency: int = 8
    system_role: bool = True
    price_input_per_mtok: float = 0.0
    price_output_per_mtok: float = 0.0


@dataclass(frozen=True)
class PromptSpec:
    """Where an operator's messages come from: template paths or inline text, per role."""

    system: str | None = None
    user: str | None = None

    @staticmethod
    def is_file_reference(value: str) -> bool:
        return value.endswith(".j2") and "\n" not in value and "{{" not in value


@dataclass(frozen=True)
class MemorySpec:
    scope: str = "none"
    where: str | None = None
    limit: int | None = None


@dataclass(frozen=True)
class ComplexityRung:
    cue: str
    below: int | None = None


@dataclass(frozen=True)
class OperatorSpec:
    name: str
    kind: str
    model: str
    prompt: PromptSpec
    memory: MemorySpec = field(default_factory=MemorySpec)
    complexity: tuple[ComplexityRung, ...] = ()
    retries: int = 3


@dataclass(frozen=True)
class PolicySpec:
    kind: str
    params: dict[str, Any]
    use: dict[str, str]

    def role(self, role: str) -> str:
        """Operator name bound to a role (same name unless ``use`` says otherwise)."""
        return self.use.get(role, role)


@dataclass(frozen=True)
class FitnessSpec:
    direction: str = "task"
    metric: str = DEFAULT_METRIC
    buggy: str = DEFAULT_BUGGY
    value: str = "metric"
    select: str = "best"
    oracle: bool = False


@dataclass(frozen=True)
class BudgetSpec:
    time: float | None = 24 * 3600.0
    steps: int | None = None
    exec_timeout: float = 4 * 3600.0
    cost_usd: float | None = None
    tokens: int | None = None


@dataclass(frozen=True)
class ExecutionSpec:
    sandbox: str = "local"
    workers: int = 1
    gpus_per_worker: int = 0


@dataclass(frozen=True)
class AgentSpec:
    name: str
    description: str
    abstract: bool
    vars: dict[str, Any]
    models: dict[str, ModelSpec]
    operators: dict[str, OperatorSpec]
    policy: PolicySpec | None
    fitness: FitnessSpec
    budget: BudgetSpec
    execution: ExecutionSpec


def _model(name: str, data: dict[str, Any]) -> ModelSpec:
    price = data.get("price") or {}
    timeout = parse_duration(data.get("timeout", 600))
    return ModelSpec(
        name=name, model=data["model"], base_url=data.get("base_url"),
        api_key_env=data.get("api_key_env", "OPENAI_API_KEY"), temperature=data.get("temperature"),
        top_p=data.get("top_p"), max_tokens=data.get("max_tokens"),
        reasoning_effort=data.get("reasoning_effort"), timeout=timeout if timeout else 600.0,
        max_concurrency=data.get("max_concurrency", 8), system_role=data.get("system_role", True),
        price_input_per_mtok=float(price.get("input_per_mtok", 0.0)),
        price_output_per_mtok=float(price.get("output_per_mtok", 0.0)))


def _operator(name: str, data: dict[str, Any]) -> OperatorSpec:
    prompt = data["prompt"]
    prompt_spec = PromptSpec(system=prompt) if isinstance(prompt, str) else \
        PromptSpec(system=prompt.get("system"), user=prompt.get("user"))
    memory = data.get("memory") or {}
    rungs = tuple(ComplexityRung(cue=r["cue"], below=r.get("below")) for r in data.get("complexity") or ())
    return OperatorSpec(
        name=name, kind=data["kind"], model=data["model"], prompt=prompt_spec,
        memory=MemorySpec(scope=memory.get("scope", "none"), where=memory.get("where"),
                          limit=memory.get("limit")),
        complexity=rungs, retries=data.get("retries", 3))


def build_spec(data: dict[str, Any]) -> AgentSpec:
    """Typed spec from schema-valid data, defaults filled in."""
    policy = None
    if isinstance(data.get("policy"), dict) and data["policy"].get("kind") in POLICY_DEFAULTS:
        raw = data["policy"]
        kind = raw["kind"]
        params = {**POLICY_DEFAULTS[kind], **{k: v for k, v in raw.items() if k not in ("kind", "use")}}
        for key in POLICY_DURATIONS:
            if params.get(key) is not None:
                params[key] = parse_duration(params[key])
        policy = PolicySpec(kind=kind, params=params, use=dict(raw.get("use") or {}))
    fitness = data.get("fitness") or {}
    budget = data.get("budget") or {}
    execution = data.get("execution") or {}
    default_budget = BudgetSpec()
    time_limit = parse_duration(budget["time"]) if "time" in budget else default_budget.time
    exec_timeout = parse_duration(budget["exec_timeout"]) if "exec_timeout" in budget else None
    return AgentSpec(
        name=data.get("name", ""),
        description=data.get("description", ""),
        abstract=bool(data.get("abstract", False)),
        vars=dict(data.get("vars") or {}),
        models={k: _model(k, v) for k, v in (data.get("models") or {}).items()},
        operators={k: _operator(k, v) for k, v in (data.get("operators") or {}).items()},
        policy=policy,
        fitness=FitnessSpec(
            direction=fitness.get("direction", "task"), metric=fitness.get("metric", DEFAULT_METRIC),
            buggy=fitness.get("buggy", DEFAULT_BUGGY), value=fitness.get("value", "metric"),
            select=fitness.get("select", "best"), oracle=bool(fitness.get("oracle", False))),
        budget=BudgetSpec(
            time=time_limit, steps=budget.get("steps"),
            exec_timeout=exec_timeout if exec_timeout is not None else default_budget.exec_timeout,
            cost_usd=budget.get("cost_usd"), tokens=budget.get("tokens")),
        execution=ExecutionSpec(
            sandbox=execution.get("sandbox", "local"), workers=execution.get("workers", 1),
            gpus_per_worker=execution.get("gpus_per_worker", 0)),
    )
