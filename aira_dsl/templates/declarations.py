"""The variables each operator kind hands to its prompt template, declared as data.

This module is the single source of truth for the template context (DESIGN.md, "Templates"):
the static checker reads it to reject unknown names and misspelt attributes, the sample
contexts are validated against it, and ``docs/templates.md`` is generated from it. The runtime
must build contexts of exactly this shape. Fields may be added; none may be silently renamed.

Every kind gets :data:`COMMON_VARIABLES`; the extra variables a kind gets are named by its row
of the operator-kind table (``aira_dsl.kinds``, field ``context``) and declared here in
:data:`CONTEXT_VARIABLES`. A new kind that needs a variable no kind has yet registers it with
:func:`register_context_variable`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from aira_dsl.kinds import get_kind, kind_names
from aira_dsl.templates.types import ANY, Field, ListOf, Scalar, StrMap, record

__all__ = [
    "COMMON_VARIABLES",
    "CONTEXT_VARIABLES",
    "MEMORY_ENTRY",
    "declared_variables",
    "kind_names",
    "register_context_variable",
]

_STR = Scalar("str")
_INT = Scalar("int")
_NUM = Scalar("number")
_BOOL = Scalar("bool")

METRIC = record("metric", [
    Field("name", _STR, "Name of the score the task is judged on, e.g. `accuracy` or `rmse`."),
    Field("direction", _STR, "`maximize` or `minimize`: which way the score improves."),
])

TASK = record("task", [
    Field("id", _STR, "Stable identifier of the task, e.g. `penguins-species`."),
    Field("name", _STR, "Human-readable task name."),
    Field("description", _STR, "The full task statement (markdown), as the task author wrote it."),
    Field("data_preview", _STR,
          "Generated overview of the public data (file tree and per-file previews); empty if none."),
    Field("data_notes", _STR,
          "Markdown bullet lines about the data, derived from what is on disk: which archives were "
          "unpacked and where, which are still packed, the submission's columns and row count when the "
          "sample submission is private. Empty when there is nothing to say."),
    Field("metric", METRIC, "The task's evaluation metric."),
    Field("time_remaining", _NUM, "Seconds left in the run's time budget; null without a time budget.",
          nullable=True),
    Field("steps_remaining", _INT, "Steps left in the run's step budget; null without a step budget.",
          nullable=True),
    Field("execution_timeout", _NUM,
          "Seconds one execution of the solution may take: min(budget.exec_timeout, time left); "
          "null when neither is set.", nullable=True),
])

GPU = record("gpu", [
    Field("name", _STR, "Device name as the driver reports it, e.g. `NVIDIA H100 80GB HBM3`."),
    Field("memory_gb", _NUM, "Device memory in GB; null when unknown.", nullable=True),
])

HARDWARE = record("hardware", [
    Field("gpus", ListOf(GPU), "GPUs the solution's sandbox can use; empty for CPU-only runs."),
    Field("cpus", _INT, "CPU cores available to the sandbox."),
    Field("memory_gb", _NUM, "Memory limit of the sandbox in GB; null when unknown.", nullable=True),
])

CACHE = record("cache", [
    Field("name", _STR, "The cache folder's name, e.g. `huggingface`."),
    Field("env", _STR, "The variable pointing at it inside the sandbox, e.g. `HF_HOME`."),
    Field("path", _STR, "Where the sandbox sees it (read-only), e.g. `/caches/huggingface`."),
])

SANDBOX = record("sandbox", [
    Field("network", _BOOL, "Whether the solution can reach the network (false in every isolated sandbox)."),
    Field("caches", ListOf(CACHE),
          "Read-only caches of pretrained weights the sandbox profile binds in; empty when there are none."),
])

SUBMISSION = record("submission", [
    Field("exists", _BOOL, "Whether the run wrote `./submission/submission.csv`."),
    Field("valid", _BOOL, "Whether the submission passed the task's check (for MLE-bench: its own validation)."),
    Field("reason", _STR, "Why the submission was rejected or is missing; null when it is valid.", nullable=True),
])

WORKSPACE = record("workspace", [
    Field("data_dir", _STR, "Where the task's public data is mounted read-only (e.g. `./data`)."),
    Field("working_dir", _STR, "A writable scratch directory (e.g. `./working`)."),
    Field("submission_path", _STR,
          "Where the solution must write its predictions (e.g. `./submission/submission.csv`)."),
])

MEMORY_ENTRY = record("memory entry", [
    Field("plan", _STR, "The plan (text before the code) of an earlier node."),
    Field("summary", _STR, "The reviewer's summary of that node's run; null if it was never reviewed.",
          nullable=True),
    Field("metric", _NUM, "Its validation metric; null when it produced none.", nullable=True),
    Field("buggy", _BOOL, "Whether the fitness rules judged it buggy."),
    Field("operator", _STR,
          "The role that made it: `draft`, `improve`, `debug` or `crossover` (AIRA-dojo's memory "
          "labels a plan made by a debug step `Debug plan:` rather than `Design:`)."),
])

REVIEW = record("review", [
    Field("summary", _STR, "The reviewer's summary (findings, or what to fix); null if not reviewed.",
          nullable=True),
    Field("is_bug", _BOOL, "Whether the reviewer judged the run buggy; null if not reviewed.",
          nullable=True),
])

PARENT = record("parent", [
    Field("code", _STR, "The parent's Python source, unfenced."),
    Field("plan", _STR, "The parent's plan (text before its code)."),
    Field("output", _STR, "The parent's full terminal output (stdout and stderr); use `head_tail` to cut it."),
    Field("metric", _NUM, "The parent's validation metric; null when it produced none.", nullable=True),
    Field("review", REVIEW, "The review of the parent's run."),
    Field("submission", SUBMISSION, "The parent's submission and the checker's verdict on it."),
])

CROSSOVER_PARENT = record("crossover parent", [
    Field("code", _STR, "The parent's Python source, unfenced."),
    Field("plan", _STR, "The parent's plan."),
    Field("metric", _NUM, "The parent's validation metric; null when it produced none.", nullable=True),
    Field("submission", SUBMISSION, "The parent's submission and the checker's verdict on it."),
])

NODE = record("node", [
    Field("code", _STR, "The executed Python source, unfenced."),
    Field("plan", _STR, "The plan the code came with."),
    Field("output", _STR, "Full terminal output of the run; use `head_tail` to cut it."),
    Field("exit_code", _INT, "Exit status of the run (negative: killed by that signal)."),
    Field("timed_out", _BOOL, "Whether the run hit the execution timeout."),
    Field("duration", _NUM, "Wall-clock seconds the run took."),
    Field("submission", SUBMISSION, "The submission the run wrote and the checker's verdict on it."),
])

COMMON_VARIABLES: tuple[Field, ...] = (
    Field("task", TASK, "The task being solved and the budget left."),
    Field("hardware", HARDWARE, "What the solution's sandbox can use."),
    Field("sandbox", SANDBOX, "Network access and read-only model caches of the solution's sandbox."),
    Field("workspace", WORKSPACE, "Paths inside the sandbox, relative to the solution's working directory."),
    Field("packages", ListOf(_STR),
          "ML packages the sandbox's interpreter can import (pip names), probed inside the sandbox."),
    Field("vars", StrMap(ANY), "The spec's `vars`: user constants; the keys are those the spec declares."),
    Field("complexity", _STR,
          "`minimal`, `moderate` or `advanced` from the operator's `complexity` rule; null when off.",
          nullable=True),
    Field("memory", ListOf(MEMORY_ENTRY), "Earlier nodes chosen by the operator's `memory` scope, oldest first."),
)

CONTEXT_VARIABLES: dict[str, Field] = {
    "parent": Field("parent", PARENT, "The node operated on: the valid node to improve, or the buggy node to fix."),
    "parents": Field("parents", ListOf(CROSSOVER_PARENT), "The nodes to combine (two by default)."),
    "node": Field("node", NODE, "The node whose run is being reviewed."),
}
"""Variables beyond the common ones, by name; a kind's ``context`` lists which it receives."""


