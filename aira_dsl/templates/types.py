"""A tiny type language for the values a prompt template receives.

The static checker, the sample-context validator and the generated documentation all need to
know the *shape* of each context variable (which fields a record has, what a list holds), not
just its name. Keeping that shape as plain data here means the three stay in agreement: a field
added to a declaration is documented, validated and accepted by the checker at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ANY",
    "AnyType",
    "Field",
    "ListOf",
    "ModuleType",
    "Record",
    "Scalar",
    "ScalarKind",
    "StrMap",
    "VarType",
    "describe",
    "record",
]

ScalarKind = Literal["str", "int", "number", "bool"]


class VarType:
    """Base of every type; a value of :data:`ANY` means "not known, do not check"."""


@dataclass(frozen=True)
class AnyType(VarType):
    """A value whose shape the checker does not track (literals, call results, user vars)."""


ANY = AnyType()


@dataclass(frozen=True)
class Scalar(VarType):
    """A string, integer, number (int or float) or boolean."""

    kind: ScalarKind


@dataclass(frozen=True)
class Field:
    """One named field of a record (or one top-level variable) with a one-line description."""

    name: str
    type: VarType
    doc: str
    nullable: bool = False


@dataclass(frozen=True)
class Record(VarType):
    """A mapping with a fixed set of fields; ``title`` names it in messages ("memory entry")."""

    title: str
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field | None:
        for item in self.fields:
            if item.name == name:
                return item
        return None

    @property
    def field_names(self) -> list[str]:
        return [item.name for item in self.fields]


@dataclass(frozen=True)
class ListOf(VarType):
    """A list whose elements all have type ``item``."""

    item: VarType


@dataclass(frozen=True)
class StrMap(VarType):
    """A mapping from names to values; its keys are known only when a spec is checked (``vars``)."""

    value: VarType = ANY


@dataclass(frozen=True)
class ModuleType(VarType):
    """What ``{% import "x.j2" as m %}`` binds: the macros and variables that ``x.j2`` exports."""

    template: str
    exports: frozenset[str]


def record(title: str, fields: Iterable[Field]) -> Record:
    """Build a :class:`Record` from an iterable of fields."""
    return Record(title, tuple(fields))


def describe(vtype: VarType, nullable: bool = False) -> str:
    """A short human name for a type, as shown in docs and messages (``list of memory entry``)."""
    if isinstance(vtype, Scalar):
        text = {"str": "string", "int": "integer", "number": "number", "bool": "boolean"}[vtype.kind]
    elif isinstance(vtype, Record):
        text = vtype.title
    elif isinstance(vtype, ListOf):
        text = f"list of {describe(vtype.item)}"
    elif isinstance(vtype, StrMap):
        text = "mapping"
    elif isinstance(vtype, ModuleType):
        text = f"template {vtype.template}"
    else:
        text = "any"
    return f"{text} or null" if nullable else text
