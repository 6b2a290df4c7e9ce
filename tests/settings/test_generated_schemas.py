"""The shipped schemas are generated from the settings declarations, and say what the code does."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

import pytest

from aira_dsl.sandbox.profile_settings import ProfileSettings
from aira_dsl.schemagen.generate import GENERATED, render
from aira_dsl.settings.fields import (
    field_infos,
    is_sequence,
    is_settings_class,
    is_size,
    parse_size,
    union_members,
    unwrap,
)
from aira_dsl.settings.model import ModelSettings
from aira_dsl.settings.run import BudgetSettings, ExecutionSettings
from aira_dsl.settings.schema import json_default
from aira_dsl.spec.model import POLICY_DEFAULTS, FitnessSpec, MemorySpec, OperatorSpec
from aira_dsl.sweep.model import SweepFile
from aira_dsl.tasks.schema import TaskFile

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_shipped_schema_files_are_what_the_generator_writes(name: str) -> None:
    text = render(GENERATED[name]())
    for folder in (REPO / "schema", REPO / "aira_dsl" / "schemas"):
        assert (folder / name).read_text(encoding="utf-8") == text, (
            f"{folder / name} is stale: run `python -m aira_dsl.schemagen`")


def _agent() -> dict[str, Any]:
    return json.loads((REPO / "schema" / "agent.schema.json").read_text(encoding="utf-8"))


def _prop(node: dict[str, Any], dotted: str) -> dict[str, Any]:
    for part in dotted.split("."):
        node = node["properties"][part]
    return node


@pytest.mark.parametrize(("cls", "where"), [
    (ModelSettings, "$defs.model"), (OperatorSpec, "$defs.operator"), (MemorySpec, "$defs.operator.memory"),
    (FitnessSpec, "fitness"), (BudgetSettings, "budget"), (ExecutionSettings, "execution"),
])
def test_every_schema_default_equals_the_declared_default(cls: type, where: str) -> None:
    schema = _agent()
    parts = where.split(".")
    node = schema["$defs"][parts[1]] if parts[0] == "$defs" else schema["properties"][parts[0]]
    for part in parts[2:] if parts[0] == "$defs" else parts[1:]:
        node = node["properties"][part]
    checked = 0
    for info in field_infos(cls):
        if info.from_key or info.required:
            continue
        prop = _prop(node, info.key)
        shown = json_default(info.default)
        if not info.meta.get("show_default", True) or shown is ...:
            assert "default" not in prop
            continue
        assert prop.get("default") == shown, f"{cls.__name__}.{info.name}"
        checked += 1
    assert checked >= 1


def test_budget_defaults_are_visible_to_editors() -> None:
    budget = _agent()["properties"]["budget"]["properties"]
    assert budget["time"]["default"] == 86400.0 and budget["exec_timeout"]["default"] == 14400.0
    assert _agent()["$defs"]["model"]["properties"]["timeout"]["default"] == 600.0


@pytest.mark.parametrize("kind", sorted(POLICY_DEFAULTS))
def test_policy_parameter_defaults_come_from_the_policy_classes(kind: str) -> None:
    props = _agent()["$defs"][f"policy_{kind}"]["properties"]
    for name, value in POLICY_DEFAULTS[kind].items():
        assert props[name].get("default") == value, name


def test_api_key_env_null_is_accepted_as_the_hint_says() -> None:
    import jsonschema

    schema = _agent()
    spec = {"version": 1, "name": "x", "extends": "base.yaml", "models": {"m": {"model": "qwen", "api_key_env": None}}}
    jsonschema.Draft202012Validator(schema).validate(spec)


def _resolve(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _check_defaults(cls: type, node: dict[str, Any], schema: dict[str, Any], seen: list[str]) -> None:
    """Every field of ``cls`` at ``node``: the schema's default is the declared one (a size as text
    that reads back to the declared bytes), or absent where the declaration shows none; then every
    settings class nested in it, at the node its field leads to (a section, a list's items, the
    long form of a short/long setting). ``seen`` collects the classes checked."""
    seen.append(cls.__name__)
    for info in field_infos(cls):
        assert "." not in info.key
        prop = node["properties"][info.key]
        where = f"{cls.__name__}.{info.name}"
        shown = json_default(info.default) if info.has_default and info.meta.get("show_default", True) else ...
        if shown is ...:
            assert "default" not in prop, where
        elif is_size(info.annotation) and isinstance(info.default, int):
            assert parse_size(prop["default"]) == info.default, where
        else:
            assert prop["default"] == shown, where
        target = _resolve(prop, schema)
        for member in union_members(unwrap(info.annotation)[0]):
            if is_settings_class(member):
                _check_defaults(member, target, schema, seen)
            elif is_sequence(member) and is_settings_class(typing.get_args(member)[0]):
                _check_defaults(typing.get_args(member)[0], _resolve(target["items"], schema), schema, seen)


@pytest.mark.parametrize(("name", "cls", "nested"), [
    ("sandbox-profile.schema.json", ProfileSettings,
     {"LimitSettings", "EnvSettings", "CacheSettings", "LocalBackendSettings", "DockerBackendSettings"}),
    ("task.schema.json", TaskFile,
     {"MetricSpec", "SubmissionSettings", "ThresholdSettings", "ResourceHints", "HiddenValidationConfig"}),
    ("sweep.schema.json", SweepFile, {"RunSection", "ExecutorConfig", "LocalSettings", "SlurmSettings", "RaySettings"}),
])
def test_document_schema_defaults_equal_the_declared_defaults(name: str, cls: type, nested: set[str]) -> None:
    """The profile, task and sweep schemas: every default shown is the declared one, in every
    section (the generator makes this true by construction; this is the generator's test)."""
    schema = json.loads((REPO / "schema" / name).read_text(encoding="utf-8"))
    seen: list[str] = []
    _check_defaults(cls, schema, schema, seen)
    assert nested <= set(seen)
