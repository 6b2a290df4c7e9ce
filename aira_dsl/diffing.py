"""Semantic differences between two plans: what a variant really changes.

Compares plans, not YAML text, so moving a key, reformatting, or factoring a spec into a base
with ``extends`` shows no change, while an edit to a shared prompt fragment shows up in every
operator that includes it. Templates get a unified diff each.
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
    status: str  # added | removed | changed
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
    for name in sorted(set(a.templates) | set(b.templates)):
        text_a = a.templates.get(name, {}).get("source")
        text_b = b.templates.get(name, {}).get("source")
        if text_a == text_b:
            continue
        status = "added" if text_a is None else "removed" if text_b is None else "changed"
        diff = "".join(difflib.unified_diff(
            (text_a or "").splitlines(keepends=True), (text_b or "").splitlines(keepends=True),
            fromfile=f"{label_a}:{name}", tofile=f"{label_b}:{name}"))
        result.templates.append(TemplateChange(name, status, diff))
    return result