def register_context_variable(field: Field) -> Field:
    """Declare a variable a (new) operator kind may list in its ``context``."""
    existing = CONTEXT_VARIABLES.get(field.name)
    if existing is not None and existing != field:
        raise ValueError(f"template variable {field.name!r} is already declared differently")
    if any(f.name == field.name for f in COMMON_VARIABLES):
        raise ValueError(f"{field.name!r} is a common template variable")
    CONTEXT_VARIABLES[field.name] = field
    return field


_CACHE: dict[object, Mapping[str, Field]] = {}


def declared_variables(kind: str) -> Mapping[str, Field]:
    """The top-level variables a template of operator ``kind`` receives, by name.

    Raises ``KeyError`` with the known kinds for an unknown ``kind``; callers that accept
    kinds from users validate them first (the compiler does).
    """
    if kind not in kind_names():
        raise KeyError(f"unknown operator kind {kind!r}; expected one of {', '.join(kind_names())}")
    row = get_kind(kind)
    key = (row, tuple(CONTEXT_VARIABLES[name] for name in row.context if name in CONTEXT_VARIABLES))
    found = _CACHE.get(key)
    if found is None:
        missing = [name for name in row.context if name not in CONTEXT_VARIABLES]
        if missing:
            raise KeyError(f"operator kind {kind!r} lists undeclared template variable(s) {', '.join(missing)}; "
                           "declare them with register_context_variable")
        extra = [CONTEXT_VARIABLES[name] for name in row.context]
        found = MappingProxyType({f.name: f for f in (*COMMON_VARIABLES, *extra)})
        _CACHE[key] = found
    return found
