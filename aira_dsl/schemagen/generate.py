"""Write the shipped JSON Schemas from the settings declarations.

The agent schema comes from the spec's settings classes (``aira_dsl/spec/model.py`` and the
shared sections in ``aira_dsl/settings``), each policy's parameter declarations, and the
operator-kind table; the plan schema from the plan's classes (``aira_dsl/plan.py``); the sandbox
profile, task file and sweep file schemas from their declarations
(``aira_dsl/sandbox/profile_settings.py``, ``aira_dsl/tasks/schema.py``,
``aira_dsl/sweep/model.py``). Both copies
(``schema/`` for editors, ``aira_dsl/schemas/`` inside the package) are written, and a test fails
when either differs from what this module generates.

    python -m aira_dsl.schemagen            # rewrite both copies
    python -m aira_dsl.schemagen --check    # exit 1 if a file is stale
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aira_dsl.kinds import kind_names, roles
from aira_dsl.settings.fields import field_infos
from aira_dsl.settings.schema import SchemaBuilder

__all__ = ["GENERATED", "agent_schema", "main", "plan_schema", "render", "sandbox_profile_schema", "sweep_schema",
           "task_schema"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / "schemas"
"""The packaged copies (``aira_dsl/schemas/``, read by the checkers as package data)."""
REPOSITORY_DIR = PACKAGE_DIR.parents[1] / "schema"

_USE_DOC = "Binds policy roles to operator names. A role binds to the operator of the same name unless listed here."


def _use_schema() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "description": _USE_DOC,
            "properties": {role: {"type": "string", "description": f"Name of the operator that plays the {role} role."}
                           for role in roles()}}


def _policy_defs(builder: SchemaBuilder) -> dict[str, Any]:
    from aira_dsl.search.policy import PARAMS, POLICIES

    kinds = list(POLICIES)
    branches = []
    for kind in kinds:
        cls = POLICIES[kind]
        params = builder.object(PARAMS[kind])
        props = {"kind": {"const": kind, "description": cls.summary}, **params["properties"], "use": _use_schema()}
        builder.defs[f"policy_{kind}"] = {"type": "object", "additionalProperties": False, "properties": props,
                                          "required": ["kind"]}
        branches.append({"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                         "then": {"$ref": f"#/$defs/policy_{kind}"}})
    # Without `kind` (a spec that extends another and only changes parameters) the keys must still
    # be parameters of some policy; the compiler checks them against the merged kind.
    every_key = sorted({key for name in kinds for key in builder.defs[f"policy_{name}"]["properties"]})
    branches.append({"if": {"not": {"required": ["kind"]}}, "then": {"propertyNames": {"enum": every_key}}})
    return {"type": "object", "description": "The search policy: what to do next given the graph. Fields depend on `kind`.",
            "properties": {"kind": {"enum": kinds, "description": " | ".join(kinds)}},
            "allOf": branches}


def agent_schema() -> dict[str, Any]:
    """The agent spec schema (also what editors see through ``# yaml-language-server: $schema``).

    A file that ``extends`` another, or is ``abstract``, may leave out what its bases provide, so
    the parts that are required only of a complete spec sit in the ``else`` branch: an editor
    checking one file alone shows no false errors, and the compiler checks the merged spec.
    """
    from aira_dsl.spec.model import AgentSpec, OperatorSpec

    builder = SchemaBuilder()
    top = builder.object(AgentSpec)
    props: dict[str, Any] = {"$schema": {"type": "string", "description": "Optional schema reference for editors."},
                             **top["properties"]}
    builder.defs["policy"] = _policy_defs(builder)
    operator = builder.defs["operator"]
    names = kind_names()
    operator["properties"]["kind"] = {
        "enum": list(names), "description": "What the operator does: " + " | ".join(names) + "."}
    op_required = operator.pop("required", [])
    model_required = builder.defs["model"].pop("required", [])
    op_props = {info.key: {"description": operator["properties"][info.key]["description"]}
                for info in field_infos(OperatorSpec) if info.key in op_required}
    complete = ["version", "name", "models", "operators", "policy"]
    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "$id": "https://aira-dsl.dev/schema/agent.schema.json",
        "title": "aira-dsl agent spec (v1)",
        "description": "An AI research agent: models, operators (LLM calls with prompt templates), a search policy, "
                       "fitness rules, budgets and execution settings.",
        "type": "object",
        "additionalProperties": False,
        "properties": props,
        "required": top.get("required", []),
        "if": {"anyOf": [{"properties": {"abstract": {"const": True}}, "required": ["abstract"]},
                         {"required": ["extends"]}]},
        "else": {"required": complete,
                 "properties": {"operators": {"additionalProperties": {"required": op_required,
                                                                       "properties": op_props}},
                                "models": {"additionalProperties": {
                                    "required": model_required,
                                    "properties": {key: {"description": builder.defs["model"]["properties"][key]["description"]}
                                                   for key in model_required}}},
                                "policy": {"required": ["kind"]}}},
        "$defs": dict(sorted(builder.defs.items())),
    }
    return schema


def plan_schema() -> dict[str, Any]:
    """The plan file schema (``aira-dsl compile`` output)."""
    from aira_dsl.plan import PLAN_VERSION, Plan

    builder = SchemaBuilder(filled=True)
    top = builder.object(Plan)
    top["properties"]["operators"]["additionalProperties"] = {"$ref": "#/$defs/operator"}
    builder.defs["operator"]["properties"]["kind"]["description"] = (
        "Its kind (a row of the operator-kind table: " + ", ".join(k for k in kind_names()) + ").")
    return {
        "$schema": DRAFT,
        "$id": "https://aira-dsl.dev/schema/plan.schema.json",
        "title": f"aira-dsl plan (version {PLAN_VERSION})",
        "description": top["description"],
        "type": "object",
        "additionalProperties": False,
        "required": [info.key for info in field_infos(Plan)],
        "properties": top["properties"],
        "$defs": dict(sorted(builder.defs.items())),
    }


def _document_schema(cls: type, name: str, title: str, builder: SchemaBuilder | None = None) -> dict[str, Any]:
    """The schema of a YAML document declared by settings class ``cls`` (its ``__schema_doc__`` is
    the description)."""
    builder = builder or SchemaBuilder()
    top = builder.object(cls)
    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "$id": f"https://aira-dsl.dev/schema/{name}",
        "title": title,
        "description": top["description"],
        "type": "object",
        "additionalProperties": False,
        "required": top.get("required", []),
        "properties": top["properties"],
    }
    if builder.defs:
        schema["$defs"] = dict(sorted(builder.defs.items()))
    return schema


def sandbox_profile_schema() -> dict[str, Any]:
    """The sandbox profile schema (``runtimes/*.yaml``)."""
    from aira_dsl.sandbox.profile_settings import ProfileSettings

    return _document_schema(ProfileSettings, "sandbox-profile.schema.json", "aira-dsl sandbox profile")


def task_schema() -> dict[str, Any]:
    """The task file schema (``task.yaml``)."""
    from aira_dsl.tasks.schema import TaskFile

    return _document_schema(TaskFile, "task.schema.json", "aira-dsl task")


def sweep_schema() -> dict[str, Any]:
    """The sweep file schema. ``run.budget`` takes the spec's budget keys (the same declarations,
    :class:`~aira_dsl.settings.run.BudgetSettings`) as overrides: no defaults, nothing required."""
    from aira_dsl.settings.run import BudgetSettings
    from aira_dsl.sweep.model import SweepFile

    builder = SchemaBuilder()
    budget = builder.object(BudgetSettings, require=False)
    for node in budget["properties"].values():
        node.pop("default", None)
    builder.defs["budget_overrides"] = budget
    return _document_schema(SweepFile, "sweep.schema.json", "aira-dsl sweep", builder)


GENERATED: dict[str, Callable[[], dict[str, Any]]] = {
    "agent.schema.json": agent_schema,
    "plan.schema.json": plan_schema,
    "sandbox-profile.schema.json": sandbox_profile_schema,
    "task.schema.json": task_schema,
    "sweep.schema.json": sweep_schema,
}
"""File name → generator, for the schemas generated from declarations."""


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    stale = []
    for name, generate in GENERATED.items():
        text = render(generate())
        for folder in (PACKAGE_DIR, REPOSITORY_DIR):
            path = folder / name
            if not folder.is_dir():
                continue
            current = path.read_text(encoding="utf-8") if path.is_file() else None
            if current != text:
                stale.append(str(path))
                if not check:
                    path.write_text(text, encoding="utf-8")
    if check and stale:
        print("stale schema files (run `python -m aira_dsl.schemagen`):\n  " + "\n  ".join(stale), file=sys.stderr)
        return 1
    for written in stale if not check else []:
        print(f"wrote {written}")
    return 0
