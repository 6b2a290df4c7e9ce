"""Prompt templates: a sandboxed Jinja environment, static checks, rendering, sample contexts.

Operators turn a node of the search graph into an LLM request by rendering a Jinja template
with a context whose shape depends on the operator kind (:mod:`.declarations`). This package
checks templates against those declarations before a run (:func:`check_template`), gathers a
template with its fragments for embedding in a plan (:func:`collect_sources`), and renders
from files or from embedded sources with identical results. See ``docs/templates.md``.
"""

from __future__ import annotations

from aira_dsl.templates.checker import check_template, check_template_source
from aira_dsl.templates.declarations import declared_variables, kind_names
from aira_dsl.templates.environment import PromptEnvironment, render_file, render_from_sources, render_source
from aira_dsl.templates.filters import FILTERS, bullets, fence, head_tail, humanize, inline_code
from aira_dsl.templates.samples import load_sample_context, sample_context_text, validate_context
from aira_dsl.templates.sources import collect_inline_sources, collect_sources
from aira_dsl.templates.store import template_name

__all__ = [
    "FILTERS",
    "PromptEnvironment",
    "bullets",
    "check_template",
    "check_template_source",
    "collect_inline_sources",
    "collect_sources",
    "declared_variables",
    "fence",
    "head_tail",
    "humanize",
    "inline_code",
    "kind_names",
    "load_sample_context",
    "render_file",
    "render_from_sources",
    "render_source",
    "sample_context_text",
    "template_name",
    "validate_context",
]
