"""Which names each expression field may use, and what type each field must produce, as data.

This is the single source for the checker (what is in scope), the docs (``describe_fields``)
and the runtime (what environment to build). Two contexts exist: ``fitness`` (the fields under
``fitness:``, evaluated once per executed node) and ``memory`` (an operator's ``memory.where``,
evaluated once per candidate past node). ``policy`` and ``vars`` depend on the spec, so
:func:`build_context` types them from the spec's own mappings.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from aira_dsl.expr.types import (
    ANY,
    BOOL,
    NUMBER,
    STRING,
    FieldInfo,
    Nullable,
    OpenRecordType,
    RecordType,
    Type,
    record_from_mapping,
)

__all__ = ["CONTEXTS", "FIELDS", "ContextSpec", "FieldSpec", "build_context"]

_NUMBER_OR_NULL = Nullable(NUMBER)


@dataclass(frozen=True)
class ContextSpec:
    """The top-level names available to a family of expression fields."""

    name: str
    description: str
    entries: tuple[FieldInfo, ...]


@dataclass(frozen=True)
class FieldSpec:
    """One spec field that holds an expression.

    ``result`` is the type the expression must have, ``result_phrase`` how messages say it
    ("a boolean"), ``excluded`` the context names this field may not read (``fitness.metric``
    defines ``metric``, so it cannot use it).
    """

    name: str
    context: str
    result: Type
    result_phrase: str
    description: str
    excluded: tuple[str, ...] = ()

    @property
    def short(self) -> str:
        """The field's own key (``buggy`` for ``fitness.buggy``), as messages name it."""
        return self.name.rsplit(".", 1)[-1]


_EXEC = RecordType("exec", (
    FieldInfo("exit_code", NUMBER, "exit status of the solution's process; 0 means success"),
    FieldInfo("timed_out", BOOL, "true if the run was stopped at the execution time limit"),
    FieldInfo("oom_killed", BOOL, "true if the run was killed for exceeding its memory limit"),
    FieldInfo("duration", NUMBER, "wall-clock seconds the run took"),
))
_REVIEW = RecordType("review", (
    FieldInfo("is_bug", BOOL, "the reviewer's verdict that the run failed or cannot be trusted"),
    FieldInfo("summary", STRING, "the reviewer's short account of the run"),
    FieldInfo("metric", _NUMBER_OR_NULL,
              "the validation score the reviewer read from the output; null if none"),
))
_SUBMISSION = RecordType("submission", (
    FieldInfo("exists", BOOL, "the run wrote ./submission/submission.csv"),
    FieldInfo("valid", BOOL, "the submission passed the task's format check"),
    FieldInfo("reason", Nullable(STRING), "why the submission is not valid; null when it is"),
))
_REPORTED = OpenRecordType(
    "reported", _NUMBER_OR_NULL,
    "values the solution wrote to its metrics file, by name (reported.cv_score); "
    "null when the name is absent")
_HIDDEN = RecordType("hidden", (
    FieldInfo("score", _NUMBER_OR_NULL,
              "the solution's score on the task's hidden validation split; null if not scored"),
))
_NODE_FIELDS = (
    FieldInfo("step", NUMBER, "the search step that created the node"),
    FieldInfo("depth", NUMBER, "the node's depth in the search tree"),
    FieldInfo("debug_depth", NUMBER, "how many debug steps in a row led to the node"),
    FieldInfo("num_children", NUMBER, "how many children the node has so far"),
    FieldInfo("operator", STRING, "the name of the operator that produced the node"),
    FieldInfo("buggy", Nullable(BOOL), "whether the node was judged buggy; null until known"),
)
_POLICY = OpenRecordType(
    "policy", ANY,
    "the spec's policy parameters (policy.kind, policy.num_drafts, ...), typed from their values")
_VARS = OpenRecordType("vars", ANY, "the spec's user constants from its top-level vars: mapping")

