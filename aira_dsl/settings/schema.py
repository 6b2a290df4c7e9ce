"""JSON Schema (2020-12) from settings dataclasses.

Each :func:`~aira_dsl.settings.fields.setting` becomes a property with its type, bounds, default
and description, so the schemas editors and the compiler use say exactly what the code does. A
class with a ``__schema_def__`` name is emitted once under ``$defs`` and referred to by
``$ref``; other classes are inlined. ``__schema_doc__`` is the object's description.

Generation happens when the shipped schema files are written (``python -m aira_dsl.schemagen``),
never while checking a spec: the files are loaded as JSON.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any

from aira_dsl.settings.fields import (
    DURATION_PATTERN,
    SIZE_PATTERN,
    FieldInfo,
    field_infos,
    format_size,
    is_sequence,
    is_settings_class,
    is_size,
    literal_values,
    union_members,
    unwrap,
)

__all__ = ["DURATION_NOTE", "SIZE_NOTE", "SchemaBuilder", "json_default", "shown_default"]

DURATION_NOTE = "A duration: seconds as a number, or text such as 90s, 30m, 4h, 1d, 1h30m."
SIZE_NOTE = "A size: bytes as a whole number, or text such as 512m, 2g, 1.5GiB (binary units)."

_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}
_BOUNDS = (("ge", "minimum"), ("gt", "exclusiveMinimum"), ("le", "maximum"), ("lt", "exclusiveMaximum"))


def json_default(value: Any) -> Any:
    """A default as JSON, or ``...`` when it has no JSON form worth showing (nested settings)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple | list):
        items = [json_default(v) for v in value]
        return ... if any(i is ... for i in items) else items
    if isinstance(value, Mapping):
        out = {str(k): json_default(v) for k, v in value.items()}
        return ... if any(v is ... for v in out.values()) else out
    return ...


def shown_default(info: FieldInfo) -> Any:
    """The default of a field as its schema shows it (``...`` for none): JSON, with a size written
    as a user would write it (``"1g"``, which reads back to the same bytes)."""
    if not info.has_default or not info.meta.get("show_default", True):
        return ...
    if is_size(info.annotation) and isinstance(info.default, int) and not isinstance(info.default, bool):
        return format_size(info.default)
    return json_default(info.default)


