"""What the JSON Schemas say about a spec path: documentation, allowed keys and values.

The schemas shipped in ``aira_dsl/schemas`` are generated from the typed settings
(``aira_dsl.settings``) and carry each field's description, type, range and default, so hover
text and key completion read them rather than restating any documentation. A path is
resolved through ``$ref``, ``allOf``/``anyOf``/``oneOf`` and ``if``/``then``/``else``; the
conditional branches are chosen by the document's data where it is known (the policy's
parameters depend on ``policy.kind``), and all are kept where it is not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SchemaInfo", "describe", "lookup", "schema_for_kind"]

_MISSING = object()

_SCHEMAS = {"spec": "agent.schema.json", "task": "task.schema.json",
            "sandbox-profile": "sandbox-profile.schema.json", "sweep": "sweep.schema.json",
            "plan": "plan.schema.json"}


def schema_for_kind(kind: str | None) -> dict[str, Any] | None:
    """The schema of a document kind (as ``validate`` names kinds), or None."""
    if kind == "spec":
        from aira_dsl.compiler.checks import agent_schema

        return agent_schema()  # with operator kinds registered at run time
    name = _SCHEMAS.get(kind or "")
    if name is None:
        return None
    from aira_dsl.spec.schema_check import load_packaged_schema

    try:
        return load_packaged_schema(name)
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class SchemaInfo:
    """The subschemas that apply at one path (most specific first)."""

    nodes: tuple[Mapping[str, Any], ...]

    @property
    def description(self) -> str | None:
        texts = [n["description"] for n in self.nodes if isinstance(n.get("description"), str)]
        return texts[0] if texts else None

    @property
    def descriptions(self) -> list[str]:
        return list(dict.fromkeys(n["description"] for n in self.nodes if isinstance(n.get("description"), str)))

    def first(self, name: str) -> Any:
        for node in self.nodes:
            if name in node:
                return node[name]
        return None

    def values(self) -> list[Any]:
        """The values the schema allows here, when it lists them (enum, const, booleans)."""
        found: list[Any] = []
        for node in self.nodes:
            if isinstance(node.get("enum"), list):
                found.extend(node["enum"])
            if "const" in node:
                found.append(node["const"])
            types = node.get("type")
            if types == "boolean" or (isinstance(types, list) and "boolean" in types):
                found.extend([True, False])
        unique: dict[str, Any] = {}
        for value in found:
            unique.setdefault(json.dumps(value, sort_keys=True), value)
        return list(unique.values())

    def keys(self) -> dict[str, SchemaInfo]:
        """The named keys a mapping here may have, each with its own information."""
        found: dict[str, list[Mapping[str, Any]]] = {}
        for node in self.nodes:
            properties = node.get("properties")
            if isinstance(properties, Mapping):
                for name, sub in properties.items():
                    if isinstance(sub, Mapping):
                        found.setdefault(name, []).append(sub)
        return {name: SchemaInfo(tuple(subs)) for name, subs in found.items()}

    def const_description(self, value: Any) -> str | None:
        """The description of the branch a value selects (``kind: greedy`` → the greedy policy)."""
        for node in self.nodes:
            if node.get("const") == value and isinstance(node.get("description"), str):
                return str(node["description"])
        return None


class _Resolver:
    def __init__(self, root: Mapping[str, Any]):
        self.root = root

    def ref(self, ref: str) -> Mapping[str, Any] | None:
        if not ref.startswith("#/"):
            return None
        node: Any = self.root
        for part in ref[2:].split("/"):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node if isinstance(node, Mapping) else None

    def expand(self, node: Any, instance: Any, depth: int = 0) -> Iterator[Mapping[str, Any]]:
        """``node`` and every subschema that applies to ``instance`` alongside it."""
        if not isinstance(node, Mapping) or depth > 20:
            return
        yield node
        if isinstance(node.get("$ref"), str):
            yield from self.expand(self.ref(node["$ref"]), instance, depth + 1)
        for combinator in ("allOf", "anyOf", "oneOf"):
            for sub in node.get(combinator) or ():
                yield from self.expand(sub, instance, depth + 1)
        if "if" in node:
            holds = self.holds(node["if"], instance)
            if holds is not False and "then" in node:
                yield from self.expand(node["then"], instance, depth + 1)
            if holds is not True and "else" in node:
                yield from self.expand(node["else"], instance, depth + 1)

    def holds(self, condition: Any, instance: Any) -> bool | None:
        if instance is _MISSING:
            return None
        import jsonschema

        try:
            return bool(jsonschema.Draft202012Validator(condition).is_valid(instance))
        except (jsonschema.exceptions.SchemaError, TypeError, ValueError, RecursionError):
            return None

    def child(self, nodes: tuple[Mapping[str, Any], ...], key: str | int) -> list[Mapping[str, Any]]:
        found: list[Mapping[str, Any]] = []
        for node in nodes:
            if isinstance(key, int):
                items = node.get("items")
                if isinstance(items, Mapping):
                    found.append(items)
                continue
            properties = node.get("properties")
            if isinstance(properties, Mapping) and key in properties:
                found.append(properties[key])
                continue
            additional = node.get("additionalProperties")
            if isinstance(additional, Mapping):
                found.append(additional)
        return found


def _step(data: Any, key: str | int) -> Any:
    if isinstance(key, int):
        return data[key] if isinstance(data, list) and 0 <= key < len(data) else _MISSING
    return data.get(key, _MISSING) if isinstance(data, Mapping) else _MISSING


def lookup(schema: Mapping[str, Any], path: tuple[str | int, ...], data: Any = _MISSING) -> SchemaInfo:
    """The subschemas describing the value at ``path``; ``data`` (the document's data, when
    known) picks conditional branches."""
    resolver = _Resolver(schema)
    instance = data if data is not None else _MISSING
    nodes = tuple(resolver.expand(schema, instance))
    for key in path:
        instance = _step(instance, key) if instance is not _MISSING else _MISSING
        children = resolver.child(nodes, key)
        nodes = tuple(n for child in children for n in resolver.expand(child, instance))
        if not nodes:
            break
    return SchemaInfo(nodes)


def describe(info: SchemaInfo) -> str:
    """One line of facts about a field: its type, allowed values, range and default."""
    facts: list[str] = []
    types = info.first("type")
    if types is not None:
        facts.append(" or ".join(types) if isinstance(types, list) else str(types))
    values = info.values()
    if values and not (set(map(str, values)) <= {"True", "False"}):
        facts.append("one of " + ", ".join(f"`{json.dumps(v)}`" for v in values[:12]))
    for name, symbol in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        bound = info.first(name)
        if bound is not None:
            facts.append(f"{symbol} {bound}")
    default = info.first("default")
    if default is not None:
        facts.append(f"default `{json.dumps(default)}`")
    return ", ".join(facts)
