"""The node pipeline: what happens to one node, from its context to its grade.

    context → prompt → generate (LLM) → sandbox → read-back → submission check → review → fitness → grade

Each stage is a method with its collaborators passed in (a :class:`~aira_dsl.llm.types.ChatModel`
per model, a :class:`~aira_dsl.sandbox.base.Sandbox` per worker, a :class:`Grader` for the task),
so the pipeline can be tested with in-memory fakes and the scheduler stays a scheduler. The
pipeline returns a :class:`~aira_dsl.runtime.records.NodeOutcome`; the scheduler commits it.

Order matters: the review sees whether the submission was accepted (and why not); fitness sees
the review; grading on the private answers comes last and feeds nothing back into the search —
unless ``fitness.oracle`` is set, an ablation in which the grade is taken before fitness and the
test score replaces the fitness of valid nodes.

The generate stage is chosen per operator kind (:data:`GENERATORS`): today every code kind
makes one LLM call (re-asked while the answer holds no code); pipelines of several calls and
tool-using agents plug in here.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from aira_dsl.diagnostics import DiagnosticError
from aira_dsl.plan import OperatorPlan, Plan
from aira_dsl.prompting import build_messages
from aira_dsl.runtime.context import ContextBuilder, TimeInfo, node_env
from aira_dsl.runtime.fitness import FitnessEvaluator
from aira_dsl.runtime.outputs import collect_outputs
from aira_dsl.runtime.records import CallRecord, Execution, Grade, NodeOutcome, Review, SubmissionCheck
from aira_dsl.runtime.rundir import RunDir
from aira_dsl.sandbox.base import Limits, Sandbox
from aira_dsl.search import Graph, NodeView

__all__ = [
    "GENERATORS",
    "CodeGenerator",
    "Generated",
    "Generator",
    "Grader",
    "NodePipeline",
    "RecordingModel",
    "buggy_reason",
]


_T = TypeVar("_T")


class Grader(Protocol):
    """The task, as the pipeline needs it (``aira_dsl.runtime.taskservice.TaskService``)."""

    @property
    def has_hidden_validation(self) -> bool:
        """Whether the task holds rows back (the solution then writes hidden-validation predictions)."""
        ...

    def check(self, submission: Path) -> SubmissionCheck:
        """Format check of a submission file (no score)."""
        ...

    def hidden_score(self, predictions: Path) -> float | None:
        """The score of hidden-validation predictions (a host copy of the CSV) on the held-back rows."""
        ...

    def grade(self, submission: Path) -> Grade:
        """Score a valid submission on the private answers."""
        ...


class RecordingModel:
    """A :class:`~aira_dsl.llm.types.ChatModel` that reports each call the moment it returns.

    The pipeline wraps a node's model in one, so every call is journaled when it is made (money
    spent survives a crash) and nothing in the LLM layer needs to know about journals.
    """

    def __init__(self, inner: Any, on_call: Callable[[Sequence[Mapping[str, str]], Any], None]) -> None:
        self._inner = inner
        self._on_call = on_call

    @property
    def settings(self) -> Any:
        return self._inner.settings

    @property
    def review_method(self) -> Any:
        return self._inner.review_method

    @review_method.setter
    def review_method(self, value: Any) -> None:
        self._inner.review_method = value

    async def chat(self, messages: Sequence[Mapping[str, str]], **kwargs: Any) -> Any:
        result = await self._inner.chat(messages, **kwargs)
        self._on_call([dict(m) for m in messages], result)
        return result


@dataclass(frozen=True)
class Generated:
    """What a generate stage produced: the solution's plan and code (None: no usable code)."""

    plan: str
    code: str | None
    problem: str | None
    attempts: int


class Generator(Protocol):
    """How an operator kind turns its rendered prompt into a solution."""

    async def generate(self, model: Any, messages: list[dict[str, str]], op: OperatorPlan, node_id: int) -> Generated:
        ...


class CodeGenerator:
    """One LLM call, re-asked up to the operator's ``retries`` while the answer holds no code."""

    async def generate(self, model: Any, messages: list[dict[str, str]], op: OperatorPlan, node_id: int) -> Generated:
        from aira_dsl.llm import CallInfo, ask_for_code

        result = await ask_for_code(model, messages, retries=op.retries, info=CallInfo(op.name, op.kind, node_id))
        return Generated(result.plan, result.code, result.problem, result.attempts)


