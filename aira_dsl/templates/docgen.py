"""Markdown reference of the template variables, generated from the declarations.

``docs/templates.md`` embeds this text between two marker comments; a test fails when the
embedded copy differs from the declarations, and running this module rewrites it::

    python -m aira_dsl.templates.docgen docs/templates.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from aira_dsl.templates.declarations import COMMON_VARIABLES, declared_variables, kind_names
from aira_dsl.templates.types import Field, ListOf, Record, describe

__all__ = ["BEGIN_MARKER", "END_MARKER", "update_markdown", "variables_markdown"]

BEGIN_MARKER = "<!-- BEGIN GENERATED: template variables (python -m aira_dsl.templates.docgen) -->"
END_MARKER = "<!-- END GENERATED: template variables -->"


def _rows(fields: tuple[Field, ...] | list[Field], prefix: str = "") -> list[str]:
    rows = []
    for item in fields:
        name = f"{prefix}{item.name}"
        rows.append(f"| `{name}` | {describe(item.type, item.nullable)} | {item.doc} |")
        inner = item.type.item if isinstance(item.type, ListOf) else item.type
        if isinstance(inner, Record):
            sub = f"{name}[]." if isinstance(item.type, ListOf) else f"{name}."
            rows.extend(_rows(inner.fields, sub))
    return rows


def variables_markdown() -> str:
    """The variables reference: which kinds get which variables, then every field with its type."""
    common = {f.name for f in COMMON_VARIABLES}
    lines = ["| kind | variables |", "| --- | --- |"]
    for kind in kind_names():
        names = list(declared_variables(kind))
        extra = [n for n in names if n not in common]
        shown = ", ".join(f"`{n}`" for n in extra)
        lines.append(f"| `{kind}` | the common variables{', plus ' + shown if shown else ''} |")
    lines += ["", "Common variables (every kind):", "", "| name | type | meaning |", "| --- | --- | --- |"]
    lines += _rows(list(COMMON_VARIABLES))
    seen: set[str] = set(common)
    for kind in kind_names():
        extra_fields = [f for f in declared_variables(kind).values() if f.name not in seen]
        if not extra_fields:
            continue
        seen.update(f.name for f in extra_fields)
        users = [k for k in kind_names() if extra_fields[0].name in declared_variables(k)]
        lines += ["", f"Only in {', '.join(f'`{k}`' for k in users)}:", "",
                  "| name | type | meaning |", "| --- | --- | --- |"]
        lines += _rows(extra_fields)
    return "\n".join(lines) + "\n"


def update_markdown(text: str) -> str:
    """``text`` with the generated section between the markers replaced by the current one."""
    start = text.index(BEGIN_MARKER) + len(BEGIN_MARKER)
    end = text.index(END_MARKER)
    return text[:start] + "\n" + variables_markdown() + text[end:]


def main(argv: list[str]) -> int:
    """Rewrite the generated section of each markdown file named in ``argv``."""
    for name in argv:
        path = Path(name)
        path.write_text(update_markdown(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
