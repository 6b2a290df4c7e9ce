"""The parts of a spec that passed the JSON Schema, for the semantic passes.

docs/spec-language.md promises every problem of a file in one run. A schema error used to
stop the compiler, hiding a bad expression or a missing prompt file elsewhere in the same spec
until the schema error was fixed. :func:`passed_parts` removes what the schema refused (the
smallest part whose removal leaves a document the schema accepts) so the semantic passes can
run on the rest, and lists what it removed: passes that relate parts to each other (roles bound
to operators, models named by operators) skip relations that involve a removed part, so one
schema error never gives a second, cascading error.

What is removed, for an error at a path:

- an unknown key: the key; a wrong value: the value (its default applies), a list item: the
  whole list;
- an object missing a required key: the object — except a model entry and a ``vars`` value,
  which keep their name (a placeholder stands in), so operators and expressions naming them do
  not cascade;
- a spec missing a required top-level section (``policy``, ``operators``...): nothing can stand
  in, so the spec is checked as if it were ``abstract`` (cross-references are not checked).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from aira_dsl.spec.yamlpos import Path

__all__ = ["passed_parts", "touches"]

_MAX_ROUNDS = 32
_PLACEHOLDER_MODEL = {"model": "(refused by the schema)"}


def _delete(data: Any, path: Path) -> bool:
    """Remove the value at ``path`` (a key of a mapping); False when there is nothing there."""
    node = data
    for part in path[:-1]:
        node = _get(node, (part,))
        if node is None:
            return False
    if isinstance(node, dict) and path and path[-1] in node:
        del node[path[-1]]
        return True
    return False


def _set(data: Any, path: Path, value: Any) -> bool:
    """Replace the value at ``path`` when it is still there (an earlier removal in the same
    round may have taken it, or its parent, out)."""
    parent = _get(data, path[:-1])
    if not isinstance(parent, dict) or path[-1] not in parent or parent[path[-1]] == value:
        return False
    parent[path[-1]] = value
    return True


def _removal(error_path: Path, validator: str, instance: Any, schema: Mapping[str, Any]) -> list[Path]:
    """The paths to take out for one schema error."""
    path = error_path
    # A list item: the whole list (its default applies; indices of later items stay meaningful).
    for index, part in enumerate(path):
        if isinstance(part, int):
            return [path[:index]]
    if validator == "additionalProperties" and isinstance(instance, dict):
        allowed = set(schema.get("properties", {}))
        return [(*path, key) for key in instance if key not in allowed]
    if validator == "propertyNames" and isinstance(instance, str):
        return [(*path, instance)]  # jsonschema reports the refused key as the instance
    return [path]


def passed_parts(data: dict[str, Any], validator: Any) -> tuple[dict[str, Any] | None, set[Path]]:
    """``data`` without what ``validator`` (a jsonschema validator) refuses, and the removed paths.

    Returns ``(None, removed)`` when nothing usable is left (the top level itself is refused).
    ``data`` is not modified.
    """
    repaired = copy.deepcopy(data)
    removed: set[Path] = set()
    for _ in range(_MAX_ROUNDS):
        errors = list(validator.iter_errors(repaired))
        if not errors:
            return repaired, removed
        progress = False
        for error in errors:
            error_path: Path = tuple(error.absolute_path)
            schema = error.schema if isinstance(error.schema, Mapping) else {}
            for path in _removal(error_path, str(error.validator), error.instance, schema):
                if not path:
                    if error.validator == "required" and isinstance(repaired, dict):
                        # A complete spec's section is missing: check it as an abstract spec.
                        for key in error.validator_value:
                            if key not in repaired:
                                removed.add((key,))
                        if repaired.get("abstract") is not True:
                            repaired["abstract"] = True
                            progress = True
                        if "version" not in repaired:
                            repaired["version"] = 1
                        if not isinstance(repaired.get("name"), str):
                            repaired["name"] = "spec"
                        continue
                    if error.validator == "additionalProperties":
                        continue
                    return None, removed | {()}
                if len(path) == 2 and path[0] in ("models", "vars") and error.validator != "propertyNames":
                    # Keep the name: operators and expressions that use it must not cascade.
                    stand_in = dict(_PLACEHOLDER_MODEL) if path[0] == "models" else None
                    progress = _set(repaired, path, stand_in) or progress
                    removed.add(path)
                    continue
                if _delete(repaired, path):
                    progress = True
                removed.add(path)
        if not progress:
            return None, removed | {()}
    return None, removed | {()}


def _get(data: Any, path: Path) -> Any:
    node = data
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def touches(removed: set[Path], *prefix: str | int) -> bool:
    """Whether anything at or under ``prefix``, or above it, was removed."""
    size = len(prefix)
    return any(path[:size] == prefix or prefix[: len(path)] == path for path in removed)
