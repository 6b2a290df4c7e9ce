"""Markdown reference of the expression fields, contexts and functions, generated from the data.

``docs/expressions.md`` embeds these tables between ``<!-- BEGIN GENERATED: name -->`` and
``<!-- END GENERATED: name -->`` markers (see :mod:`aira_dsl.expr.docgen`), so the page cannot
drift from what the checker actually accepts.
"""

from __future__ import annotations

from aira_dsl.expr.contexts import CONTEXTS, FIELDS
from aira_dsl.expr.functions import FUNCTIONS
from aira_dsl.expr.types import AnyType, OpenRecordType, RecordType, Type, render

__all__ = ["describe_fields", "describe_functions", "generated_blocks"]


def _code(t: Type) -> str:
    # A '|' inside a table cell must be escaped, even within backticks.
    return "`" + render(t).replace("|", "\\|") + "`"


def _context_rows(name: str) -> list[str]:
    rows: list[str] = []
    for entry in CONTEXTS[name].entries:
        t = entry.type
        if isinstance(t, OpenRecordType):
            key = "parameter" if entry.name == "policy" else "name"
            type_text = "from the spec" if isinstance(t.value, AnyType) else _code(t.value)
            rows.append(f"| `{entry.name}.<{key}>` | {type_text} | {entry.description} |")
        elif isinstance(t, RecordType):
            rows.append(f"| `{entry.name}` | record | {entry.description} |")
            rows.extend(f"| `{entry.name}.{f.name}` | {_code(f.type)} | {f.description} |"
                        for f in t.fields)
        else:
            rows.append(f"| `{entry.name}` | {_code(t)} | {entry.description} |")
    return rows


def describe_fields() -> str:
    """The fields that hold expressions, their result types and every context's names."""
    lines = ["| field | context | result | meaning |", "| --- | --- | --- | --- |"]
    for spec in FIELDS.values():
        scope = spec.context + "".join(f", without `{n}`" for n in spec.excluded)
        lines.append(f"| `{spec.name}` | {scope} | {_code(spec.result)} | {spec.description} |")
    for context_name, context in CONTEXTS.items():
        about = context.description
        lines += ["", f"#### Context `{context_name}`", "", f"{about[0].upper()}{about[1:]}.", "",
                  "| name | type | meaning |", "| --- | --- | --- |", *_context_rows(context_name)]
    return "\n".join(lines) + "\n"


def describe_functions() -> str:
    """The allow-listed functions with their arity, argument and result types."""
    lines = ["| function | arguments | result | meaning |", "| --- | --- | --- | --- |"]
    for spec in FUNCTIONS.values():
        returns = spec.returns.replace("|", "\\|")
        lines.append(f"| `{spec.signature}` | {spec.arity_text()}: {spec.arguments} | "
                     f"{returns} | {spec.description} |")
    return "\n".join(lines) + "\n"


def generated_blocks() -> dict[str, str]:
    """Block name -> generated markdown, as embedded in docs/expressions.md."""
    return {"fields": describe_fields(), "functions": describe_functions()}
