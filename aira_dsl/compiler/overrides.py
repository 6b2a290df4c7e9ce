"""``--set path=value`` overrides, applied to the merged spec before any check.

Values are read as YAML scalars or flow collections (``3``, ``0.5``, ``true``, ``[a, b]``,
``{scope: none}``), so an override is type-checked by the same schema as the file. Problems
are reported against the ``--set`` argument itself; numbers follow the same limits as in a
file (:func:`~aira_dsl.spec.yamlpos.number_problem`).
"""

from __future__ import annotations

from typing import Any, cast

import yaml

from aira_dsl.diagnostics import Diagnostic
from aira_dsl.spec.yamlpos import Path, Span, YamlDocument, integer_too_large, number_problem

__all__ = ["Override", "apply_overrides", "parse_override"]


class Override:
    """One parsed ``--set`` argument (or one value of the ``--model``/``-M`` sugar, which names its
    own ``origin`` so problems quote what the user typed)."""

    def __init__(self, text: str, path: Path, value: Any, origin: str = "--set"):
        self.text = text
        self.path = path
        self.value = value
        self.origin = origin


def parse_override(text: str, *, origin: str = "--set", shown: str | None = None) -> Override | Diagnostic:
    """Parse ``a.b.c=value``; list items are addressed by index (``complexity.0.cue=...``).

    ``origin`` and ``shown`` (default ``text``) are how messages quote the argument.
    """
    shown = text if shown is None else shown
    where = f"{origin} {shown if len(shown) <= 80 else shown[:77] + '...'}"  # one screen, whatever was typed
    if "=" not in text:
        return Diagnostic("bad-override", f"{where}: expected PATH=VALUE, e.g. policy.num_drafts=3")
    key, raw = text.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p for p in parts):
        return Diagnostic("bad-override", f"{where}: '{key}' is not a dotted path",
                          hint="write the path to a field, e.g. policy.num_drafts=3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        return Diagnostic("bad-override", f"{where}: the value is not valid YAML ({exc.__class__.__name__})",
                          hint="quote text values: --set 'name=\"x: y\"'")
    except ValueError:  # an integer past Python's digit limit: the same refusal as in a file
        return Diagnostic("number-too-large", f"{where}: {integer_too_large(sum(c.isdigit() for c in raw))}",
                          hint="quote the value if it is meant as text: --set 'name=\"123...\"'")
    except RecursionError:
        return Diagnostic("bad-override", f"{where}: the value is nested too deeply",
                          hint="write nested settings as several --set PATH=VALUE arguments")
    if isinstance(value, float) and value != value:
        value = raw.strip()  # `.nan` stays text, as in a file
    if _contains_itself(value):
        return Diagnostic("bad-override", f"{where}: the value refers to itself (a YAML alias inside its anchor)",
                          hint="write the value out; --set takes plain YAML values")
    problem = number_problem(value)
    if problem is not None:
        return Diagnostic("number-too-large", f"{where}: {problem}",
                          hint="quote the value if it is meant as text: --set 'name=\"123...\"'")
    path: Path = tuple(int(p) if p.isdigit() else p for p in parts)
    return Override(shown, path, value, origin)


def _contains_itself(value: Any) -> bool:
    """Whether a loaded value holds itself (``&a [*a]``): every later step would recurse forever."""
    def walk(item: Any, active: frozenset[int]) -> bool:
        if not isinstance(item, (dict, list)):
            return False
        if id(item) in active:
            return True
        inner = active | {id(item)}
        return any(walk(child, inner) for child in (item.values() if isinstance(item, dict) else item))

    try:
        return walk(value, frozenset())
    except RecursionError:
        return True


def _synthetic(where: str) -> Span:
    return Span(file=where, line=0, col=0, end_line=0, end_col=0)


def _record(doc: YamlDocument, path: Path, value: Any, span: Span) -> None:
    for table in (doc.spans, doc.key_spans, doc.scalars):
        for p in [p for p in table if p[: len(path)] == path]:
            del table[p]
    doc.spans[path] = span
    doc.key_spans[path] = span
    if isinstance(value, dict):
        for k, v in value.items():
            _record(doc, (*path, k), v, span)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _record(doc, (*path, i), v, span)


def apply_overrides(doc: YamlDocument, overrides: list[Override]) -> list[Diagnostic]:
    """Set each override's value in ``doc.data`` (creating mappings on the way)."""
    problems: list[Diagnostic] = []
    for override in overrides:
        node: Any = doc.data
        where = f"{override.origin} {override.text}"
        ok = True
        for index, part in enumerate(override.path[:-1]):
            nxt = node[part] if isinstance(node, dict) and part in node else (
                node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None)
            if nxt is None:
                if isinstance(node, dict):
                    node[part] = {}
                    nxt = node[part]
                else:
                    shown = ".".join(map(str, override.path[: index + 1]))
                    problems.append(Diagnostic("bad-override", f"{where}: '{shown}' is not a mapping or list"))
                    ok = False
                    break
            node = nxt
        if not ok:
            continue
        last = override.path[-1]
        settable = isinstance(node, dict) or (isinstance(node, list) and isinstance(last, int) and last < len(node))
        if not settable:
            problems.append(Diagnostic("bad-override", f"{where}: cannot set '{last}' there"))
            continue
        cast(Any, node)[last] = override.value
        _record(doc, override.path, override.value, _synthetic(where))
    return problems
