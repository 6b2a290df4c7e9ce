"""Declaring settings once: dataclass fields that carry their type, default, range and documentation.

Every setting a user writes (a spec's model section, a policy parameter, a budget) is one field
of a frozen dataclass declared with :func:`setting`. From those declarations, and nothing else,

- the JSON Schemas editors and the compiler validate against are generated
  (:mod:`aira_dsl.settings.schema`), with every default shown;
- typed objects are built from schema-valid YAML data, defaults filled in (:func:`build`);
- the reference tables of the docs are generated.

So a default, a range or a description is written in exactly one place. The annotations are the
types: ``str``, ``int``, ``float``, ``bool``, ``X | None`` (may be left out or written as null),
``Literal[...]`` (an enumeration), :data:`Duration` (seconds, written as ``90`` or ``"1h30m"``),
:data:`Size` (bytes, written as ``1048576`` or ``"1m"``), nested settings dataclasses,
``dict[str, X]`` and ``tuple[X, ...]``, ``str | Dataclass`` (a short form and a long form of the
same setting) and ``int | tuple[int, ...]`` (a count or a list).

This module imports nothing from aira_dsl: every layer may use it.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass
from typing import Annotated, Any, Literal, Union

__all__ = [
    "DURATION_PATTERN",
    "SIZE_PATTERN",
    "Duration",
    "FieldInfo",
    "SettingError",
    "Size",
    "build",
    "default_of",
    "dump",
    "duration_seconds",
    "field_infos",
    "format_size",
    "is_size",
    "parse_duration",
    "parse_size",
    "setting",
]


class _DurationMarker:
    """Marks a float field written as a duration in YAML."""

    def __repr__(self) -> str:
        return "Duration"


DURATION = _DurationMarker()
Duration = Annotated[float, DURATION]
"""Seconds; in YAML a number of seconds or text such as ``90s``, ``30m``, ``4h``, ``1d``, ``1h30m``."""

DURATION_PATTERN = (r"^\s*(?=[0-9])(?:([0-9]+(?:\.[0-9]+)?)d)?(?:([0-9]+(?:\.[0-9]+)?)h)?"
                    r"(?:([0-9]+(?:\.[0-9]+)?)m)?(?:([0-9]+(?:\.[0-9]+)?)s)?\s*$")
"""The text form of a duration, the one definition of the project: ``<number><unit>`` parts with
units ``d h m s``, largest first, each at most once, no blanks between them (``90s``, ``1h30m``,
``1.5h``), ASCII digits only (Python's ``\\d`` would also take other scripts' digits). The
schemas' ``pattern``, :func:`parse_duration` (spec, profile, task and sweep values) and the
expression language's duration literals (:func:`duration_seconds`) all use it, so a text is a
duration in a YAML value exactly when it is one in an expression."""

_DURATION_TEXT = re.compile(DURATION_PATTERN)
_UNITS = (86400, 3600, 60, 1)  # the pattern's groups: d, h, m, s


class _SizeMarker:
    """Marks an int field written as a size in YAML."""

    def __repr__(self) -> str:
        return "Size"


SIZE = _SizeMarker()
Size = Annotated[int, SIZE]
"""Bytes; in YAML a whole number of bytes or text such as ``512m``, ``2g``, ``1.5GiB`` (binary units)."""

SIZE_PATTERN = r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(?:([kmgtKMGT])[iI]?[bB]?|[bB])?\s*$"
"""The text form of a size, the one definition: a number, then optionally a unit ``k m g t``
(binary: ``1k`` is 1024 bytes, either case, optionally followed by ``i`` and ``b``) or ``b``.
The schemas' ``pattern`` and :func:`parse_size` both use it, so a text the schema accepts is
exactly one the loader can read."""

_SIZE_TEXT = re.compile(SIZE_PATTERN)
_SIZE_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(value: Any) -> int | None:
    """``2g`` / ``512m`` / ``1.5GiB`` / ``1048576`` → bytes (binary units); None if unreadable or
    negative. The one size parser of the project."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    match = _SIZE_TEXT.match(value)
    if not match:
        return None
    number, unit = match.groups()
    return int(float(number) * (_SIZE_UNITS[unit.lower()] if unit else 1))


def format_size(value: int) -> str | int:
    """Bytes as the shortest exact text a user would write (``1073741824`` → ``"1g"``), or the
    number itself when no unit divides it; :func:`parse_size` reads it back to ``value``."""
    for letter, unit in sorted(_SIZE_UNITS.items(), key=lambda item: -item[1]):
        if value and value % unit == 0:
            return f"{value // unit}{letter}"
    return value


