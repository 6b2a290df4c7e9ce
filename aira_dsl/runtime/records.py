"""Typed records of a run: what the node pipeline produces, the journal stores and reports read.

One definition per record, shared by the writer (:mod:`aira_dsl.runtime.journal`, fed by the
node pipeline) and the readers (:mod:`aira_dsl.report`, the context builder): no string-keyed
dicts travel between them. ``None`` means "not recorded" (a pending node has no execution, a
node with an invalid submission no grade), never zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MEDALS",
    "CallRecord",
    "Execution",
    "Grade",
    "NodeOutcome",
    "NodeRecord",
    "Review",
    "SubmissionCheck",
    "Usage",
]

MEDALS = ("gold", "silver", "bronze")
"""Medal names, best first."""


@dataclass(frozen=True)
class NodeRecord:
    """A row of ``nodes``: a search node as the journal holds it.

    ``operator`` is the spec's operator name, ``kind`` its kind, ``role`` the policy role it
    played (empty under a policy that names operators directly).
    """

    id: int
    parent_ids: tuple[int, ...]
    role: str
    operator: str
    kind: str
    status: str
    buggy: bool | None
    metric: float | None
    fitness: float | None
    value: float | None
    plan: str | None
    code: str | None
    summary: str | None
    error: str | None
    depth: int
    debug_depth: int
    generation: int | None
    island: int | None
    worker: int | None
    meta: dict[str, Any]
    created_at: float
    finished_at: float | None
    exec_time: float | None = None
    """Seconds the node's execution took; None when no code ran."""


@dataclass(frozen=True)
class SubmissionCheck:
    """The task's verdict on a submission file (format only: no score)."""

    exists: bool
    valid: bool
    reason: str | None
    """Why it is not valid; None when it is."""

    @staticmethod
    def missing(reason: str = "no submission.csv was written") -> SubmissionCheck:
        return SubmissionCheck(False, False, reason)


@dataclass(frozen=True)
class Execution:
    """The sandbox result of a node (``executions`` row)."""

    exit_code: int | None
    timed_out: bool
    oom_killed: bool
    duration: float
    output: str
    isolation: str | None
    submission_exists: bool
    submission_valid: bool
    submission_reason: str | None
    reported: dict[str, Any]

    @property
    def submission(self) -> SubmissionCheck:
        return SubmissionCheck(self.submission_exists, self.submission_valid, self.submission_reason)


@dataclass(frozen=True)
class Review:
    """The analyze operator's review of a node (``reviews`` row)."""

    is_bug: bool
    summary: str
    metric: float | None
    method: str | None


@dataclass(frozen=True)
class Grade:
    """Host-side grading on private answers (``grades`` row): never seen by the agent."""

    hidden_score: float | None
    test_score: float | None
    valid_submission: bool
    gold: bool
    silver: bool
    bronze: bool
    above_median: bool
    report: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def medal(self) -> str | None:
        """The best medal earned, or ``None``."""
        if self.gold:
            return "gold"
        if self.silver:
            return "silver"
        if self.bronze:
            return "bronze"
        return None

    @property
    def any_medal(self) -> bool:
        return self.gold or self.silver or self.bronze

    @property
    def silver_or_better(self) -> bool:
        return self.gold or self.silver


@dataclass(frozen=True)
class CallRecord:
    """One model call as journaled the moment it returns (``llm_calls`` row)."""

    node_id: int | None
    operator: str
    kind: str
    model: str
    attempt: int
    messages: list[dict[str, str]]
    response: str | None
    reasoning: str | None
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cost_usd: float
    latency: float
    cached: bool
    error: str | None = None


@dataclass(frozen=True)
class Usage:
    """LLM usage summed over calls (of one node, one operator, or a whole run)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    errors: int = 0
    latency: float = 0.0

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens (reasoning tokens are part of the completion)."""
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.calls + other.calls, self.prompt_tokens + other.prompt_tokens,
                     self.completion_tokens + other.completion_tokens,
                     self.reasoning_tokens + other.reasoning_tokens, self.cost_usd + other.cost_usd,
                     self.errors + other.errors, self.latency + other.latency)


@dataclass(frozen=True)
class NodeOutcome:
    """Everything a finished node adds to the journal, committed in one transaction."""

    node_id: int
    buggy: bool
    metric: float | None
    value: float | None
    fitness: float | None
    plan: str
    code: str | None
    summary: str | None
    error: str | None
    execution: Execution | None = None
    review: Review | None = None
    grade: Grade | None = None

    @property
    def exec_time(self) -> float | None:
        return self.execution.duration if self.execution is not None else None
