"""Generate the field reference of docs/spec-language.md from the JSON Schema.

The schema is itself generated from the settings declarations (``python -m aira_dsl.schemagen``),
so fields, types, defaults and descriptions are written once, in the code (editors show the same
text on hover); the doc's reference section is generated between markers and a test fails when
it drifts. Fields required only of a complete spec (not of one that ``extends`` another) are
marked required. Regenerate with ``python -m aira_dsl.spec.docgen docs/spec-language.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from aira_dsl.spec.schema_check import load_packaged_schema

__all__ = ["reference_markdown", "update_markdown"]

BEGIN = "<!-- BEGIN GENERATED: spec fields -->"
END = "<!-- END GENERATED: spec fields -->"


def _type(node: dict[str, Any], schema: dict[str, Any]) -> str:
    if "$ref" in node:
        return "mapping"
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    names = {"object": "mapping", "array": "list", "string": "text", "integer": "integer", "number": "number",
             "boolean": "boolean", "null": "null"}
    text = " or ".join(names.get(str(k), str(k)) for k in kinds)
    if "pattern" in node and "duration" in node.get("description", "").lower():
        text = "duration"
    return text


def _default(node: dict[str, Any]) -> str:
    return f"`{json.dumps(node['default'])}`" if "default" in node else ""


def _resolve(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].split("/")[-1]]
    return node


def _table(title: str, props: dict[str, Any], schema: dict[str, Any], required: list[str]) -> list[str]:
    rows = [f"### {title}", "", "| field | type | default | description |", "| --- | --- | --- | --- |"]
    for name, node in props.items():
        req = " (required)" if name in required else ""
        desc = node.get("description", _resolve(node, schema).get("description", "")).replace("|", "\\|")
        rows.append(f"| `{name}`{req} | {_type(node, schema)} | {_default(node)} | {desc} |")
    rows.append("")
    return rows


def reference_markdown() -> str:
    schema = load_packaged_schema("agent.schema.json")
    defs = schema["$defs"]
    out: list[str] = []
    out += _table("Top level", schema["properties"], schema, schema["else"]["required"])
    model_required = schema["else"]["properties"]["models"]["additionalProperties"]["required"]
    out += _table("`models.<name>`", defs["model"]["properties"], schema, model_required)
    price = defs["model"]["properties"]["price"]
    out += _table("`models.<name>.price`", price["properties"], schema, [])
    op = defs["operator"]
    op_required = schema["else"]["properties"]["operators"]["additionalProperties"]["required"]
    out += _table("`operators.<name>`", op["properties"], schema, op_required)
    out += _table("`operators.<name>.memory`", op["properties"]["memory"]["properties"], schema, [])
    cue = op["properties"]["complexity"]["items"]
    out += _table("`operators.<name>.complexity[]`", cue["properties"], schema, cue.get("required", []))
    for kind in defs["policy"]["properties"]["kind"]["enum"]:
        node = defs[f"policy_{kind}"]
        out += _table(f"`policy` with `kind: {kind}`", node["properties"], schema, node.get("required", []))
    use = defs["policy_greedy"]["properties"]["use"]
    out += _table("`policy.use`", use["properties"], schema, [])
    for section in ("fitness", "budget", "execution"):
        node = schema["properties"][section]
        out += _table(f"`{section}`", node["properties"], schema, node.get("required", []))
    return "\n".join(out).rstrip() + "\n"


def update_markdown(text: str) -> str:
    """``text`` with the generated section replaced by the current reference."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{reference_markdown()}{END}{tail}"


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "docs/spec-language.md")
    path.write_text(update_markdown(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