def duration_seconds(text: str) -> int | float | None:
    """Seconds in duration ``text`` (see :data:`DURATION_PATTERN`); None when it is not one or
    is too large for a float. Exact: an int when every part is a whole number (the expression
    language keeps ``1h30m`` as the integer 5400)."""
    match = _DURATION_TEXT.match(text)
    if match is None:
        return None
    total: int | float = 0
    exact = True
    for number, unit in zip(match.groups(), _UNITS, strict=True):
        if number is None:
            continue
        if "." in number:
            exact = False
            total += float(number) * unit
        else:
            total += int(number) * unit
    try:
        as_float = float(total)
    except OverflowError:
        return None
    if not math.isfinite(as_float):
        return None
    return int(total) if exact or as_float.is_integer() else total


def parse_duration(value: Any) -> float | None:
    """``90`` / ``"90s"`` / ``"1h30m"`` → seconds; None for anything else (negative, NaN, text
    that is not a duration). The one duration parser of the project."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) and number >= 0 else None
    if not isinstance(value, str):
        return None
    seconds = duration_seconds(value)
    return None if seconds is None else float(seconds)


class SettingError(ValueError):
    """Data that does not fit a settings class.

    Specs are schema-checked first, so for them this only reports what a schema cannot say
    (a duration text whose value is out of range); ``path`` locates the value in the YAML
    document, for a positioned diagnostic.
    """

    def __init__(self, message: str, path: tuple[str | int, ...] = (), hint: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.hint = hint


REQUIRED: Any = MISSING


def setting(default: Any = MISSING, *, doc: str, default_factory: Callable[[], Any] | None = None,
            ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None,
            min_length: int | None = None, max_length: int | None = None, pattern: str | None = None,
            key_pattern: str | None = None, min_items: int | None = None, key: str | None = None,
            from_key: bool = False, show_default: bool = True, schema: Mapping[str, Any] | None = None,
            omit_default: bool = False, item: Mapping[str, Any] | None = None) -> Any:
    """A documented settings field.

    ``default``/``default_factory``: the value when the key is left out (leave both out for a
    required key). ``ge``/``gt``/``le``/``lt``: numeric bounds; ``min_length``/``max_length``/
    ``pattern``: text constraints (``min_length`` and ``min_items`` also apply to mappings and
    lists); ``key_pattern``: what the keys of a ``dict[str, X]`` field must look like. ``key``: the
    YAML name when it differs from the field name; a dotted key (``price.input_per_mtok``) puts the
    field in a nested mapping (the class's ``__schema_groups__`` documents the group). ``from_key``: the field holds the mapping key
    the object was found under (``models.coder`` → ``name: coder``) and is not a YAML key.
    ``show_default=False`` keeps a default that is not a user-facing value out of the schema.
    ``schema``: extra JSON Schema keywords for what the annotation cannot say.
    ``omit_default``: :func:`dump` leaves the field out while it holds its default, so a setting
    added later does not change the bytes (and hashes) of plans that do not use it.
    ``item``: constraints of each item of a list (or value of a mapping), as keyword names of this
    function (``{"min_length": 1, "pattern": "^/", "doc": "..."}``), checked and shown like a
    field's own.
    """
    metadata = {"doc": doc, "ge": ge, "gt": gt, "le": le, "lt": lt, "min_length": min_length,
                "max_length": max_length, "pattern": pattern, "key_pattern": key_pattern,
                "min_items": min_items, "key": key, "from_key": from_key, "show_default": show_default,
                "schema": dict(schema or {}), "omit_default": omit_default,
                "item": dict(item or {})}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class FieldInfo:
    """One declared setting, as the generators see it."""

    name: str
    key: str
    annotation: Any
    doc: str
    default: Any
    required: bool
    meta: Mapping[str, Any]

    @property
    def from_key(self) -> bool:
        return bool(self.meta.get("from_key"))

    @property
    def has_default(self) -> bool:
        return not self.required


def default_of(cls: type, name: str) -> Any:
    """The default settings class ``cls`` declares for field ``name`` (a fresh value from its
    factory), for code that must name a default without restating it: runtime objects whose
    defaults are a document's, and messages that quote a default."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default_factory is not MISSING:
                return f.default_factory()
            if f.default is MISSING:
                raise KeyError(f"{cls.__name__}.{name} has no default")
            return f.default
    raise KeyError(f"{cls.__name__} has no field {name}")


def field_infos(cls: type) -> tuple[FieldInfo, ...]:
    """The settings fields of a dataclass, in declaration order (annotations resolved)."""
    found = _FIELD_INFOS.get(cls)
    if found is None:
        found = _FIELD_INFOS[cls] = _field_infos(cls)
    return found


_FIELD_INFOS: dict[type, tuple[FieldInfo, ...]] = {}


def _field_infos(cls: type) -> tuple[FieldInfo, ...]:
    module = sys.modules.get(cls.__module__)
    hints = typing.get_type_hints(cls, globalns=vars(module) if module else None, include_extras=True)
    infos = []
    for f in dataclasses.fields(cls):
        if "doc" not in f.metadata:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with setting()")
        if f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:
            default = f.default_factory()
        else:
            default = MISSING
        infos.append(FieldInfo(name=f.name, key=f.metadata.get("key") or f.name, annotation=hints[f.name],
                               doc=f.metadata["doc"], default=default, required=default is MISSING,
                               meta=f.metadata))
    return tuple(infos)


# ---------------------------------------------------------------------------- type analysis


def unwrap(annotation: Any) -> tuple[Any, bool, bool]:
    """``(inner type, nullable, is_duration)`` of an annotation."""
    duration = False
    if typing.get_origin(annotation) is Annotated:
        args = typing.get_args(annotation)
        duration = any(isinstance(a, _DurationMarker) for a in args[1:])
        annotation = args[0]
    nullable = False
    if typing.get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(members) != len(typing.get_args(annotation))
        inner: Any = members[0] if len(members) == 1 else Union[tuple(members)]  # noqa: UP007
        if len(members) == 1 and typing.get_origin(inner) is Annotated:
            inner, _, duration2 = unwrap(inner)
            duration = duration or duration2
        annotation = inner
    return annotation, nullable, duration


def is_size(annotation: Any) -> bool:
    """Whether an annotation is :data:`Size` (possibly optional)."""
    if typing.get_origin(annotation) is Annotated:
        return any(isinstance(a, _SizeMarker) for a in typing.get_args(annotation)[1:])
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return any(is_size(member) for member in typing.get_args(annotation))
    return False


def is_sequence(annotation: Any) -> bool:
    """Whether an annotation is a list or tuple type."""
    return typing.get_origin(annotation) in (tuple, list) or annotation in (tuple, list)


def union_members(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def is_settings_class(annotation: Any) -> bool:
    return isinstance(annotation, type) and dataclasses.is_dataclass(annotation)


def literal_values(annotation: Any) -> tuple[Any, ...] | None:
    return typing.get_args(annotation) if typing.get_origin(annotation) is Literal else None


# ---------------------------------------------------------------------------- building


def build(cls: type[Any], data: Mapping[str, Any] | None, *, key: str | None = None,
          path: tuple[str | int, ...] = ()) -> Any:
    """An instance of settings class ``cls`` from YAML data, defaults filled in.

    The data is expected to have passed the generated schema; what the schema cannot say
    (duration text) is converted here. Anything that still does not fit raises
    :class:`SettingError` naming the dotted path, for direct library use.
    """
    data = dict(data or {})
    known = {info.key.split(".")[0] for info in field_infos(cls) if not info.from_key}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SettingError(f"{dotted(path) or cls.__name__}: unknown key(s) {', '.join(unknown)}; "
                           f"expected: {', '.join(sorted(known))}", path)
    values: dict[str, Any] = {}
    for info in field_infos(cls):
        where = (*path, *info.key.split("."))
        found, value = _lookup(data, info.key)
        if info.from_key:
            values[info.name] = key or ""
        elif found:
            values[info.name] = convert(info.annotation, value, where, info.meta)
        elif info.required:
            raise SettingError(f"{dotted(where)}: required", where)
    return cls(**values)


def dotted(path: tuple[str | int, ...]) -> str:
    """``("operators", "draft", 0)`` → ``operators.draft[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _lookup(data: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    """``(found, value)`` of a possibly dotted key in nested mappings."""
    current: Any = data
    for part in dotted.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


def convert(annotation: Any, value: Any, where: tuple[str | int, ...],
            meta: Mapping[str, Any] | None = None) -> Any:
    """``value`` converted to ``annotation`` (durations parsed, nested settings built, lists as
    tuples), bounds checked."""
    inner, nullable, duration = unwrap(annotation)
    if value is None:
        if nullable:
            return None
        raise SettingError(f"{dotted(where)}: must not be null", where)
    if duration:
        seconds = parse_duration(value)
        if seconds is None:
            raise SettingError(f"{dotted(where)}: {value!r} is not a duration (90, 90s, 30m, 4h, 1d, 1h30m)", where)
        _check_bounds(seconds, where, meta or {})
        return seconds
    if is_size(annotation):
        size = parse_size(value)
        if size is None:
            raise SettingError(f"{dotted(where)}: {value!r} is not a size (bytes, or 512m, 2g, 1.5GiB)", where)
        _check_bounds(size, where, meta or {})
        return size
    members = [m for m in union_members(inner) if m is not type(None)]
    if len(members) > 1:
        for member in members:
            if is_settings_class(member) and isinstance(value, Mapping):
                return build(member, value, path=where)
            if member in (str, int, float, bool) and _scalar_ok(member, value):
                return convert(member, value, where, meta)
            if is_sequence(member) and isinstance(value, list | tuple):
                return convert(member, value, where, meta)
        raise SettingError(f"{dotted(where)}: {value!r} does not fit {annotation}", where)
    if is_settings_class(inner):
        if not isinstance(value, Mapping):
            raise SettingError(f"{dotted(where)}: must be a mapping", where)
        return build(inner, value, path=where)
    options = literal_values(inner)
    if options is not None:
        if value not in options:
            raise SettingError(f"{dotted(where)}: {value!r} is not one of {', '.join(map(repr, options))}", where)
        return value
    origin = typing.get_origin(inner)
    if origin in (dict, Mapping) or inner is dict:
        args = typing.get_args(inner)
        if not isinstance(value, Mapping):
            raise SettingError(f"{dotted(where)}: must be a mapping", where)
        item = args[1] if len(args) == 2 else Any
        item_meta = (meta or {}).get("item")
        if is_settings_class(item):
            return {str(k): build(item, v, key=str(k), path=(*where, str(k))) for k, v in value.items()}
        return {str(k): v if item is Any else convert(item, v, (*where, str(k)), item_meta)
                for k, v in value.items()}
    if origin in (tuple, list) or inner in (tuple, list):
        if not isinstance(value, list | tuple):
            raise SettingError(f"{dotted(where)}: must be a list", where)
        args = typing.get_args(inner)
        item = args[0] if args else Any
        item_meta = (meta or {}).get("item")
        items = [v if item is Any else convert(item, v, (*where, i), item_meta) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple or inner is tuple else items
    if inner is Any:
        return value
    if inner in (str, int, float, bool):
        if not _scalar_ok(inner, value):
            raise SettingError(f"{dotted(where)}: expected {inner.__name__}, got {type(value).__name__}", where)
        result = float(value) if inner is float else value
        if inner in (int, float):
            _check_bounds(result, where, meta or {})
        return result
    raise TypeError(f"{where}: unsupported settings annotation {annotation!r}")


def _scalar_ok(kind: type, value: Any) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is int:
        return isinstance(value, int)
    if kind is float:
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, str)


def _check_bounds(value: float, where: tuple[str | int, ...], meta: Mapping[str, Any]) -> None:
    checks: tuple[tuple[str, Callable[[float], bool], str], ...] = (
        ("ge", lambda b: value >= b, "≥"), ("gt", lambda b: value > b, ">"),
        ("le", lambda b: value <= b, "≤"), ("lt", lambda b: value < b, "<"))
    for name, ok, symbol in checks:
        bound = meta.get(name)
        if bound is not None and not ok(bound):
            raise SettingError(f"{dotted(where)} must be {symbol} {bound} (got {value})", where,
                               hint=meta.get("doc"))


def dump(obj: Any) -> Any:
    """The data form of a settings object: YAML keys (dotted keys nested), nested settings dumped,
    tuples as lists. ``build(type(obj), dump(obj), key=...)`` gives ``obj`` back; fields filled
    from a mapping key are left out (the key holds them), and so are ``omit_default`` fields at
    their default (``build`` fills them back in)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for info in field_infos(type(obj)):
            if info.from_key:
                continue
            if info.meta.get("omit_default") and getattr(obj, info.name) == info.default:
                continue
            value = dump(getattr(obj, info.name))
            parts = info.key.split(".")
            target = out
            for part in parts[:-1]:
                target = target.setdefault(part, {})
            target[parts[-1]] = value
        return out
    if isinstance(obj, Mapping):
        return {str(k): dump(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return [dump(v) for v in obj]
    return obj