class SchemaBuilder:
    """Collects ``$defs`` while turning settings classes into schema fragments."""

    def __init__(self, *, filled: bool = False) -> None:
        self.defs: dict[str, Any] = {}
        self.filled = filled
        """A schema of filled-in data (a plan): every optional value is present, possibly null."""

    # -- objects ----------------------------------------------------------------------------

    def object(self, cls: type, *, description: str | None = None, require: bool = True) -> dict[str, Any]:
        """The inline object schema of ``cls`` (``require=False`` drops ``required``)."""
        props: dict[str, Any] = {}
        required: list[str] = []
        groups: Mapping[str, str] = getattr(cls, "__schema_groups__", {})
        for info in field_infos(cls):
            if info.from_key:
                continue
            if "." in info.key:
                group, name = info.key.split(".", 1)
                node = props.setdefault(group, {"type": "object", "additionalProperties": False, "properties": {}})
                node["properties"][name] = self.field(info)
                if group in groups:
                    node["description"] = groups[group]
                continue
            props[info.key] = self.field(info)
            if info.required:
                required.append(info.key)
        out: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
        if required and require:
            out["required"] = required
        doc = description or getattr(cls, "__schema_doc__", None)
        if doc:
            out["description"] = doc
        return out

    def ref(self, cls: type) -> dict[str, Any]:
        """A ``$ref`` to ``cls`` (emitted under ``$defs`` on first use), or it inline."""
        name = getattr(cls, "__schema_def__", None)
        if not name:
            return self.object(cls)
        if name not in self.defs:
            self.defs[name] = {}  # placeholder: recursion-safe
            self.defs[name] = self.object(cls)
        return {"$ref": f"#/$defs/{name}"}

    # -- fields -----------------------------------------------------------------------------

    def field(self, info: FieldInfo) -> dict[str, Any]:
        extra = info.meta.get("schema", {})
        if "$ref" in extra:  # a section whose schema is assembled elsewhere (the policy's)
            shown = shown_default(info)
            return {"$ref": extra["$ref"], **({"default": shown} if shown is not ... else {}), "description": info.doc}
        node = {**self.annotation(info.annotation, info.meta), **extra}
        if "const" in extra:
            node.pop("enum", None)
        if "$ref" not in node:
            shown = shown_default(info)
            if shown is not ...:
                node["default"] = shown
        _, _, duration = unwrap(info.annotation)
        doc = info.doc
        if duration and DURATION_NOTE not in doc:
            doc = f"{doc} {DURATION_NOTE}"
        if is_size(info.annotation) and SIZE_NOTE not in doc:
            doc = f"{doc} {SIZE_NOTE}"
        if "$ref" in node:
            return {"$ref": node["$ref"], "description": doc}
        node["description"] = doc
        return node

    def annotation(self, annotation: Any, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The schema of a type. An optional (``X | None``) setting whose default is shown may be
        written as null; one documented as "leave it out" (``show_default=False``) may not."""
        meta = meta or {}
        inner, nullable, duration = unwrap(annotation)
        nullable = nullable and (self.filled or bool(meta.get("show_default", True)))
        if duration:
            node: dict[str, Any] = {"type": ["number", "string"], "minimum": 0, "pattern": DURATION_PATTERN}
            if meta.get("gt") is not None:
                node.pop("minimum")
                node["exclusiveMinimum"] = meta["gt"]
            elif meta.get("ge") is not None:
                node["minimum"] = meta["ge"]
            return _nullable(node, nullable)
        if is_size(annotation):
            node = {"type": ["string", "integer"], "pattern": SIZE_PATTERN}
            self._constraints(node, {k: v for k, v in meta.items() if k != "pattern"})
            return _nullable(node, nullable)
        members = [m for m in union_members(inner) if m is not type(None)]
        if len(members) > 1:
            return _nullable(self._merged(members, meta), nullable)
        options = literal_values(inner)
        if options is not None:  # in a spec, an optional choice is left out, not written as null
            return {"enum": list(options) + ([None] if nullable and self.filled else [])}
        if is_settings_class(inner):
            node = self.ref(inner)
            if nullable:
                return {"anyOf": [node, {"type": "null"}]} if "$ref" in node else _nullable(node, True)
            return node
        origin = typing.get_origin(inner)
        if origin in (dict, Mapping) or inner is dict:
            args = typing.get_args(inner)
            item = args[1] if len(args) == 2 else Any
            node = {"type": "object"}
            if meta.get("key_pattern"):
                node["propertyNames"] = {"pattern": meta["key_pattern"]}
            if item is not Any:
                node["additionalProperties"] = self._item(item, meta)
            if meta.get("min_items"):
                node["minProperties"] = meta["min_items"]
            return _nullable(node, nullable)
        if origin in (tuple, list) or inner in (tuple, list):
            args = typing.get_args(inner)
            node = {"type": "array"}
            if args and args[0] is not Any and args[0] is not Ellipsis:
                node["items"] = self._item(args[0], meta)
            if meta.get("min_items"):
                node["minItems"] = meta["min_items"]
            return _nullable(node, nullable)
        if inner is Any:
            return {}
        if inner in _SCALARS:
            node = {"type": _SCALARS[inner]}
            self._constraints(node, meta)
            return _nullable(node, nullable)
        raise TypeError(f"no schema for annotation {annotation!r}")

    def _item(self, annotation: Any, meta: Mapping[str, Any]) -> dict[str, Any]:
        """The schema of a list's items (a mapping's values), with the field's ``item`` constraints."""
        item_meta = meta.get("item") or {}
        node = self.annotation(annotation, item_meta)
        if item_meta.get("doc"):
            node = {**node, "description": item_meta["doc"]}
        return node

    def _merged(self, members: list[Any], meta: Mapping[str, Any]) -> dict[str, Any]:
        """``str | Settings`` or ``int | tuple[int, ...]``: one schema whose keywords apply per
        JSON type (a short form and a long form of the same setting: a path or a mapping, a count
        or a list). Numeric and text constraints apply to the scalar form, ``min_items`` and
        ``item`` to the list form."""
        node: dict[str, Any] = {"type": []}
        for member in members:
            if is_sequence(member):
                node["type"].append("array")
                args = typing.get_args(member)
                if args and args[0] is not Any:
                    node["items"] = self._item(args[0], meta)
                if meta.get("min_items"):
                    node["minItems"] = meta["min_items"]
                continue
            if is_settings_class(member):
                obj = self.object(member, description="")
                node["type"].append("object")
                node["additionalProperties"] = obj["additionalProperties"]
                node["properties"] = obj["properties"]
                if "required" in obj:
                    node["required"] = obj["required"]
            elif member in _SCALARS:
                node["type"].append(_SCALARS[member])
            else:
                raise TypeError(f"cannot merge {member!r} into a union schema")
        self._constraints(node, meta)
        return node

    @staticmethod
    def _constraints(node: dict[str, Any], meta: Mapping[str, Any]) -> None:
        for name, keyword in _BOUNDS:
            if meta.get(name) is not None:
                node[keyword] = meta[name]
        for name, keyword in (("min_length", "minLength"), ("max_length", "maxLength"), ("pattern", "pattern")):
            if meta.get(name) is not None:
                node[keyword] = meta[name]


def _nullable(node: dict[str, Any], nullable: bool) -> dict[str, Any]:
    if not nullable:
        return node
    kind = node.get("type")
    if kind is None:
        return node
    kinds = kind if isinstance(kind, list) else [kind]
    if "null" not in kinds:
        node = {**node, "type": [*kinds, "null"]}
    return node


def fields_of(cls: type) -> list[str]:
    """The YAML keys of a settings class (for messages and docs)."""
    return [info.key for info in field_infos(cls) if not info.from_key]


def is_settings(cls: Any) -> bool:
    return dataclasses.is_dataclass(cls)
