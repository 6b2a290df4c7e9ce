"""The scheduler: grow the search graph with N workers until a budget runs out.

Each free worker asks the policy for an action, records a pending node in the journal, and hands
the node to the :class:`~aira_dsl.runtime.pipeline.NodePipeline`. A finished node is committed in
one transaction, shown to the policy, and, if it is the new best valid node, published to
``best/`` atomically. Budgets (steps, wall time with LLM time included, cost, tokens) stop new
work; the first Ctrl-C (or SIGTERM) lets in-flight nodes finish, the second aborts them.

A failure inside one node — an answer that cannot be parsed, a refused read-back, a bug in a
stage — makes that node buggy with the error as its reason; the run goes on. What stops a run is
what no next node could avoid: the budget, a rejected API key, a sandbox that cannot start, or an
endpoint that failed several nodes in a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sqlite3
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aira_dsl.plan import Plan
from aira_dsl.runtime.context import TimeInfo
from aira_dsl.runtime.journal import Journal
from aira_dsl.runtime.pipeline import NodePipeline
from aira_dsl.runtime.records import NodeOutcome
from aira_dsl.runtime.rundir import RunDir
from aira_dsl.search import Action, Graph, NodeView, apply_action

__all__ = ["MAX_ENDPOINT_FAILURES", "NodeEvent", "RunSummary", "Scheduler"]

MAX_ENDPOINT_FAILURES = 3
"""Nodes in a row whose model calls failed after every retry before the run stops."""


@dataclass(frozen=True)
class NodeEvent:
    """What the display is told about a finished node."""

    node_id: int
    role: str
    buggy: bool
    metric: float | None
    best_id: int | None
    best_metric: float | None
    error: str | None
    steps_done: int
    elapsed: float
    cost_usd: float
    tokens: int
    operator: str = ""


@dataclass
class RunSummary:
    run_dir: Any
    status: str
    stop_reason: str
    steps: int
    best_node: int | None
    best_validation: float | None
    best_test: float | None
    medal: str | None
    above_median: bool | None
    cost_usd: float
    tokens: int
    elapsed: float
    task: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": str(self.run_dir), "status": self.status, "stop_reason": self.stop_reason,
                "steps": self.steps, "best_node": self.best_node, "best_validation": self.best_validation,
                "best_test": self.best_test, "medal": self.medal, "above_median": self.above_median,
                "cost_usd": round(self.cost_usd, 6), "tokens": self.tokens, "elapsed": round(self.elapsed, 3),
                "task": self.task}


class _StopRun(Exception):
    """A node hit a condition that ends the whole run (carried to the loop as its stop reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def graph_from_journal(journal: Journal) -> Graph:
    """The finished nodes of a journal as the policies' graph, with their execution times and
    the order they finished in (a steady-state policy is rebuilt by replaying arrivals)."""
    records = journal.nodes("done")
    views = [NodeView(id=rec.id, parent_ids=rec.parent_ids, operator=rec.operator, kind=rec.kind, role=rec.role,
                      status="done", buggy=bool(rec.buggy), fitness=None if rec.buggy else rec.fitness,
                      metric=rec.metric, plan=rec.plan or "", summary=rec.summary, debug_depth=rec.debug_depth,
                      depth=rec.depth, generation=rec.generation, island=rec.island, duration=rec.exec_time)
             for rec in records]
    order = [rec.id for rec in sorted(records, key=lambda r: (r.finished_at or 0.0, r.id))]
    return Graph(views, finish_order=order)


class Scheduler:
    """Budgets, signals, worker slots and the journal around a :class:`NodePipeline`."""

    def __init__(self, plan: Plan, *, pipeline: NodePipeline, policy: Any, journal: Journal, rundir: RunDir,
                 workers: int, seed: int, accountant: Any, prior_spent: tuple[float, int], elapsed_before: float,
                 task: dict[str, Any], on_node: Callable[[NodeEvent], None], say: Callable[[str], None],
                 close: Callable[[], Any] | None = None) -> None:
        self.plan = plan
        self.pipeline = pipeline
        self.policy = policy
        self.journal = journal
        self.rundir = rundir
        self.workers = workers
        self.seed = seed
        self.accountant = accountant
        self.prior_cost, self.prior_tokens = prior_spent
        self.elapsed_before = elapsed_before
        self.task = task
        self.on_node = on_node
        self.say = say
        self._close = close
        self.kinds = {name: op.kind for name, op in plan.operators.items()}
        self.stop_reason: str | None = None
        self.abort = False
        self._interrupts = 0
        self._tasks: dict[asyncio.Task[None], tuple[int, int]] = {}
        self._endpoint_failures = 0
        self.started = time.monotonic()
        self.graph = graph_from_journal(journal)
        self.policy.rebuild(self.graph)
        self.rng = random.Random(f"{seed}:{len(self.graph.done())}")
        self.best_id = self._best_id()

    # ------------------------------------------------------------------ budgets

    def elapsed(self) -> float:
        return self.elapsed_before + (time.monotonic() - self.started)

    def time_left(self) -> float | None:
        limit = self.plan.budget.time
        return None if limit is None else max(0.0, limit - self.elapsed())

    def spent(self) -> tuple[float, int]:
        totals = self.accountant.totals()
        return (self.prior_cost + float(totals.cost_usd),
                self.prior_tokens + int(totals.prompt_tokens + totals.completion_tokens))

    def budget_stop(self) -> str | None:
        budget = self.plan.budget
        if budget.steps is not None and len(self.graph) >= budget.steps:
            return "steps"
        left = self.time_left()
        if left is not None and left <= 0:
            return "time"
        cost, tokens = self.spent()
        if budget.cost_usd is not None and cost >= budget.cost_usd:
            return "cost"
        if budget.tokens is not None and tokens >= budget.tokens:
            return "tokens"
        if self.policy.finished(self.graph):
            return "policy-finished"
        return None

    def times(self) -> TimeInfo:
        """What prompts are told about the budget, computed when a node's prompt is built.

        The execution allowance is computed again when the execution starts (after the LLM
        call), from the time left then: ``min(exec_timeout, time left)``.
        """
        left = self.time_left()
        steps = self.plan.budget.steps
        exec_timeout = self.plan.budget.exec_timeout
        return TimeInfo(time_remaining=None if left is None else round(left),
                        steps_remaining=None if steps is None else max(0, steps - len(self.graph)),
                        execution_timeout=round(exec_timeout if left is None else min(exec_timeout, left)))

    def allowance(self) -> float:
        """Seconds an execution starting now may take: min(exec_timeout, time left)."""
        left = self.time_left()
        limit = self.plan.budget.exec_timeout
        return limit if left is None else min(limit, left)

    # ------------------------------------------------------------------ the loop

    async def run(self) -> RunSummary:
        loop = asyncio.get_running_loop()
        try:
            self._install_signals(loop)
            try:
                self._publish_best()
                await self._loop()
            finally:
                self._restore_signals(loop)
                for task in self._tasks:
                    task.cancel()
                if self._tasks:
                    await asyncio.gather(*self._tasks, return_exceptions=True)
                await self.pipeline.wait_orphans()
            return self.finish()
        finally:
            if self._close is not None:
                await self._close()

    async def _loop(self) -> None:
        tasks = self._tasks
        free = list(range(self.workers))
        while True:
            while free and self.stop_reason is None:
                self.stop_reason = self.budget_stop()
                if self.stop_reason is not None:
                    break
                action = self.policy.propose(self.graph, self.rng)
                if action is None:
                    break  # e.g. an evolutionary generation waiting for its last offspring
                worker = free.pop(0)
                node_id = self._start_node(action, worker)
                tasks[asyncio.create_task(self._develop(node_id, worker))] = (node_id, worker)
            if not tasks:
                if self.stop_reason is None:
                    self.stop_reason = self.budget_stop() or "policy-finished"
                return
            if self.abort:
                for task in tasks:
                    task.cancel()
            left = self.time_left()
            done, _ = await asyncio.wait(tasks, timeout=None if left is None else max(left, 0.05),
                                         return_when=asyncio.FIRST_COMPLETED)
            if not done and self.time_left() == 0:
                self.stop_reason = self.stop_reason or "time"
                self.abort = True  # in-flight LLM calls would overrun the deadline
            for task in done:
                node_id, worker = tasks.pop(task)
                free.append(worker)
                free.sort()
                error = None if task.cancelled() else task.exception()
                if isinstance(error, _StopRun):
                    self.stop_reason = self.stop_reason or error.reason
                    self.say(f"node {node_id}: {error.reason}")
                    self.abort = True
                elif error is not None:  # a bug of the scheduler itself: stop, and say so
                    self.stop_reason = self.stop_reason or f"error: {error}"
                    self.say(f"node {node_id} failed: {error}")
                    self.abort = True

    def _start_node(self, action: Action, worker: int) -> int:
        node = apply_action(self.graph, action, roles=self.plan.policy.roles, kinds=self.kinds)
        self.journal.add_pending(node.id, parent_ids=node.parent_ids, role=node.role or "", operator=node.operator,
                                 kind=node.kind, depth=node.depth, debug_depth=node.debug_depth,
                                 generation=node.generation, island=node.island, worker=worker, meta=action.meta)
        return node.id

    async def _develop(self, node_id: int, worker: int) -> None:
        """Run the pipeline for one node and commit what it produced (or why it failed)."""
        from aira_dsl.llm import (
            BudgetExceeded,
            LLMConfigError,
            LLMRequestError,
            LLMUnavailableError,
            ReplayMissError,
        )
        from aira_dsl.sandbox import SandboxError

        node = self.graph[node_id]
        try:
            outcome = await self.pipeline.run(self.graph, node, worker, self.times(), self.allowance)
            self._endpoint_failures = 0
        except BudgetExceeded as exc:
            # The spend limit was reached before this node's next call: the node is dropped
            # (like any node in flight at the end) and the run stops.
            self.stop_reason = self.stop_reason or ("cost" if exc.limit == "cost_usd" else "tokens")
            raise asyncio.CancelledError from None
        except (LLMConfigError, ReplayMissError, SandboxError) as exc:
            raise _StopRun(f"error: {getattr(exc, 'message', str(exc))}") from None
        except (sqlite3.Error, MemoryError) as exc:  # the journal or the machine itself: nothing can go on
            raise _StopRun(f"error: {type(exc).__name__}: {exc}") from None
        except LLMRequestError as exc:
            if exc.status_code in (401, 403, 404):  # a wrong key or model name fails every node
                raise _StopRun(f"error: {exc.message}") from None
            outcome = self._failed(node, f"model call failed: {exc.message}")
        except LLMUnavailableError as exc:
            self._endpoint_failures += 1
            if self._endpoint_failures >= MAX_ENDPOINT_FAILURES:
                raise _StopRun(f"error: the model endpoint failed {self._endpoint_failures} nodes in a row "
                               f"(last: {exc.message})") from None
            outcome = self._failed(node, f"model unavailable: {exc.message}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failure inside one node marks that node
            error = f"internal error while handling this node: {type(exc).__name__}: {exc}"[:1000]
            self.say(f"node {node_id}: {error}")
            self.journal.event("node-error", node=node_id, error=error,
                               traceback="".join(traceback.format_exception(exc))[-4000:])
            outcome = self._failed(node, error)
        self._commit(outcome)

    def _failed(self, node: NodeView, error: str) -> NodeOutcome:
        return NodeOutcome(node.id, buggy=True, metric=None, value=None, fitness=None, plan="", code=None,
                           summary=None, error=error)

    def _commit(self, outcome: NodeOutcome) -> None:
        self.journal.commit_outcome(outcome, elapsed=self.elapsed())
        for problem in self.pipeline.contexts.problems:
            self.journal.event("context-problem", message=problem)
        self.pipeline.contexts.problems.clear()
        self.graph.finish(outcome.node_id, buggy=outcome.buggy, fitness=None if outcome.buggy else outcome.fitness,
                          metric=outcome.metric, plan=outcome.plan, summary=outcome.summary,
                          duration=outcome.exec_time)
        self.policy.observe(self.graph, outcome.node_id)
        self._after_node(outcome)

    # ------------------------------------------------------------------ best and events

    def _best_id(self) -> int | None:
        best = self.graph.best(1)
        return best[0].id if best else None

    def _publish_best(self) -> None:
        if self.best_id is None:
            return
        node = self.graph[self.best_id]
        if not (self.rundir.node_dir(node.id) / "submission.csv").is_file():
            return
        self.rundir.publish_best(node.id, {"node": node.id, "metric": node.metric, "fitness": node.fitness,
                                           "operator": node.operator})

    def _after_node(self, outcome: NodeOutcome) -> None:
        best = self._best_id()
        if best != self.best_id:
            self.best_id = best
            self._publish_best()
        cost, tokens = self.spent()
        best_metric = self.graph[best].metric if best is not None else None
        self.rundir.update_run(steps=len(self.graph.done()), best_node=best, best_validation=best_metric,
                               cost_usd=round(cost, 6), tokens=tokens)
        node = self.graph[outcome.node_id]
        self.on_node(NodeEvent(node.id, node.role or node.kind, outcome.buggy, outcome.metric, best, best_metric,
                               outcome.error, len(self.graph.done()), self.elapsed(), cost, tokens,
                               operator=node.operator))

    # ------------------------------------------------------------------ stopping

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        def interrupt() -> None:
            self._interrupts += 1
            if self._interrupts == 1:
                self.stop_reason = "interrupted"
                self.say("stopping: letting nodes in flight finish (Ctrl-C again to abort them)")
            else:
                self.abort = True
                self.say("aborting nodes in flight")
                for task in self._tasks:
                    task.cancel()

        try:
            loop.add_signal_handler(signal.SIGINT, interrupt)
            loop.add_signal_handler(signal.SIGTERM, interrupt)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass

    def _restore_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)

    def finish(self) -> RunSummary:
        dropped = self.journal.delete_pending()
        reason = self.stop_reason or "finished"
        status = "interrupted" if reason == "interrupted" else "failed" if reason.startswith("error") else "finished"
        self.journal.set_meta("elapsed", self.elapsed())
        self.journal.event("stop", reason=reason, dropped=dropped)
        best = self.best_id
        grade = self.journal.grade(best) if best is not None else None
        medal = grade.medal if grade else None
        cost, tokens = self.spent()
        summary = RunSummary(
            run_dir=self.rundir.root, status=status, stop_reason=reason, steps=len(self.graph.done()),
            best_node=best, best_validation=self.graph[best].metric if best is not None else None,
            best_test=grade.test_score if grade else None, medal=medal,
            above_median=grade.above_median if grade and grade.test_score is not None else None,
            cost_usd=cost, tokens=tokens,
            elapsed=self.elapsed(), task=self.task)
        self.rundir.update_run(status=status, stop_reason=reason, finished_at=time.time(), steps=summary.steps,
                               best_node=best, best_validation=summary.best_validation, best_test=summary.best_test,
                               medal=medal, above_median=summary.above_median, cost_usd=round(cost, 6),
                               tokens=tokens)
        return summary
