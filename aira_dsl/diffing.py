"""Semantic differences between two plans: what a variant really changes.

Compares plans, not YAML text, so moving a key, reformatting, or factoring a spec into a base
with ``extends`` shows no change, while an edit to a shared prompt fragment shows up in every
operator that includes it. Templates get a unified diff each; an operator whose prompt now names
another file gets one diff of the old template against the new.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from aira_dsl.plan import Plan

__all__ = ["UNSET", "Change", "PlanDiff", "TemplateChange", "diff_plans"]

UNSET = "(unset)"
"""Shown for a setting one side does not have (e.g. a parameter of another policy kind)."""

_SECTIONS = {"policy": "parameters", "models": "models", "budget": "budget", "fitness": "fitness",
             "operators": "operators", "execution": "execution", "vars": "vars", "name": "identity",
             "description": "identity"}


@dataclass(frozen=True)
class Change:
    section: str
    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class TemplateChange:
    name: str
    """The template's name; ``old -> new`` for a replaced prompt."""
    status: str  # added | removed | changed | replaced (an operator's prompt now names another file)
    diff: str


@dataclass
class PlanDiff:
    changes: list[Change] = field(default_factory=list)
    templates: list[TemplateChange] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not self.changes and not self.templates

    def to_dict(self) -> dict[str, Any]:
        return {"same": self.same,
                "changes": [{"section": c.section, "path": c.path, "before": c.before, "after": c.after}
                            for c in self.changes],
                "templates": [{"name": t.name, "status": t.status, "diff": t.diff} for t in self.templates]}


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    # Expressions compare by source text: their ASTs follow from it.
    if isinstance(value, dict) and set(value) == {"source", "ast"}:
        out[prefix] = value["source"]
    elif isinstance(value, dict) and value:
        for key, sub in value.items():
            _flatten(sub, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def diff_plans(a: Plan, b: Plan, label_a: str = "a", label_b: str = "b") -> PlanDiff:
    """Every changed setting (flattened dotted paths) and every changed template."""
    result = PlanDiff()
    body_a, body_b = a.body(), b.body()
    for body in (body_a, body_b):
        body.pop("templates")
        body.pop("sources")
    flat_a: dict[str, Any] = {}
    flat_b: dict[str, Any] = {}
    _flatten(body_a, "", flat_a)
    _flatten(body_b, "", flat_b)
    for path in sorted(set(flat_a) | set(flat_b)):
        before, after = flat_a.get(path, UNSET), flat_b.get(path, UNSET)
        if before != after:
            section = _SECTIONS.get(path.split(".", 1)[0], "other")
            result.changes.append(Change(section, path, before, after))
    # An operator whose prompt moved to another file: one diff of the old template against the
    # new, rather than the whole old file removed and the whole new one added.
    replaced: dict[tuple[str, str], None] = {}
    for change in result.changes:
        parts = change.path.split(".")
        if len(parts) == 4 and parts[0] == "operators" and parts[2] == "prompt" \
                and isinstance(change.before, str) and isinstance(change.after, str) \
                and change.before in a.templates and change.after in b.templates:
            replaced[(change.before, change.after)] = None
    paired = {name for pair in replaced for name in pair}
    for old, new in replaced:
        result.templates.append(TemplateChange(
            f"{old} -> {new}", "replaced",
            _unified(a.templates[old]["source"], b.templates[new]["source"], f"{label_a}:{old}", f"{label_b}:{new}")))
    for name in sorted(set(a.templates) | set(b.templates)):
        text_a = a.templates.get(name, {}).get("source")
        text_b = b.templates.get(name, {}).get("source")
        if text_a == text_b:
            continue
        status = "added" if text_a is None else "removed" if text_b is None else "changed"
        if status != "changed" and name in paired:
            continue  # shown as the other side of a replaced prompt
        result.templates.append(TemplateChange(name, status, _unified(text_a, text_b, f"{label_a}:{name}",
                                                                      f"{label_b}:{name}")))
    return result


def _unified(text_a: str | None, text_b: str | None, from_file: str, to_file: str) -> str:
    return "".join(difflib.unified_diff((text_a or "").splitlines(keepends=True),
                                        (text_b or "").splitlines(keepends=True),
                                        fromfile=from_file, tofile=to_file))
