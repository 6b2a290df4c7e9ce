"""Hover: a spec field's documentation, a template variable's declared type, an expression name's type.

Every text shown comes from the declarations the checks use: field documentation from the JSON
Schemas (generated from the typed settings), template variables from
``templates/declarations.py``, expression names from ``expr/contexts.py``, operator kinds from
the kind table. Nothing is restated here, so hover cannot disagree with ``validate``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lsprotocol import types

from aira_dsl.lsp.analysis import Analyzer, is_template
from aira_dsl.lsp.convert import TextLines
from aira_dsl.lsp.jinjacursor import chain_at, include_at, loop_variables, resolve
from aira_dsl.lsp.schemadoc import describe, lookup, schema_for_kind
from aira_dsl.lsp.targets import (
    expression_field,
    operator_kind,
    prompt_operator,
    spec_data,
    template_kinds,
    template_variables,
)
from aira_dsl.lsp.yamlcursor import cursor_at, word_at

__all__ = ["hover"]


def _markdown(text: str, lines: TextLines, line: int, start: int, end: int) -> types.Hover:
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                       range=lines.range(line, start, line, end))


def template_hover(chain: tuple[str, ...], kinds: list[str], before: str) -> str | None:
    """Markdown for a template variable (or one of its fields): declared type and meaning."""
    from aira_dsl.templates.types import describe as describe_type

    if not chain:
        return None
    field = resolve(chain, template_variables(kinds), loop_variables(before))
    if field is None:
        return None
    shown = describe_type(field.type, field.nullable)
    who = f"{', '.join(kinds)} templates" if kinds else "templates of every operator kind"
    return f"**`{'.'.join(chain)}`**: {shown}\n\n{field.doc}\n\n_declared for {who}_"


def _expression_hover(field_name: str, chain: tuple[str, ...], data: Mapping[str, Any] | None) -> str | None:
    from aira_dsl.expr.contexts import build_context
    from aira_dsl.expr.types import FieldInfo, OpenRecordType, RecordType, render, strip_null

    policy = (data or {}).get("policy")
    spec_vars = (data or {}).get("vars")
    try:
        current: Any = build_context(field_name, policy if isinstance(policy, Mapping) else None,
                                     spec_vars if isinstance(spec_vars, Mapping) else None)
    except (ValueError, TypeError):
        return None
    info = None
    for name in chain:
        base = strip_null(current)
        if isinstance(base, RecordType):
            info = base.get(name)
        elif isinstance(base, OpenRecordType):
            info = FieldInfo(name, base.value, base.description)
        else:
            return None
        if info is None:
            return None
        current = info.type
    if info is None:
        return None
    return f"**`{'.'.join(chain)}`**: `{render(info.type)}`\n\n{info.description}\n\n_in `{field_name}` expressions_"


def _value_note(path: tuple[str | int, ...], value: str, data: Mapping[str, Any] | None, info: Any) -> str | None:
    """What a value refers to: an operator kind, a policy kind, a model entry, an operator."""
    from aira_dsl.kinds import get_kind, kind_names

    if len(path) == 3 and path[0] == "operators" and path[2] == "kind" and value in kind_names():
        return f"`{value}`: {get_kind(value).description}"
    if path == ("policy", "kind"):
        text = info.const_description(value)
        return f"`{value}`: {text}" if text else None
    models = (data or {}).get("models")
    if len(path) == 3 and path[0] == "operators" and path[2] == "model" and isinstance(models, Mapping):
        model = models.get(value)
        if isinstance(model, Mapping):
            return f"model entry `{value}`: " + ", ".join(f"{k}: {json.dumps(v)}" for k, v in model.items())
    operators = (data or {}).get("operators")
    if len(path) == 3 and path[:2] == ("policy", "use") and isinstance(operators, Mapping):
        operator = operators.get(value)
        if isinstance(operator, Mapping):
            return f"operator `{value}`: kind {operator.get('kind')}, model {operator.get('model')}"
    return None


def hover(analyzer: Analyzer, key: str, lines: TextLines, line: int, char: int) -> types.Hover | None:
    """The hover for position (``line``, ``char``) of document ``key`` (code points)."""
    from aira_dsl.spec.schema_check import dotted

    current = lines.lines[line] if 0 <= line < len(lines.lines) else ""
    word, start, end = word_at(current, char)
    before = "\n".join([*lines.lines[:line], current[:char]])
    if is_template(key):
        name = include_at(current, char)
        if name is not None:
            return _markdown(f"template `{name}` (go to definition opens it)", lines, line, start, end)
        text = template_hover(chain_at(current, char), template_kinds(analyzer, key), before)
        return _markdown(text, lines, line, start, end) if text else None
    result = analyzer.result(key)
    kind = result.kind if result is not None else None
    text_cursor = cursor_at("\n".join(lines.lines), line, char)
    data = spec_data(analyzer, key) if kind == "spec" else None
    path = text_cursor.path
    if kind == "spec" and text_cursor.in_block:
        operator = prompt_operator(path)
        if operator is None:
            return None
        found_kind = operator_kind(data, operator)
        text = template_hover(chain_at(current, char), [found_kind] if found_kind else [], before)
        return _markdown(text, lines, line, start, end) if text else None
    field_name = expression_field(path) if kind == "spec" and not text_cursor.on_key else None
    if field_name is not None:
        text = _expression_hover(field_name, chain_at(current, char), data)
        return _markdown(text, lines, line, start, end) if text else None
    schema = schema_for_kind(kind)
    if schema is None or not word or not path:
        return None
    info = lookup(schema, path, data)
    parts = [f"**`{dotted(path)}`**" + (f" — {describe(info)}" if describe(info) else "")]
    if info.description:
        parts.append(info.description)
    if not text_cursor.on_key and text_cursor.value:
        note = _value_note(path, text_cursor.value, data, info)
        if note:
            parts.append(note)
    if len(parts) == 1 and not info.nodes:
        return None
    return _markdown("\n\n".join(parts), lines, line, start, end)