GENERATORS: dict[str, Generator] = {}
"""Operator kind → its generate stage; kinds not listed use :class:`CodeGenerator`."""


def buggy_reason(execution: Execution, review: Review | None, metric: float | None,
                 notes: Sequence[str] = ()) -> str:
    """A short human reason for a buggy verdict (the fitness rule itself may be any expression)."""
    if execution.timed_out:
        return "timed out"
    if execution.oom_killed:
        return "killed by the memory limit"
    if execution.exit_code != 0:
        return f"exit code {execution.exit_code}"
    if not execution.submission_valid:
        return f"invalid submission: {execution.submission_reason}"
    if review is not None and review.is_bug:
        return f"the reviewer found a bug: {review.summary[:200]}"
    if metric is None:
        return "no validation metric" + (f" ({notes[0]})" if notes else "")
    return "judged buggy by fitness.buggy"


class _PromptFailed(Exception):
    """An operator's prompt could not be rendered; ``reason`` becomes the node's error."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Run:
    """The execution stage's result, before it becomes a record."""

    execution: Execution
    submission_copy: Path | None
    hidden_score: float | None
    notes: list[str] = field(default_factory=list)
    """Reported values that were ignored (why the metric may be missing)."""


@dataclass
class NodePipeline:
    """Develops one node at a time per worker; its collaborators are passed in."""

    plan: Plan
    models: Mapping[str, Any]
    sandboxes: Sequence[Sandbox]
    grader: Grader
    contexts: ContextBuilder
    fitness: FitnessEvaluator
    rundir: RunDir
    data_dirs: Sequence[Path | None]
    """Per worker: the task's public data as that worker's sandbox reads it."""
    limits: Limits
    executor: Executor | None = None
    on_call: Callable[[CallRecord], None] = lambda call: None
    generators: Mapping[str, Generator] = field(default_factory=lambda: GENERATORS)
    direction: str = "maximize"

    def __post_init__(self) -> None:
        self.needs_review = self.fitness.reads("review") and "analyze" in self.plan.policy.roles
        self._orphans: list[asyncio.Future[Any]] = []

    async def wait_orphans(self) -> None:
        """Wait for executions whose node was cancelled: each ends at its own deadline, and its
        workspace is cleaned up then."""
        if self._orphans:
            await asyncio.wait(self._orphans, timeout=max(5.0, self.limits.wall_time))

    async def _off_loop(self, fn: Callable[[], _T]) -> _T:
        """Run blocking work (sandbox, rendering, file reads, grading requests) in the engine's pool."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)

    async def _messages(self, op: OperatorPlan, context: Mapping[str, Any]) -> list[dict[str, str]]:
        """Render ``op``'s prompt off the event loop (in a bounded renderer process, see
        :mod:`aira_dsl.templates.renderer`). A template that fails or goes past a limit fails
        this node only: :class:`_PromptFailed` carries the reason with the template position."""
        try:
            return await self._off_loop(lambda: build_messages(self.plan, op, context))
        except DiagnosticError as exc:
            where = "; ".join(f"{d.location()}: {d.message} [{d.code}]" for d in exc.diagnostics)
            raise _PromptFailed(f"the prompt of operator {op.name!r} could not be rendered: {where}"[:1000]) from None

    def _model(self, op: OperatorPlan, node_id: int) -> RecordingModel:
        model_name = self.plan.models[op.model].model
        attempts = [0]

        def record(messages: Sequence[Mapping[str, str]], result: Any) -> None:
            attempts[0] += 1
            usage = result.usage
            self.on_call(CallRecord(
                node_id=node_id, operator=op.name, kind=op.kind, model=model_name, attempt=attempts[0],
                messages=[dict(m) for m in messages],
                response=result.text if result.tool_arguments is None else result.tool_arguments,
                reasoning=result.reasoning, prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens, reasoning_tokens=usage.reasoning_tokens,
                cost_usd=result.cost_usd, latency=result.latency, cached=bool(result.cached)))

        return RecordingModel(self.models[op.model], record)

    # ------------------------------------------------------------------ the stages

    async def run(self, graph: Graph, node: NodeView, worker: int, times: TimeInfo,
                  allowance: Callable[[], float | None] | None = None) -> NodeOutcome:
        """Develop ``node`` (pending in ``graph``) on ``worker``'s sandbox.

        ``times`` is what the prompt is told; ``allowance`` gives the execution's time limit when
        the execution starts (after the LLM call, whose latency it accounts for); without it the
        prompt's ``execution_timeout`` is used.
        """
        op = self.plan.operators[node.operator]
        context = self.contexts.build(graph, op, node, times)
        try:
            messages = await self._messages(op, context)
        except _PromptFailed as failed:
            return NodeOutcome(node.id, buggy=True, metric=None, value=None, fitness=None, plan="", code=None,
                               summary=None, error=failed.reason)
        generator = self.generators.get(op.kind) or CodeGenerator()
        generated = await generator.generate(self._model(op, node.id), messages, op, node.id)
        if generated.code is None:
            return NodeOutcome(node.id, buggy=True, metric=None, value=None, fitness=None, plan=generated.plan,
                               code=None, summary=None,
                               error=f"no usable code after {generated.attempts} attempt(s): {generated.problem}")
        staging = self.rundir.staging(node.id)
        try:
            limit = allowance() if allowance is not None else times.execution_timeout
            run = await self._execute(node.id, worker, generated.code, limit, staging)
            try:
                review = await self._review(graph, node, generated, run.execution, times) if self.needs_review else None
            except _PromptFailed as failed:
                return NodeOutcome(node.id, buggy=True, metric=None, value=None, fitness=None, plan=generated.plan,
                                   code=generated.code, summary=None, error=failed.reason, execution=run.execution)
            grade = None
            if self.plan.fitness.oracle:
                grade = await self._grade(run)
            outcome = self.fitness.evaluate(self._fitness_env(graph, node, run, review))
            if self.plan.fitness.oracle and grade is not None and grade.test_score is not None and not outcome.buggy:
                test = float(grade.test_score)
                outcome = type(outcome)(outcome.metric, False, test, test if self.direction == "maximize" else -test)
            if not self.plan.fitness.oracle:
                grade = await self._grade(run)
            if run.submission_copy is not None:  # keep the checked copy as the node's submission
                copy = run.submission_copy
                await self._off_loop(lambda: self.rundir.adopt_node_file(node.id, "submission.csv", copy))
        finally:
            await self._off_loop(lambda: shutil.rmtree(staging, ignore_errors=True))
        error = outcome.error or (buggy_reason(run.execution, review, outcome.metric, run.notes)
                                  if outcome.buggy else None)
        return NodeOutcome(node.id, buggy=outcome.buggy, metric=outcome.metric, value=outcome.value,
                           fitness=outcome.fitness, plan=generated.plan, code=generated.code,
                           summary=review.summary if review else None, error=error, execution=run.execution,
                           review=review, grade=grade)

    async def _execute(self, node_id: int, worker: int, code: str, limit: float | None, staging: Path) -> _Run:
        """Sandbox → read-back → submission check (and the hidden-validation score).

        ``limit`` is the execution's time allowance in seconds (None: the plan's exec_timeout);
        an allowance of 0 (no time left) still gives the script one second, never the full limit.
        Everything the host takes back from the workspace goes through the safe reader
        (:func:`aira_dsl.runtime.outputs.collect_outputs`) into host-owned ``staging``: the grader
        and the hidden-validation scorer only ever see those copies. A refused file (a link, a
        FIFO, too large) makes the submission invalid with the refusal as its reason.
        """
        sandbox = self.sandboxes[worker]
        self.rundir.write_node_file(node_id, "solution.py", code)
        data_dir = self.data_dirs[worker] if worker < len(self.data_dirs) else None
        workspace = await self._off_loop(lambda: sandbox.prepare(
            f"node-{node_id:05d}", data_dir, {"solution.py": code.encode("utf-8")}))
        wall = max(1.0, float(self.plan.budget.exec_timeout if limit is None else limit))
        limits = self.limits.override(wall_time=wall)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, lambda: sandbox.run(workspace, "solution.py", limits))
        try:
            result = await asyncio.shield(future)
        except asyncio.CancelledError:
            # The sandbox kills the script at its own deadline; clean up once it has.
            future.add_done_callback(lambda _: sandbox.cleanup(workspace))
            self._orphans.append(future)
            raise
        try:
            outputs = await self._off_loop(lambda: collect_outputs(
                workspace.root, staging, hidden=self.grader.has_hidden_validation))
            hidden = None
            if outputs.hidden is not None and outputs.refusal is None:
                predictions = outputs.hidden
                hidden = await self._off_loop(lambda: self.grader.hidden_score(predictions))
            if outputs.refusal is not None:
                check = SubmissionCheck(outputs.submission_exists, False, outputs.refusal)
            elif outputs.submission is not None:
                copy = outputs.submission
                check = await self._off_loop(lambda: self.grader.check(copy))
            else:
                check = SubmissionCheck.missing()
        finally:
            await self._off_loop(lambda: sandbox.cleanup(workspace))
        output = result.output
        if outputs.notes:
            output += "".join(f"\n[aira-dsl] {note}" for note in outputs.notes) + "\n"
        self.rundir.write_node_file(node_id, "output.txt", output)
        execution = Execution(
            exit_code=result.exit_code, timed_out=result.timed_out, oom_killed=result.oom_killed,
            duration=result.duration, output=output, isolation=result.isolation,
            submission_exists=check.exists, submission_valid=check.valid, submission_reason=check.reason,
            reported=outputs.reported)
        return _Run(execution, outputs.submission if check.valid else None, hidden, list(outputs.notes))

    async def _review(self, graph: Graph, node: NodeView, generated: Generated, execution: Execution,
                      times: TimeInfo) -> Review:
        from aira_dsl.llm import CallInfo, ask_for_review

        op = self.plan.operators[self.plan.policy.roles["analyze"]]
        node_info = {"code": generated.code, "plan": generated.plan, "output": execution.output,
                     "exit_code": execution.exit_code, "timed_out": execution.timed_out,
                     "duration": execution.duration,
                     "submission": {"exists": execution.submission_exists, "valid": execution.submission_valid,
                                    "reason": execution.submission_reason}}
        context = self.contexts.analyze_context(graph, op, node_info, times)
        messages = await self._messages(op, context)
        result = await ask_for_review(self._model(op, node.id), messages, info=CallInfo(op.name, op.kind, node.id),
                                      retries=op.retries)
        return Review(is_bug=bool(result.review.is_bug), summary=result.review.summary or "",
                      metric=result.review.metric, method=str(result.method) if result.method else None)

    def _fitness_env(self, graph: Graph, node: NodeView, run: _Run, review: Review | None) -> dict[str, Any]:
        """The ``fitness`` expression context (``aira_dsl.expr.contexts``) of a node."""
        execution = run.execution
        return {
            "exec": {"exit_code": execution.exit_code, "timed_out": execution.timed_out,
                     "oom_killed": execution.oom_killed, "duration": execution.duration},
            "review": ({"is_bug": review.is_bug, "summary": review.summary, "metric": review.metric}
                       if review else {"is_bug": False, "summary": "", "metric": None}),
            "submission": {"exists": execution.submission_exists, "valid": execution.submission_valid,
                           "reason": execution.submission_reason},
            "reported": execution.reported,
            "hidden": {"score": run.hidden_score},
            "node": node_env(graph, node),
        }

    async def _grade(self, run: _Run) -> Grade | None:
        """Score a valid submission on the private answers; None when there is nothing to grade."""
        if run.submission_copy is None:
            if run.hidden_score is None:
                return None
            return Grade(hidden_score=run.hidden_score, test_score=None, valid_submission=False, gold=False,
                         silver=False, bronze=False, above_median=False)
        copy = run.submission_copy
        grade = await self._off_loop(lambda: self.grader.grade(copy))
        return Grade(hidden_score=run.hidden_score, test_score=grade.test_score,
                     valid_submission=grade.valid_submission, gold=grade.gold, silver=grade.silver,
                     bronze=grade.bronze, above_median=grade.above_median, report=grade.report)

