"""The small type system of expressions: what the checker infers and the evaluator relies on.

Types are immutable values compared structurally. ``Nullable(T)`` is ``T | null``; records
list named fields (each with a one-line description used in messages and docs); an open record
maps any attribute name to one type (``reported.<name>``, ``vars`` when the spec's constants
are not known); ``ANY`` is accepted everywhere and is what checking falls back to after an error,
so one mistake does not cascade into many messages.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ANY",
    "BOOL",
    "NULL",
    "NUMBER",
    "STRING",
    "AnyType",
    "FieldInfo",
    "ListType",
    "Nullable",
    "OpenRecordType",
    "Prim",
    "RecordType",
    "Type",
    "assignable",
    "conforms",
    "describe",
    "is_nullable",
    "nullable",
    "record_from_mapping",
    "render",
    "strip_null",
    "type_from_json",
    "type_of_value",
    "type_to_json",
    "unify",
]

_MAX_VALUE_NESTING = 20
"""Below this depth, user-supplied mappings (policy, vars) are typed ``any``: bounded work."""


class Type:
    """Base class of every expression type."""

    __slots__ = ()


@dataclass(frozen=True)
class Prim(Type):
    """A primitive type: ``bool``, ``number``, ``string`` or ``null``."""

    name: str


@dataclass(frozen=True)
class AnyType(Type):
    """Any value; checks involving it pass (used for unknown user constants and recovery)."""


@dataclass(frozen=True)
class Nullable(Type):
    """``inner | null``; ``inner`` is never null, nullable or any (see :func:`nullable`)."""

    inner: Type


@dataclass(frozen=True)
class ListType(Type):
    """A list whose items all have type ``item``."""

    item: Type


@dataclass(frozen=True)
class FieldInfo:
    """A named field of a record; the description is documentation, not part of the type."""

    name: str
    type: Type
    description: str = field(default="", compare=False)


@dataclass(frozen=True)
class RecordType(Type):
    """A record with a fixed set of named fields (``exec``, ``node``, a spec's ``policy``)."""

    name: str
    fields: tuple[FieldInfo, ...]

    def get(self, attr: str) -> FieldInfo | None:
        for info in self.fields:
            if info.name == attr:
                return info
        return None

    def names(self) -> list[str]:
        return [info.name for info in self.fields]


@dataclass(frozen=True)
class OpenRecordType(Type):
    """A record where any attribute name gives a value of type ``value`` (missing: null)."""

    name: str
    value: Type
    description: str = field(default="", compare=False)


BOOL = Prim("bool")
NUMBER = Prim("number")
STRING = Prim("string")
NULL = Prim("null")
ANY = AnyType()

_PRIMS = {"bool": BOOL, "number": NUMBER, "string": STRING, "null": NULL, "any": ANY}


def nullable(t: Type) -> Type:
    """``t | null``, normalised: null, any and nullable types are returned unchanged."""
    if t in (NULL, ANY) or isinstance(t, Nullable):
        return t
    return Nullable(t)


def strip_null(t: Type) -> Type:
    """The non-null part of ``t`` (``number | null`` -> ``number``; ``null`` stays ``null``)."""
    return t.inner if isinstance(t, Nullable) else t


def is_nullable(t: Type) -> bool:
    """Whether a value of type ``t`` may be null (any counts as may-be-null)."""
    return t in (NULL, ANY) or isinstance(t, Nullable)


def assignable(actual: Type, expected: Type) -> bool:
    """Whether every value of ``actual`` is acceptable where ``expected`` is required."""
    if actual in (ANY, expected) or expected == ANY:
        return True
    if actual == NULL:
        return is_nullable(expected)
    if isinstance(expected, Nullable):
        return assignable(strip_null(actual), expected.inner)
    return False


def unify(a: Type, b: Type) -> Type | None:
    """The type of "either ``a`` or ``b``" (conditional branches), or None if they clash."""
    if a == ANY or b == ANY:
        return ANY
    if a == NULL:
        return nullable(b)
    if b == NULL:
        return nullable(a)
    base_a, base_b = strip_null(a), strip_null(b)
    if base_a != base_b:
        return None
    return nullable(base_a) if is_nullable(a) or is_nullable(b) else base_a


def describe(t: Type) -> str:
    """A phrase for messages: ``a number``, ``a boolean or null``, ``a record (exec)``."""
    if isinstance(t, Prim):
        return {"bool": "a boolean", "number": "a number", "string": "a string",
                "null": "null"}[t.name]
    if isinstance(t, AnyType):
        return "any value"
    if isinstance(t, Nullable):
        return f"{describe(t.inner)} or null"
    if isinstance(t, ListType):
        return "a list"
    if isinstance(t, RecordType | OpenRecordType):
        return f"a record ({t.name})"
    raise TypeError(f"not a type: {t!r}")


def render(t: Type) -> str:
    """A short code-like spelling for docs: ``number | null``, ``list[string]``, ``record``."""
    if isinstance(t, Prim):
        return t.name
    if isinstance(t, AnyType):
        return "any"
    if isinstance(t, Nullable):
        return f"{render(t.inner)} | null"
    if isinstance(t, ListType):
        return f"list[{render(t.item)}]"
    if isinstance(t, RecordType):
        return "record"
    if isinstance(t, OpenRecordType):
        return f"record of {render(t.value)}"
    raise TypeError(f"not a type: {t!r}")


def type_of_value(value: Any, name: str = "value", _depth: int = 0) -> Type:
    """The type of a plain (YAML-like) value: used to type ``policy`` and ``vars`` entries."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, numbers.Real):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if _depth >= _MAX_VALUE_NESTING:
        return ANY
    if isinstance(value, Mapping):
        return record_from_mapping(name, value, _depth=_depth + 1)
    if isinstance(value, list | tuple):
        item: Type | None = None
        for element in value:
            element_type = type_of_value(element, name, _depth + 1)
            item = element_type if item is None else unify(item, element_type)
            if item is None:
                return ListType(ANY)
        return ListType(item if item is not None else ANY)
    return ANY


def record_from_mapping(name: str, mapping: Mapping[Any, Any], description: str = "",
                        _depth: int = 0) -> RecordType:
    """A record type with one field per key of ``mapping``, typed from its value."""
    fields = tuple(
        FieldInfo(str(key), type_of_value(value, f"{name}.{key}", _depth), description)
        for key, value in mapping.items()
    )
    return RecordType(name, fields)


def conforms(value: Any, t: Type) -> bool:
    """Whether a run-time value fits ``t`` (records and lists checked one level deep)."""
    if isinstance(t, AnyType):
        return True
    if isinstance(t, Nullable):
        return value is None or conforms(value, t.inner)
    if isinstance(t, Prim):
        if t.name == "null":
            return value is None
        if t.name == "bool":
            return isinstance(value, bool)
        if t.name == "number":
            return (isinstance(value, int | float) and not isinstance(value, bool)
                    and (not isinstance(value, float) or math.isfinite(value)))
        return isinstance(value, str)
    if isinstance(t, ListType):
        return isinstance(value, list)
    return isinstance(value, Mapping)


# --- JSON form (for the plan IR) -------------------------------------------------------------

def type_to_json(t: Type) -> Any:
    """A deterministic JSON form: strings for primitives (``"number|null"``), dicts otherwise.

    Field descriptions are dropped: they are documentation, not part of the type.
    """
    if isinstance(t, Prim):
        return t.name
    if isinstance(t, AnyType):
        return "any"
    if isinstance(t, Nullable):
        inner = type_to_json(t.inner)
        return f"{inner}|null" if isinstance(inner, str) else {"nullable": inner}
    if isinstance(t, ListType):
        return {"list": type_to_json(t.item)}
    if isinstance(t, RecordType):
        return {"record": t.name,
                "fields": [[info.name, type_to_json(info.type)] for info in t.fields]}
    if isinstance(t, OpenRecordType):
        return {"open_record": t.name, "value": type_to_json(t.value)}
    raise TypeError(f"not a type: {t!r}")


def type_from_json(data: Any, _depth: int = 0) -> Type:
    """Inverse of :func:`type_to_json`; raises ``ValueError`` on anything malformed."""
    if _depth > 64:
        raise ValueError("type nested too deeply")
    if isinstance(data, str):
        base, sep, rest = data.partition("|")
        if base in _PRIMS and (not sep or (rest == "null" and base not in ("null", "any"))):
            return nullable(_PRIMS[base]) if sep else _PRIMS[base]
        raise ValueError(f"unknown type {data!r}")
    if isinstance(data, dict):
        if set(data) == {"nullable"}:
            inner = type_from_json(data["nullable"], _depth + 1)
            if is_nullable(inner):
                raise ValueError(f"bad nullable type {data!r}")
            return Nullable(inner)
        if set(data) == {"list"}:
            return ListType(type_from_json(data["list"], _depth + 1))
        if set(data) == {"record", "fields"} and isinstance(data["record"], str) \
                and isinstance(data["fields"], list):
            fields = []
            for entry in data["fields"]:
                if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
                    raise ValueError(f"bad record field {entry!r}")
                fields.append(FieldInfo(entry[0], type_from_json(entry[1], _depth + 1)))
            return RecordType(data["record"], tuple(fields))
        if set(data) == {"open_record", "value"} and isinstance(data["open_record"], str):
            return OpenRecordType(data["open_record"], type_from_json(data["value"], _depth + 1))
    raise ValueError(f"not a type: {data!r}")
