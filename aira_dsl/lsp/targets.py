"""Shared answers for hover, completion and definitions: what a spec path means, and which
operator kinds (hence template variables) apply to a template.

Kept apart from the features so each feature module holds only the decisions of its own job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aira_dsl.lsp.analysis import Analyzer
from aira_dsl.templates.types import Field

__all__ = ["expression_field", "prompt_operator", "spec_data", "template_kinds", "template_var_names",
           "template_variables"]


def expression_field(path: tuple[str | int, ...]) -> str | None:
    """The expression field (``fitness.buggy``, ``memory.where``) a spec path holds, if any."""
    if len(path) == 2 and path[0] == "fitness" and path[1] in ("metric", "buggy", "value"):
        return f"fitness.{path[1]}"
    if len(path) == 4 and path[0] == "operators" and path[2:] == ("memory", "where"):
        return "memory.where"
    return None


def prompt_operator(path: tuple[str | int, ...]) -> str | None:
    """The operator whose prompt a spec path is (``operators.X.prompt[.system|.user]``)."""
    if len(path) < 3 or path[0] != "operators" or path[2] != "prompt" or not isinstance(path[1], str):
        return None
    return path[1] if len(path) == 3 or (len(path) == 4 and path[3] in ("system", "user")) else None


def spec_data(analyzer: Analyzer, key: str) -> Mapping[str, Any] | None:
    """The spec's data merged with its bases, from its latest readable check."""
    context = analyzer.context(key)
    data = context.doc.data if context is not None else None
    return data if isinstance(data, Mapping) else None


def operator_kind(data: Mapping[str, Any] | None, name: str) -> str | None:
    operators = (data or {}).get("operators")
    operator = operators.get(name) if isinstance(operators, Mapping) else None
    kind = operator.get("kind") if isinstance(operator, Mapping) else None
    return kind if isinstance(kind, str) else None


def template_kinds(analyzer: Analyzer, key: str) -> list[str]:
    """The kinds of the operators whose prompts read template ``key``; when no checked spec
    uses it, the kind its file name says (``draft.j2``), else none (meaning: any)."""
    from aira_dsl.templates.declarations import kind_names

    kinds = sorted({kind for _, _, kind in analyzer.template_users(key)})
    if kinds:
        return kinds
    stem = os.path.splitext(os.path.basename(key))[0]
    return [stem] if stem in kind_names() else []


def template_var_names(analyzer: Analyzer, key: str) -> list[str]:
    """The ``vars`` keys of the specs that use template ``key``."""
    names: set[str] = set()
    for result, _, _ in analyzer.template_users(key):
        spec = result.context.spec if result.context is not None else None
        if spec is not None:
            names.update(spec.vars)
    return sorted(names)


def template_variables(kinds: list[str]) -> dict[str, Field]:
    from aira_dsl.lsp.jinjacursor import variables_for

    return variables_for(kinds)
