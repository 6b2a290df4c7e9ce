"""JSON Schema validation that speaks the user's language.

jsonschema's raw messages ("Additional properties are not allowed ('modle' was unexpected)")
are rewritten into positioned diagnostics with "did you mean" hints, and the YAML 1.1 trap
(``no`` read as ``false``) is explained where a string was expected.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from aira_dsl.diagnostics import Diagnostic
from aira_dsl.spec.yamlpos import YAML11_BOOLEANS, Path, YamlDocument

__all__ = ["compiled_validator", "did_you_mean", "dotted", "load_packaged_schema", "schema_diagnostics"]


@cache
def load_packaged_schema(name: str) -> dict[str, Any]:
    """A schema shipped in ``aira_dsl/schemas`` (byte-identical to the copy in ``schema/``)."""
    text = resources.files("aira_dsl.schemas").joinpath(name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


_VALIDATORS: dict[int, tuple[Mapping[str, Any], jsonschema.Draft202012Validator]] = {}


def compiled_validator(schema: Mapping[str, Any]) -> jsonschema.Draft202012Validator:
    """One compiled validator per schema object (building one costs more than validating)."""
    entry = _VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = (schema, jsonschema.Draft202012Validator(schema))
        _VALIDATORS[id(schema)] = entry
    return entry[1]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest choice to a misspelt word, or None when nothing is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def dotted(path: Path) -> str:
    """``("operators", "draft", 0)`` → ``operators.draft[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the top level"


_TYPE_NAMES = {"object": "a mapping", "array": "a list", "string": "text", "integer": "a whole number",
               "number": "a number", "boolean": "true or false", "null": "null"}


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _other_policy_hint(key: str, kind: str) -> str | None:
    """Say which policy kinds take ``key`` when the spec's own kind does not (e.g. ``expansion``
    is an MCTS parameter, so on a greedy policy "allowed keys: ..." alone would not explain it)."""
    from dataclasses import fields

    from aira_dsl.search.policy import PARAMS

    owners = [name for name, cls in PARAMS.items() if name != kind and key in {f.name for f in fields(cls)}]
    if not owners or kind not in PARAMS:
        return None
    which = " and ".join(f"'{o}'" for o in owners)
    return (f"'{key}' is a parameter of policy kind {which}, not of '{kind}'; "
            f"remove it or change policy.kind")


def _convert(doc: YamlDocument, error: ValidationError) -> list[Diagnostic]:
    path: Path = tuple(error.absolute_path)
    where = dotted(path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    kind = error.validator
    instance = error.instance

    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = list(schema.get("properties", {}))
        extras = [k for k in instance if k not in allowed]
        out = []
        for extra in extras:
            guess = did_you_mean(str(extra), allowed)
            hint = f"did you mean '{guess}'?" if guess else (
                "allowed keys: " + ", ".join(allowed) if allowed else None)
            if path == ("policy",) and isinstance(instance.get("kind"), str):
                hint = _other_policy_hint(str(extra), instance["kind"]) or hint
            out.append(doc.diagnostic("unknown-key", f"unknown key '{extra}' in {where}",
                                      (*path, extra), hint=hint, on_key=True))
        return out
    if kind == "required" and isinstance(instance, dict):
        out = []
        for name in error.validator_value:
            if name not in instance:
                desc = schema.get("properties", {}).get(name, {}).get("description")
                on_key = bool(path)
                out.append(doc.diagnostic("missing-key", f"missing required key '{name}' in {where}",
                                          path, hint=desc, on_key=on_key))
        return out
    if kind == "propertyNames":
        return [doc.diagnostic("invalid-name", f"{error.message} in {where}", path)]
    if kind == "pattern" and len(path) >= 1 and isinstance(instance, str):
        # A key name failing propertyNames: error.absolute_path points at the object; handled
        # above. Here it is a value.
        desc = schema.get("description")
        return [doc.diagnostic("invalid-value", f"{where}: '{instance}' is not of the expected form",
                               path, hint=desc)]
    if kind == "type":
        expected = error.validator_value
        expected_list = expected if isinstance(expected, list) else [expected]
        names = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in expected_list)
        hint = schema.get("description")
        info = doc.scalars.get(path)
        if isinstance(instance, bool) and "string" in expected_list and info and info.raw in YAML11_BOOLEANS:
            hint = (f"YAML reads unquoted {info.raw} as a boolean; write '{info.raw}' in quotes "
                    "if you mean the text")
        return [doc.diagnostic("wrong-type", f"{where} must be {names}, not {_type_of(instance)}",
                               path, hint=hint)]
    if kind in ("enum", "const"):
        options = error.validator_value if kind == "enum" else [error.validator_value]
        shown = ", ".join(json.dumps(o) for o in options)
        guess = did_you_mean(str(instance), [str(o) for o in options]) if isinstance(instance, str) else None
        hint = f"did you mean '{guess}'?" if guess else schema.get("description")
        info = doc.scalars.get(path)
        if isinstance(instance, bool) and info and info.raw in YAML11_BOOLEANS:
            hint = f"YAML reads unquoted {info.raw} as a boolean; quote it: '{info.raw}'"
        return [doc.diagnostic("invalid-value",
                               f"{where} is {json.dumps(instance)}; expected one of: {shown}"
                               if kind == "enum" else f"{where} must be {shown}", path, hint=hint)]
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        symbol = {"minimum": "≥", "maximum": "≤", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[kind]
        return [doc.diagnostic("out-of-range",
                               f"{where} must be {symbol} {error.validator_value} (got {instance})",
                               path, hint=schema.get("description"))]
    if kind in ("minLength", "minProperties", "minItems"):
        return [doc.diagnostic("empty-value", f"{where} must not be empty", path,
                               hint=schema.get("description"))]
    if kind == "maxLength":
        return [doc.diagnostic("invalid-value", f"{where} is longer than {error.validator_value} characters",
                               path)]
    return [doc.diagnostic("schema", f"{where}: {error.message}", path, hint=schema.get("description"))]


def schema_diagnostics(doc: YamlDocument, schema: Mapping[str, Any], data: Any = None) -> list[Diagnostic]:
    """Validate ``doc.data`` (or ``data``, a view of it) against ``schema``; readable, positioned
    diagnostics, sorted."""
    validator = compiled_validator(schema)
    found: list[Diagnostic] = []
    for error in validator.iter_errors(doc.data if data is None else data):
        found.extend(_convert(doc, error))
    # propertyNames errors repeat per offending key; a required key is required both by an
    # object's own schema and by the "complete spec" conditional: keep one finding per position
    # and message (the first with a hint).
    best: dict[tuple[object, ...], Diagnostic] = {}
    for diag in found:
        key = (diag.code, diag.file, diag.line, diag.col, diag.message)
        if key not in best or (best[key].hint is None and diag.hint is not None):
            best[key] = diag
    unique = list(best.values())
    # A number refused while loading (number-too-large) is kept as text: its wrong type is the
    # same mistake, already reported at that position.
    refused = {(d.file, d.line, d.col) for d in doc.diagnostics if d.code == "number-too-large"}
    unique = [d for d in unique if (d.file, d.line, d.col) not in refused]
    return sorted(unique, key=Diagnostic.sort_key)
