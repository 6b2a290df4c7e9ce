"""Generate the key references of docs/sandbox.md, docs/tasks.md and docs/sweeps.md from the schemas.

The schemas are themselves generated from the settings declarations (``python -m
aira_dsl.schemagen``), so every key's type, range, default and description is written once, in the
code, and editors show the same text on hover. Each doc holds its reference between two markers;
this module rewrites what lies between them and a test fails when a doc has drifted::

    python -m aira_dsl.schemagen.reference            # rewrite the three docs
    python -m aira_dsl.schemagen.reference --check    # exit 1 if one is stale

One table per mapping: the document's top level, then every nested section (``limits``,
``submission``, ``executor.slurm``...), a list's items (``caches[]``) and a mapping's values
(``variants.<name>``) when they are mappings with named keys. (The agent spec's reference,
with its policy-dependent sections, has its own generator: :mod:`aira_dsl.spec.docgen`.)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aira_dsl.schemagen.generate import GENERATED, PACKAGE_DIR
from aira_dsl.settings.fields import DURATION_PATTERN, SIZE_PATTERN

__all__ = ["DOCS", "DocReference", "main", "reference_markdown", "update_markdown"]

REPOSITORY_DIR = PACKAGE_DIR.parents[1]


@dataclass(frozen=True)
class DocReference:
    """Where a schema's reference goes: a doc, the marker name, the heading level of its tables."""

    doc: str
    schema: str
    marker: str
    level: int
    top_title: str


DOCS = (
    DocReference("docs/sandbox.md", "sandbox-profile.schema.json", "sandbox profile keys", 3, "Top level"),
    DocReference("docs/tasks.md", "task.schema.json", "task.yaml keys", 4, "`task.yaml`"),
    DocReference("docs/sweeps.md", "sweep.schema.json", "sweep file keys", 4, "Top level"),
)
"""The docs whose key references are generated here."""

_NAMES = {"object": "mapping", "array": "list", "string": "text", "integer": "integer", "number": "number",
          "boolean": "boolean", "null": "null"}
_BOUNDS = (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"))


def _resolve(node: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        node = schema["$defs"][str(node["$ref"]).rsplit("/", 1)[-1]]
    return node


def _type(node: Mapping[str, Any], schema: Mapping[str, Any]) -> str:
    """The type column: the kind of value, its range, and the allowed values of an enumeration."""
    node = {**_resolve(node, schema), **{k: v for k, v in node.items() if k != "$ref"}}
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return " \\| ".join(f"`{json.dumps(v) if not isinstance(v, str) else v}`" for v in node["enum"])
    kinds = node.get("type", [])
    kinds = list(kinds) if isinstance(kinds, list) else [kinds]
    words = [_NAMES.get(str(k), str(k)) for k in kinds]
    if node.get("pattern") == DURATION_PATTERN:
        words = ["duration", *(w for w in words if w not in ("number", "text"))]
    elif node.get("pattern") == SIZE_PATTERN:
        words = ["size", *(w for w in words if w not in ("integer", "text"))]
    bounds = [f"{symbol} {node[key]}" for key, symbol in _BOUNDS if key in node]
    numeric = next((i for i, w in enumerate(words) if w in ("integer", "number", "duration", "size")), None)
    if bounds and numeric is not None:  # a range applies to the number (not to a list form beside it)
        words[numeric] = f"{words[numeric]} ({', '.join(bounds)})"
    items = node.get("items")
    if "list" in words and isinstance(items, Mapping):
        inner = _type(items, schema)
        words[words.index("list")] = f"list of ({inner})" if " or " in inner else f"list of {inner}"
    return " or ".join(words) or "any"


def _default(node: Mapping[str, Any]) -> str:
    return f"`{json.dumps(node['default'])}`" if "default" in node else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _nested(node: Mapping[str, Any], schema: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """``(suffix, mapping schema)`` of the mapping with named keys inside a value, if any: the value
    itself (``""``), a list's items (``"[]"``), or a mapping's values (``".<name>"``)."""
    node = _resolve(node, schema)
    if isinstance(node.get("properties"), Mapping) and node["properties"]:
        return "", node
    items = node.get("items")
    if isinstance(items, Mapping) and _resolve(items, schema).get("properties"):
        return "[]", _resolve(items, schema)
    values = node.get("additionalProperties")
    if isinstance(values, Mapping) and _resolve(values, schema).get("properties"):
        return ".<name>", _resolve(values, schema)
    return None


def _tables(title: str, path: str, node: Mapping[str, Any], schema: Mapping[str, Any], level: int) -> list[str]:
    props: Mapping[str, Any] = node.get("properties", {})
    required = node.get("required", [])
    rows = [f"{'#' * level} {title}", ""]
    if node.get("description") and path:
        rows += [_cell(str(node["description"])), ""]
    rows += ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    nested: list[tuple[str, Mapping[str, Any]]] = []
    for name, sub in props.items():
        req = " (required)" if name in required else ""
        desc = sub.get("description", _resolve(sub, schema).get("description", ""))
        rows.append(f"| `{name}`{req} | {_type(sub, schema)} | {_default(sub)} | {_cell(str(desc))} |")
        found = _nested(sub, schema)
        if found is not None:
            suffix, inner = found
            nested.append((f"{path}.{name}{suffix}" if path else f"{name}{suffix}", inner))
    rows.append("")
    for child, inner in nested:
        rows += _tables(f"`{child}`", child, inner, schema, level)
    return rows


def reference_markdown(ref: DocReference) -> str:
    """The generated reference of one doc (from the schema as generated now)."""
    schema = GENERATED[ref.schema]()
    return "\n".join(_tables(ref.top_title, "", schema, schema, ref.level)).rstrip() + "\n"


def _markers(ref: DocReference) -> tuple[str, str]:
    return f"<!-- BEGIN GENERATED: {ref.marker} -->", f"<!-- END GENERATED: {ref.marker} -->"


def update_markdown(text: str, ref: DocReference) -> str:
    """``text`` with the generated section replaced by the current reference."""
    begin, end = _markers(ref)
    if begin not in text or end not in text:
        raise ValueError(f"{ref.doc} lacks the markers {begin} ... {end}")
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    return f"{head}{begin}\n{reference_markdown(ref)}{end}{tail}"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    stale = []
    for ref in DOCS:
        path = REPOSITORY_DIR / ref.doc
        text = path.read_text(encoding="utf-8")
        updated = update_markdown(text, ref)
        if updated != text:
            stale.append(str(path))
            if not check:
                path.write_text(updated, encoding="utf-8")
    if check and stale:
        print("stale key references (run `python -m aira_dsl.schemagen.reference`):\n  " + "\n  ".join(stale),
              file=sys.stderr)
        return 1
    for written in stale if not check else []:
        print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