CONTEXTS: MappingProxyType[str, ContextSpec] = MappingProxyType({
    "fitness": ContextSpec(
        "fitness",
        "evaluated once for each executed node, after its run and its review",
        (
            FieldInfo("exec", _EXEC, "how the solution's run ended"),
            FieldInfo("review", _REVIEW, "the analyze operator's structured review"),
            FieldInfo("submission", _SUBMISSION, "the submission file the run produced"),
            FieldInfo("reported", _REPORTED, _REPORTED.description),
            FieldInfo("hidden", _HIDDEN, "scores on data the agent never sees"),
            FieldInfo("node", RecordType("node", _NODE_FIELDS), "the node being scored"),
            FieldInfo("metric", _NUMBER_OR_NULL, "the value of fitness.metric for this node"),
            FieldInfo("policy", _POLICY, _POLICY.description),
            FieldInfo("vars", _VARS, _VARS.description),
        ),
    ),
    "memory": ContextSpec(
        "memory",
        "evaluated once for each candidate past node, to choose what an operator's prompt shows",
        (
            FieldInfo("node", RecordType("node", (*_NODE_FIELDS, FieldInfo(
                "metric", _NUMBER_OR_NULL, "the candidate's metric; null if it has none"), FieldInfo(
                "submission", _SUBMISSION, "the candidate's submission and the checker's verdict on it"))),
                "the candidate past node"),
            FieldInfo("metric", _NUMBER_OR_NULL, "the candidate's metric (same as node.metric)"),
            FieldInfo("policy", _POLICY, _POLICY.description),
            FieldInfo("vars", _VARS, _VARS.description),
        ),
    ),
})
"""Contexts by name."""

FIELDS: MappingProxyType[str, FieldSpec] = MappingProxyType({
    spec.name: spec for spec in (
        FieldSpec("fitness.buggy", "fitness", BOOL, "a boolean",
                  "whether the node counts as buggy (it is then debugged, never selected)"),
        FieldSpec("fitness.value", "fitness", _NUMBER_OR_NULL, "a number",
                  "the node's fitness, compared in the fitness direction; null means no fitness"),
        FieldSpec("fitness.metric", "fitness", _NUMBER_OR_NULL, "a number",
                  "where the raw validation score comes from, e.g. review.metric, "
                  "reported.cv_score, hidden.score", excluded=("metric",)),
        FieldSpec("memory.where", "memory", Nullable(BOOL), "a boolean",
                  "which past nodes an operator's memory may show; a null result leaves the "
                  "node out"),
    )
})
"""Expression fields by dotted name (``fitness.buggy``...)."""


def field_spec(field: str) -> FieldSpec:
    """The spec of ``field``; ``ValueError`` naming the known fields if there is none."""
    try:
        return FIELDS[field]
    except KeyError:
        raise ValueError(f"unknown expression field {field!r}; known: {', '.join(FIELDS)}") from None


@functools.cache
def _default_context(field: str) -> RecordType:
    spec = field_spec(field)
    entries = tuple(e for e in CONTEXTS[spec.context].entries if e.name not in spec.excluded)
    return RecordType(spec.context, entries)


def build_context(field: str, policy: Mapping[str, Any] | None = None,
                  vars: Mapping[str, Any] | None = None) -> RecordType:
    """The names in scope for ``field``, as a record type.

    ``policy`` and ``vars`` are the spec's ``policy:`` and ``vars:`` mappings; given, their
    keys become closed records typed from the values (``vars.seed`` is a number if the spec
    says ``seed: 1``); left out (None), any attribute of them is accepted with type ``any``.
    """
    base = _default_context(field)
    if policy is None and vars is None:
        return base
    entries = []
    for entry in base.fields:
        if entry.name == "policy" and policy is not None:
            entry = FieldInfo("policy", record_from_mapping("policy", policy, "policy parameter"),
                              entry.description)
        elif entry.name == "vars" and vars is not None:
            entry = FieldInfo("vars", record_from_mapping("vars", vars, "user constant"),
                              entry.description)
        entries.append(entry)
    return RecordType(base.name, tuple(entries))
