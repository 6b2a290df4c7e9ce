"""Sample contexts per operator kind, and validation of user-supplied context files.

``aira-dsl render`` shows what a prompt will look like without running an agent; it needs a
realistic context (a sample shipped here, or a file the user wrote). A context file with a
missing or misspelt key would only fail deep inside rendering, so :func:`validate_context`
compares it with the declarations first and says which key is wrong and where.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from importlib import resources
from typing import Any

import yaml

from aira_dsl.templates.declarations import declared_variables, kind_names
from aira_dsl.templates.types import AnyType, Field, ListOf, Record, Scalar, StrMap, VarType, describe

__all__ = ["load_sample_context", "sample_context_text", "validate_context"]


def _sample_file(kind: str) -> Any:
    return resources.files("aira_dsl.templates").joinpath("samples", f"{kind}.yaml")


def sample_context_text(kind: str) -> str:
    """The commented YAML text of the sample context for ``kind``.

    Built-in kinds ship a hand-written sample; a registered kind without one gets a sample
    composed from them (see :func:`load_sample_context`), dumped as YAML.
    """
    if kind not in kind_names():
        raise KeyError(f"unknown operator kind {kind!r}; expected one of {', '.join(kind_names())}")
    sample = _sample_file(kind)
    if sample.is_file():
        return str(sample.read_text("utf-8"))
    return f"# composed sample context for the {kind} kind\n" + yaml.safe_dump(
        load_sample_context(kind), sort_keys=False, allow_unicode=True)


def load_sample_context(kind: str) -> dict[str, Any]:
    """The sample context for operator ``kind`` as a fresh dict (safe to modify).

    For a kind without a shipped sample: the common variables of the draft sample plus, for each
    variable the kind declares, the value of a shipped sample that has it, or (a variable declared
    for that kind alone) a placeholder built from its declared type, so a new kind renders with
    no sample of its own.
    """
    if kind not in kind_names():
        raise KeyError(f"unknown operator kind {kind!r}; expected one of {', '.join(kind_names())}")
    sample = _sample_file(kind)
    if sample.is_file():
        data = yaml.safe_load(sample.read_text("utf-8"))
        assert isinstance(data, dict)
        return data
    wanted = declared_variables(kind)
    composed = {name: value for name, value in load_sample_context("draft").items() if name in wanted}
    for other in kind_names():
        if other == kind or not _sample_file(other).is_file():
            continue
        for name, value in load_sample_context(other).items():
            if name in wanted:
                composed.setdefault(name, value)
    for name, declared in wanted.items():
        composed.setdefault(name, _placeholder(declared.type, name))
    return composed


def _placeholder(vtype: VarType, name: str) -> Any:
    """A value of type ``vtype`` (strings say which variable they stand for); it passes
    :func:`validate_context`, which is all a composed sample promises."""
    if isinstance(vtype, Scalar):
        return {"str": f"<{name}>", "int": 1, "number": 1.0, "bool": False}[vtype.kind]
    if isinstance(vtype, Record):
        return {f.name: _placeholder(f.type, f.name) for f in vtype.fields}
    if isinstance(vtype, ListOf):
        return [_placeholder(vtype.item, name)]
    if isinstance(vtype, StrMap):
        return {}
    return None


def _close(word: str, choices: Collection[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _check_scalar(value: Any, scalar: Scalar) -> bool:
    if scalar.kind == "str":
        return isinstance(value, str)
    if scalar.kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if scalar.kind == "int" else isinstance(value, int | float)


def _check_value(value: Any, declared: Field, path: str, var_names: Collection[str],
                 problems: list[str]) -> None:
    if value is None:
        if not declared.nullable:
            problems.append(f"{path}: must not be null (expected {describe(declared.type)})")
        return
    _check_type(value, declared.type, path, var_names, problems)


def _check_type(value: Any, vtype: VarType, path: str, var_names: Collection[str],
                problems: list[str]) -> None:
    if isinstance(vtype, AnyType):
        return
    if isinstance(vtype, Scalar):
        if not _check_scalar(value, vtype):
            problems.append(f"{path}: expected {describe(vtype)}, got {type(value).__name__} {value!r:.40}")
    elif isinstance(vtype, ListOf):
        if not isinstance(value, list):
            problems.append(f"{path}: expected {describe(vtype)}, got {type(value).__name__}")
            return
        for index, item in enumerate(value):
            _check_type(item, vtype.item, f"{path}[{index}]", var_names, problems)
    elif isinstance(vtype, Record):
        _check_mapping(value, {f.name: f for f in vtype.fields}, path, var_names, problems)
    elif isinstance(vtype, StrMap):
        if not isinstance(value, Mapping):
            problems.append(f"{path}: expected a mapping, got {type(value).__name__}")
            return
        for key in value:
            if key not in var_names:
                problems.append(f"{path}: unknown key {key!r}{_close(str(key), var_names)}; "
                                f"the spec declares: {', '.join(sorted(var_names)) or '(none)'}")
        for key in sorted(set(var_names) - set(value)):
            problems.append(f"{path}: missing key {key!r} declared by the spec")


def _check_mapping(value: Any, fields: Mapping[str, Field], path: str, var_names: Collection[str],
                   problems: list[str]) -> None:
    prefix = f"{path}." if path else ""
    if not isinstance(value, Mapping):
        problems.append(f"{path or 'context'}: expected a mapping with keys {', '.join(fields)}, "
                        f"got {type(value).__name__}")
        return
    for key in value:
        if key not in fields:
            problems.append(f"{prefix}{key}: unknown key{_close(str(key), fields)}")
    for name, declared in fields.items():
        if name not in value:
            problems.append(f"{prefix}{name}: missing ({declared.doc})")
        else:
            _check_value(value[name], declared, f"{prefix}{name}", var_names, problems)


def validate_context(context: Any, kind: str, var_names: Collection[str] = ()) -> list[str]:
    """Problems of a context for a ``kind`` template: missing, unknown or mistyped keys.

    Top-level keys are checked against the kind's declared variables, nested records against
    their fields, and ``vars`` against ``var_names`` (the spec's vars). Each problem is one
    line starting with the dotted path of the value (``task.metric.direction: missing``).
    An empty list means the context has exactly the declared shape.
    """
    if kind not in kind_names():
        return [f"unknown operator kind {kind!r}; expected one of {', '.join(kind_names())}"]
    problems: list[str] = []
    _check_mapping(context, dict(declared_variables(kind)), "", var_names, problems)
    return problems
