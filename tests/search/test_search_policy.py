"""The policy registry: parameter names, defaults, checking and role binding."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from aira_dsl.search import (
    PARAMS,
    POLICIES,
    Action,
    Graph,
    Policy,
    PolicyConfigError,
    apply_action,
    make_policy,
)
from aira_dsl.settings.fields import field_infos, literal_values, unwrap
from aira_dsl.spec.model import POLICY_DEFAULTS, POLICY_DURATIONS, POLICY_ROLES

SCHEMA = Path(__file__).resolve().parents[2] / "schema" / "agent.schema.json"


@pytest.mark.parametrize("kind", sorted(POLICIES))
def test_defaults_and_roles_match_the_spec_language(kind: str) -> None:
    policy: Any = make_policy(kind, {})
    assert asdict(policy.params) == POLICY_DEFAULTS[kind]
    assert policy.roles_needed == POLICY_ROLES[kind]
    assert isinstance(policy, Policy)
    assert policy.state()["kind"] == kind


@pytest.mark.parametrize("kind", sorted(POLICIES))
def test_declarations_agree_with_the_schema_and_the_spec_model(kind: str) -> None:
    """The schema is generated from the ``param(...)`` declarations; check the generator kept
    every name, default, choice list and duration form."""
    declared = {info.name: info for info in field_infos(PARAMS[kind])}
    schema = json.loads(SCHEMA.read_text())["$defs"][f"policy_{kind}"]["properties"]
    assert set(schema) - {"kind", "use"} == set(declared)
    for name, info in declared.items():
        inner, _, duration = unwrap(info.annotation)
        assert schema[name].get("default") == info.default, name
        if literal_values(inner) is not None:
            assert tuple(schema[name]["enum"]) == literal_values(inner), name
        assert (name in POLICY_DURATIONS) == duration, name
        assert ("pattern" in schema[name]) == duration, name
        assert POLICY_DEFAULTS[kind][name] == info.default, name


def test_params_are_taken_by_their_spec_names() -> None:
    policy: Any = make_policy("evolutionary", {"num_generations": 3, "temperature": 2, "num_islands": 4.0})
    assert policy.params.num_generations == 3
    assert policy.params.temperature == 2.0 and isinstance(policy.params.temperature, float)
    assert policy.params.num_islands == 4 and isinstance(policy.params.num_islands, int)


@pytest.mark.parametrize(("kind", "params", "message"), [
    ("greedy", {"num_draft": 5}, "unknown parameter.*num_draft.*expected: num_drafts"),
    ("greedy", {"debug_prob": 1.5}, "debug_prob' must be <= 1"),
    ("greedy", {"num_drafts": 0}, "num_drafts' must be >= 1"),
    ("greedy", {"num_drafts": 2.5}, "must be an integer"),
    ("greedy", {"num_drafts": True}, "must be a number, got bool"),
    ("mcts", {"uct_c": "big"}, "must be a number, got str"),
    ("mcts", {"uct_c": None}, "got null"),
    ("evolutionary", {"temperature": 0}, "temperature' must be > 0"),
    ("evolutionary", {"num_generations": 0}, "num_generations' must be >= 1"),
    ("evolutionary", {"migration_prob": float("nan")}, "finite"),
    ("annealing", {}, "unknown policy kind 'annealing'"),
])
def test_bad_configurations_are_reported(kind: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyConfigError, match=message):
        make_policy(kind, params)


def test_roles_must_all_be_bound() -> None:
    with pytest.raises(PolicyConfigError, match="crossover"):
        make_policy("evolutionary", {}, {"draft": "d", "improve": "i", "debug": "x"})
    policy: Any = make_policy("greedy", {}, {"draft": "d", "improve": "i", "debug": "x", "analyze": "a"})
    assert policy.roles["debug"] == "x"


def test_apply_action_records_generation_and_island() -> None:
    g = Graph()
    node = apply_action(g, Action("draft", (), {"generation": 0, "island": 2}))
    assert (node.generation, node.island, node.is_pending) == (0, 2, True)


def test_observe_rejects_pending_nodes() -> None:
    g = Graph()
    apply_action(g, Action("draft"))
    with pytest.raises(ValueError, match="still pending"):
        make_policy("mcts", {}).observe(g, 0)
