"""Completion: keys and values of specs, operator and model names, template variables, expression names.

What is offered is what the checks accept: keys and enumerated values from the JSON Schemas
(policy parameters follow ``policy.kind``), operator and model names from the spec merged with
its bases, template variables from the declarations of the operator kinds that use the
template, expression names from the expression contexts. Values replace the whole word under
the cursor, so accepting ``coder`` over ``co`` leaves ``coder``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types

from aira_dsl.lsp.analysis import Analyzer, is_template
from aira_dsl.lsp.convert import TextLines
from aira_dsl.lsp.jinjacursor import fields_of, resolve, template_cursor
from aira_dsl.lsp.schemadoc import lookup, schema_for_kind
from aira_dsl.lsp.targets import (
    expression_field,
    operator_kind,
    prompt_operator,
    spec_data,
    template_kinds,
    template_var_names,
    template_variables,
)
from aira_dsl.lsp.yamlcursor import YamlCursor, cursor_at

__all__ = ["TRIGGER_CHARACTERS", "completion"]

TRIGGER_CHARACTERS = [".", "|", " ", ":"]
_CHAIN = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)?(\.?)(\w*)$")
_MAX_FILES = 300
_Kind = types.CompletionItemKind


def _item(label: str, kind: types.CompletionItemKind, detail: str | None = None, doc: str | None = None,
          insert: str | None = None, edit: types.TextEdit | None = None) -> types.CompletionItem:
    return types.CompletionItem(
        label=label, kind=kind, detail=detail,
        documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=doc) if doc else None,
        insert_text=insert if edit is None else None, text_edit=edit)


def template_items(before: str, kinds: list[str], var_names: Iterable[str]) -> list[types.CompletionItem]:
    """Variables, fields or filters for a cursor inside ``{{ }}`` / ``{% %}``."""
    from aira_dsl.templates.types import describe

    cursor = template_cursor(before)
    if cursor is None:
        return []
    if cursor.filter:
        from aira_dsl.templates import PromptEnvironment

        return [_item(name, _Kind.Function, "filter", (getattr(fn, "__doc__", None) or "").strip().split("\n\n")[0]
                      or None) for name, fn in sorted(PromptEnvironment().filters.items())]
    variables = template_variables(kinds)
    if not cursor.chain:
        items = [_item(name, _Kind.Variable, describe(field.type, field.nullable), field.doc)
                 for name, field in variables.items()]
        items += [_item(name, _Kind.Variable, "loop variable", f"each item of `{'.'.join(chain)}`")
                  for name, chain in cursor.loops.items() if name not in variables]
        return items
    field = resolve(cursor.chain, variables, cursor.loops)
    if field is None:
        return []
    return [_item(f.name, _Kind.Field, describe(f.type, f.nullable), f.doc)
            for f in fields_of(field.type, var_names)]


def _expression_items(field_name: str, typed: str, data: Mapping[str, Any] | None) -> list[types.CompletionItem]:
    from aira_dsl.expr.contexts import build_context
    from aira_dsl.expr.functions import FUNCTIONS
    from aira_dsl.expr.types import RecordType, render, strip_null

    policy, spec_vars = (data or {}).get("policy"), (data or {}).get("vars")
    try:
        current: Any = build_context(field_name, policy if isinstance(policy, Mapping) else None,
                                     spec_vars if isinstance(spec_vars, Mapping) else None)
    except (ValueError, TypeError):
        return []
    match = _CHAIN.search(typed)
    chain_text = (match.group(1) or "") if match else ""
    if match and chain_text and not match.group(2):
        chain_text = chain_text.rsplit(".", 1)[0] if "." in chain_text else ""
    for name in (chain_text.split(".") if chain_text else []):
        base = strip_null(current)
        info = base.get(name) if isinstance(base, RecordType) else None
        if info is None:
            return []
        current = info.type
    base = strip_null(current)
    if not isinstance(base, RecordType):  # an open record (reported.*) names nothing in advance
        return []
    items = [_item(info.name, _Kind.Field if chain_text else _Kind.Variable, render(info.type), info.description)
             for info in base.fields]
    if not chain_text:
        items += [_item(spec.name, _Kind.Function, spec.signature, f"{spec.description} (returns {spec.returns})")
                  for spec in FUNCTIONS.values()]
    return items


def _names(data: Mapping[str, Any] | None, section: str) -> list[str]:
    found = (data or {}).get(section)
    return list(found) if isinstance(found, Mapping) else []


def _files(folder: Path, pattern: str, exclude: str | None = None) -> list[str]:
    found = []
    for path in sorted(folder.glob(pattern))[:_MAX_FILES]:
        if path.is_file() and str(path.resolve()) != exclude:
            found.append(path)
    return [os.path.relpath(p, folder) for p in found]


def _prompt_files(spec: Path) -> list[str]:
    from aira_dsl.compiler.checks import find_prompt_roots

    names: list[str] = []
    for root in find_prompt_roots(spec):
        for path in sorted(Path(root).rglob("*.j2"))[:_MAX_FILES]:
            names.append(os.path.relpath(path.resolve(), spec.parent.resolve()))
    return list(dict.fromkeys(names))


def _value_items(cursor: YamlCursor, key: str, data: Mapping[str, Any] | None,
                 info: Any) -> list[tuple[str, types.CompletionItemKind, str | None, str | None]]:
    """(label, kind, detail, documentation) of the values that fit the path at the cursor."""
    from aira_dsl.kinds import get_kind, kind_names

    path = cursor.path
    if len(path) == 3 and path[0] == "operators" and path[2] == "model":
        models = (data or {}).get("models") or {}
        return [(name, _Kind.Reference, "model entry", json.dumps(models.get(name))) for name in _names(data, "models")]
    if len(path) == 3 and path[:2] == ("policy", "use"):
        role = str(path[2])
        names = _names(data, "operators")
        fitting = [n for n in names if (kind := operator_kind(data, n)) in kind_names()
                   and role in get_kind(kind).roles]
        return [(n, _Kind.Reference, f"operator ({operator_kind(data, n)})", None)
                for n in [*fitting, *(n for n in names if n not in fitting)]]
    if len(path) == 3 and path[0] == "operators" and path[2] == "kind":
        return [(name, _Kind.EnumMember, "operator kind", get_kind(name).description) for name in kind_names()]
    if path == ("extends",):
        return [(name, _Kind.File, "base spec", None) for name in _files(Path(key).parent, "*.y*ml", key)]
    if prompt_operator(path) is not None and not cursor.in_block:
        return [(name, _Kind.File, "prompt template", None) for name in _prompt_files(Path(key))]
    return [(json.dumps(v) if not isinstance(v, str) else v, _Kind.Value, None, info.const_description(v))
            for v in info.values()]


def completion(analyzer: Analyzer, key: str, lines: TextLines, line: int, char: int) -> types.CompletionList:
    """The completions at position (``line``, ``char``) of document ``key`` (code points)."""
    current = lines.lines[line] if 0 <= line < len(lines.lines) else ""
    before = "\n".join([*lines.lines[:line], current[:char]])
    items: list[types.CompletionItem] = []
    if is_template(key):
        items = template_items(before, template_kinds(analyzer, key), template_var_names(analyzer, key))
        return types.CompletionList(is_incomplete=False, items=items)
    result = analyzer.result(key)
    kind = result.kind if result is not None else None
    cursor = cursor_at("\n".join(lines.lines), line, char)
    data = spec_data(analyzer, key) if kind == "spec" else None
    if kind == "spec" and cursor.in_block:
        operator = prompt_operator(cursor.path)
        if operator is not None:
            found = operator_kind(data, operator)
            spec_vars = (data or {}).get("vars")
            items = template_items(before, [found] if found else [],
                                   list(spec_vars) if isinstance(spec_vars, Mapping) else [])
        return types.CompletionList(is_incomplete=False, items=items)
    field_name = expression_field(cursor.path) if kind == "spec" and not cursor.on_key else None
    if field_name is not None:
        return types.CompletionList(is_incomplete=False, items=_expression_items(field_name, cursor.prefix, data))
    schema = schema_for_kind(kind)
    if schema is None:
        return types.CompletionList(is_incomplete=False, items=[])
    if cursor.on_key:
        keys = lookup(schema, cursor.parent, data).keys()
        items = [_item(name, _Kind.Property, None, sub.description, insert=f"{name}: ")
                 for name, sub in keys.items() if name not in cursor.siblings and not name.startswith("$")]
        return types.CompletionList(is_incomplete=False, items=items)
    info = lookup(schema, cursor.path, data)
    edit_range = None
    if cursor.value_range is not None:
        number, start, end = cursor.value_range
        edit_range = lines.range(number, start, number, max(end, char if number == line else end))
    for label, item_kind, detail, doc in _value_items(cursor, key, data, info):
        edit = types.TextEdit(range=edit_range, new_text=label) if edit_range is not None else None
        items.append(_item(label, item_kind, detail, doc, insert=label, edit=edit))
    return types.CompletionList(is_incomplete=False, items=items)
