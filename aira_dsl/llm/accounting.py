"""Token, latency and cost accounting for every call, with budget limits checked before each call.

The runtime enforces ``budget.cost_usd`` and token budgets through the :class:`Accountant`: it
sets limits, subscribes a callback that writes each :class:`CallRecord` to the run's journal,
and catches :class:`~aira_dsl.llm.errors.BudgetExceeded`, which the client raises *before* a call
once a limit is spent. Calls already in flight when the limit is crossed still finish, so a run
may overshoot by at most the cost of its concurrent calls.

Replayed calls count at their recorded cost, so a replayed run makes the same budget decisions as
the run it replays; ``fresh_cost_usd`` counts only money really spent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from aira_dsl.llm.errors import BudgetExceeded
from aira_dsl.llm.types import CallInfo

__all__ = ["Accountant", "CallRecord", "Totals"]


@dataclass(frozen=True)
class CallRecord:
    """One logical call (all its retries), successful or not."""

    operator: str
    kind: str
    node_id: str | int | None
    model: str
    """The spec's name for the model (``coder``)."""
    model_id: str
    """The id sent to the endpoint (``gpt-4o``)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    latency: float = 0.0
    cost_usd: float = 0.0
    cached: bool = False
    attempts: int = 1
    error: str | None = None
    usage_estimated: bool = False
    started_at: float = field(default_factory=time.time)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def for_call(cls, info: CallInfo, model: str, model_id: str, **values: Any) -> CallRecord:
        return cls(operator=info.operator, kind=info.kind, node_id=info.node_id, model=model,
                   model_id=model_id, **values)


@dataclass(frozen=True)
class Totals:
    """Sums over a set of call records."""

    calls: int = 0
    failed_calls: int = 0
    cached_calls: int = 0
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    latency: float = 0.0
    cost_usd: float = 0.0
    fresh_cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, record: CallRecord) -> Totals:
        return Totals(
            calls=self.calls + 1,
            failed_calls=self.failed_calls + (record.error is not None),
            cached_calls=self.cached_calls + record.cached,
            attempts=self.attempts + record.attempts,
            prompt_tokens=self.prompt_tokens + record.prompt_tokens,
            completion_tokens=self.completion_tokens + record.completion_tokens,
            reasoning_tokens=self.reasoning_tokens + record.reasoning_tokens,
            latency=self.latency + record.latency,
            cost_usd=self.cost_usd + record.cost_usd,
            fresh_cost_usd=self.fresh_cost_usd + (0.0 if record.cached else record.cost_usd),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["total_tokens"] = self.total_tokens
        return data


Listener = Callable[[CallRecord], None]


class Accountant:
    """Collects call records from any number of threads and event loops; enforces limits.

    ``max_cost_usd`` and ``max_tokens`` (prompt plus completion, over all calls) are optional;
    :meth:`check` raises :class:`BudgetExceeded` when one is reached.
    """

    def __init__(self, *, max_cost_usd: float | None = None, max_tokens: int | None = None,
                 on_record: Listener | None = None) -> None:
        self._lock = threading.Lock()
        self._records: list[CallRecord] = []
        self._totals = Totals()
        self._listeners: list[Listener] = [on_record] if on_record else []
        self.max_cost_usd = max_cost_usd
        self.max_tokens = max_tokens

    def set_limits(self, *, cost_usd: float | None = None, tokens: int | None = None) -> None:
        """Set (or with ``None`` lift) the cost and token limits."""
        with self._lock:
            self.max_cost_usd = cost_usd
            self.max_tokens = tokens

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every new record; returns a function that unsubscribes it.

        Listeners run in the thread that made the call, after the record is counted; an
        exception in a listener propagates to that call's caller.
        """
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def check(self) -> None:
        """Raise :class:`BudgetExceeded` if a limit is already spent."""
        with self._lock:
            totals, max_cost, max_tokens = self._totals, self.max_cost_usd, self.max_tokens
        if max_cost is not None and totals.cost_usd >= max_cost:
            raise BudgetExceeded("cost_usd", max_cost, totals.cost_usd)
        if max_tokens is not None and totals.total_tokens >= max_tokens:
            raise BudgetExceeded("tokens", max_tokens, totals.total_tokens)

    def add(self, record: CallRecord) -> None:
        """Count a record and tell the listeners."""
        with self._lock:
            self._records.append(record)
            self._totals = self._totals.add(record)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(record)

    def preload(self, records: Iterable[CallRecord]) -> None:
        """Count records of an earlier part of the run (on resume) without telling listeners."""
        with self._lock:
            for record in records:
                self._records.append(record)
                self._totals = self._totals.add(record)

    def records(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def totals(self) -> Totals:
        with self._lock:
            return self._totals

    def by_operator(self) -> dict[str, Totals]:
        """Totals per operator name, in order of first appearance."""
        return self._group(lambda record: record.operator)

    def by_model(self) -> dict[str, Totals]:
        """Totals per model name (the spec's key)."""
        return self._group(lambda record: record.model)

    def _group(self, key: Callable[[CallRecord], str]) -> dict[str, Totals]:
        groups: dict[str, Totals] = {}
        for record in self.records():
            name = key(record)
            groups[name] = groups.get(name, Totals()).add(record)
        return groups
