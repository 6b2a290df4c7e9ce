"""The engine: grow the search graph with N workers until a budget runs out.

Each free worker asks the policy for an action, records a pending node in the journal, and
runs the node pipeline (context → prompt → LLM → code → sandbox → review → fitness → hidden
grading). A finished node is committed in one transaction, shown to the policy, and, if it is
the new best valid node, published to ``best/`` atomically. Budgets (steps, wall time with LLM
time included, cost, tokens) stop new work; the first Ctrl-C lets in-flight nodes finish, the
second aborts them. Resume (``--resume``) rebuilds the graph and the policy from the journal,
drops nodes that were in flight, and continues with what is left of the budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shutil
import signal
import sqlite3
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_dsl import __version__
from aira_dsl.plan import ModelPlan, OperatorPlan, Plan
from aira_dsl.prompting import build_messages
from aira_dsl.runtime.context import ContextBuilder, TimeInfo, installed_packages
from aira_dsl.runtime.fitness import FitnessEvaluator
from aira_dsl.runtime.journal import Journal, open_journal
from aira_dsl.runtime.outputs import collect_outputs
from aira_dsl.runtime.rundir import RunDir, RunInUse
from aira_dsl.search import Action, Graph, NodeView, apply_action, make_policy

__all__ = ["Engine", "EngineError", "NodeEvent", "RunOptions", "RunSummary"]


class EngineError(Exception):
    """A run cannot start or continue (bad task, sandbox, endpoint); message + hint."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


@dataclass
class RunOptions:
    task_ref: str
    out: Path
    seed: int = 0
    workers: int | None = None
    llm_cache: str = "off"
    llm_cache_path: Path | None = None
    mlebench_data_dir: Path | None = None
    task_cache_dir: Path | None = None
    hidden_validation: float | None = None
    gpus: list[int] | None = None
    sandbox_dirs: list[Path] | None = None
    base_url: str | None = None
    """Overrides every model's endpoint (the demo points all models at its scripted server)."""


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


@dataclass
class RunSummary:
    run_dir: Path
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


def _model_settings(model: ModelPlan, base_url: str | None) -> Any:
    from aira_dsl.llm import ModelSettings

    return ModelSettings(
        name=model.name, model=model.model, base_url=base_url or model.base_url, api_key_env=model.api_key_env,
        temperature=model.temperature, top_p=model.top_p, max_tokens=model.max_tokens,
        reasoning_effort=model.reasoning_effort, timeout=model.timeout, max_concurrency=model.max_concurrency,
        price_input_per_mtok=model.price_input_per_mtok, price_output_per_mtok=model.price_output_per_mtok,
        system_role=model.system_role)


def _ends_the_run(exc: BaseException) -> bool:
    """Errors of the machine or the endpoint (not of one node): they stop the run, with their message."""
    from aira_dsl.llm import LLMError
    from aira_dsl.sandbox import SandboxError

    return isinstance(exc, (EngineError, SandboxError, LLMError, sqlite3.Error, MemoryError))


def _buggy_reason(exec_info: dict[str, Any], review: dict[str, Any] | None, metric: float | None) -> str:
    """A short human reason for a buggy verdict (the fitness rule itself may be any expression)."""
    if exec_info["timed_out"]:
        return "timed out"
    if exec_info["oom_killed"]:
        return "killed by the memory limit"
    if exec_info["exit_code"] != 0:
        return f"exit code {exec_info['exit_code']}"
    if not exec_info["submission_valid"]:
        return f"invalid submission: {exec_info['submission_reason']}"
    if review is not None and review["is_bug"]:
        return f"the reviewer found a bug: {review['summary'][:200]}"
    notes = exec_info.get("reported_notes") or []
    if metric is None:
        return "no validation metric" + (f" ({notes[0]})" if notes else "")
    return "judged buggy by fitness.buggy"


class Engine:
    """One run of a plan on a task."""

    def __init__(self, plan: Plan, options: RunOptions, *, on_node: Callable[[NodeEvent], None] | None = None,
                 on_message: Callable[[str], None] | None = None):
        self.plan = plan
        self.options = options
        self.on_node = on_node or (lambda event: None)
        self.say = on_message or (lambda text: None)
        self.rundir = RunDir(options.out)
        self.workers = options.workers or plan.execution.workers
        self.stop_reason: str | None = None
        self.abort = False
        self._interrupts = 0
        self._orphans: list[asyncio.Future[Any]] = []
        self._tasks: dict[asyncio.Task[None], tuple[int, int]] = {}

    # ------------------------------------------------------------------ setup

    def _setup(self, resume: bool) -> None:
        from aira_dsl.llm import Accountant, OpenAIChatModel, ResponseCache
        from aira_dsl.runtime.taskservice import TaskService, TaskServiceError
        from aira_dsl.sandbox import SandboxError, assign_gpus, create_sandbox, detect_hardware, load_profile

        try:
            # One orchestrator per run directory; held until the run ends (or the process dies).
            self.run_lock = self.rundir.lock()
        except RunInUse as exc:
            raise EngineError(str(exc), hint="wait for it to finish, or stop it (Ctrl-C) before resuming") from None
        left = self.rundir.remove_leftovers()
        if left:
            self.say(f"removed {len(left)} leftover workspace(s) of a stopped run")
        try:
            self.tasks = TaskService(self.options.task_ref, mlebench_data_dir=self.options.mlebench_data_dir,
                                     cache_dir=self.options.task_cache_dir,
                                     hidden_validation=self.options.hidden_validation)
        except TaskServiceError as exc:
            raise EngineError(str(exc), exc.hint) from None
        self.task = self.tasks.info
        self.direction = self.task.direction
        self.fitness = FitnessEvaluator(self.plan, self.direction)
        self.rundir.root.mkdir(parents=True, exist_ok=True)
        self.journal: Journal = open_journal(self.rundir.root)
        try:
            profile = load_profile(self.plan.execution.sandbox, self.options.sandbox_dirs)
            gpu_sets = assign_gpus(self.workers, self.plan.execution.gpus_per_worker, self.options.gpus)
            self.gpu_sets = gpu_sets
            self.sandboxes = [create_sandbox(profile, workdir_root=self.rundir.work_dir, gpus=gpus)
                              for gpus in gpu_sets]
            for sandbox in self.sandboxes:  # before any node: data the sandbox's user can read
                sandbox.use_data(self.task.public_dir)
        except SandboxError as exc:
            raise EngineError(exc.message, exc.hint) from None
        limits = profile.limits
        self.default_limits = limits
        hardware = detect_hardware(gpu_sets[0] if gpu_sets else [], memory_limit=limits.memory_bytes,
                                   cpus=limits.cpus)
        task_ctx = {"id": self.task.id, "name": self.task.name, "description": self.task.description,
                    "data_preview": self.task.data_preview,
                    "metric": {"name": self.task.metric, "direction": self.direction}}
        self.contexts = ContextBuilder(self.plan, self.journal, task=task_ctx, hardware=hardware,
                                       packages=installed_packages())
        cache_path = self.options.llm_cache_path or (self.rundir.root / "llm-cache.sqlite")
        self.cache = ResponseCache(cache_path, self.options.llm_cache)  # type: ignore[arg-type]
        prior = self.journal.rows("SELECT COALESCE(SUM(cost_usd), 0) AS c, "
                                  "COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS t FROM llm_calls")[0]
        self.prior_cost, self.prior_tokens = float(prior["c"]), int(prior["t"])
        budget = self.plan.budget
        self.accountant = Accountant(
            max_cost_usd=None if budget.cost_usd is None else max(0.0, budget.cost_usd - self.prior_cost),
            max_tokens=None if budget.tokens is None else max(0, budget.tokens - self.prior_tokens))
        self.models = {name: OpenAIChatModel(_model_settings(m, self.options.base_url), self.accountant, self.cache)
                       for name, m in self.plan.models.items()}
        self.needs_review = self.fitness.reads("review") and "analyze" in self.plan.policy.roles
        self.policy = make_policy(self.plan.policy.kind, self.plan.policy.params, self.plan.policy.roles)
        existing = self.rundir.read_run()
        self.elapsed_before = float(self.journal.get_meta("elapsed", 0.0) or 0.0)
        if resume:
            dropped = self.journal.delete_pending()
            if dropped:
                self.say(f"resuming: re-running {len(dropped)} node(s) that were in flight: {dropped}")
            self.journal.event("resume", dropped=dropped)
        else:
            self.journal.set_meta("plan_hash", self.plan.plan_hash)
            self.journal.set_meta("plan", json.loads(self.plan.to_json()))
            self.journal.event("start", seed=self.options.seed, workers=self.workers)
            self.rundir.plan_json.write_text(self.plan.to_json(), encoding="utf-8")
        self.rundir.write_run({
            **existing, "run_id": existing.get("run_id") or self.rundir.root.name, "spec": self.plan.name,
            "plan_hash": self.plan.plan_hash,
            "task": {"id": self.task.id, "ref": self.options.task_ref, "metric": self.task.metric,
                     "direction": self.direction},
            "seed": self.options.seed, "workers": self.workers, "status": "running", "stop_reason": None,
            "created_at": existing.get("created_at") or time.time(), "finished_at": None,
            "sandbox": self.sandboxes[0].describe() if self.sandboxes else {},
            "gpus": [list(g) for g in gpu_sets],
            "aira_dsl_version": __version__})
        self.graph = self._load_graph()
        self.policy.rebuild(self.graph)
        done = len(self.graph.done())
        self.rng = random.Random(f"{self.options.seed}:{done}")
        self.best_id = self._best_id()
        self._publish_best()

    def _load_graph(self) -> Graph:
        graph = Graph()
        for rec in self.journal.nodes("done"):
            graph.add(NodeView(id=rec.id, parent_ids=rec.parent_ids, operator=rec.role, status="done",
                               buggy=bool(rec.buggy), fitness=None if rec.buggy else rec.fitness, metric=rec.metric,
                               plan=rec.plan or "", summary=rec.summary, debug_depth=rec.debug_depth, depth=rec.depth,
                               generation=rec.generation, island=rec.island))
        return graph

    # ------------------------------------------------------------------ budgets

    def elapsed(self) -> float:
        return self.elapsed_before + (time.monotonic() - self.started)

    def time_left(self) -> float | None:
        limit = self.plan.budget.time
        return None if limit is None else max(0.0, limit - self.elapsed())

    def _spent(self) -> tuple[float, int]:
        totals = self.accountant.totals()
        return (self.prior_cost + float(totals.cost_usd),
                self.prior_tokens + int(totals.prompt_tokens + totals.completion_tokens))

    def _budget_stop(self) -> str | None:
        budget = self.plan.budget
        if budget.steps is not None and len(self.graph) >= budget.steps:
            return "steps"
        left = self.time_left()
        if left is not None and left <= 0:
            return "time"
        cost, tokens = self._spent()
        if budget.cost_usd is not None and cost >= budget.cost_usd:
            return "cost"
        if budget.tokens is not None and tokens >= budget.tokens:
            return "tokens"
        if self.policy.finished(self.graph):
            return "policy-finished"
        return None

    def _times(self) -> TimeInfo:
        left = self.time_left()
        steps = self.plan.budget.steps
        exec_timeout = self.plan.budget.exec_timeout
        return TimeInfo(time_remaining=None if left is None else round(left),
                        steps_remaining=None if steps is None else max(0, steps - len(self.graph)),
                        execution_timeout=round(exec_timeout if left is None else min(exec_timeout, left)))

    # ------------------------------------------------------------------ the loop

    async def run(self, *, resume: bool = False) -> RunSummary:
        self.started = time.monotonic()
        try:
            self._setup(resume)
        except BaseException:
            if getattr(self, "tasks", None) is not None:
                self.tasks.close()
            if getattr(self, "run_lock", None) is not None:
                self.run_lock.release()
            raise
        loop = asyncio.get_running_loop()
        self._install_signals(loop)
        tasks = self._tasks
        free = list(range(self.workers))
        failing = True
        try:
            while True:
                while free and self.stop_reason is None:
                    self.stop_reason = self._budget_stop()
                    if self.stop_reason is not None:
                        break
                    action = self.policy.propose(self.graph, self.rng)
                    if action is None:
                        break  # e.g. an evolutionary generation waiting for its last offspring
                    worker = free.pop(0)
                    node_id = self._start_node(action, worker)
                    tasks[asyncio.create_task(self._pipeline(node_id, worker))] = (node_id, worker)
                if not tasks:
                    if self.stop_reason is None:
                        self.stop_reason = self._budget_stop() or "policy-finished"
                    break
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
                    if error is not None:
                        self.stop_reason = self.stop_reason or f"error: {error}"
                        self.say(f"node {node_id} failed: {error}")
                        self.abort = True
            failing = False
        finally:
            self._restore_signals(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            await self._wait_orphans()
            for model in self.models.values():
                await model.aclose()
            self.tasks.close()
            if failing:
                self.run_lock.release()  # _finish, which releases it, will not run
        return self._finish()

    def _start_node(self, action: Action, worker: int) -> int:
        node = apply_action(self.graph, action)
        op_name = self.plan.policy.roles.get(action.operator, action.operator)
        self.journal.add_pending(node.id, parent_ids=node.parent_ids, role=node.operator, operator=op_name,
                                 depth=node.depth, debug_depth=node.debug_depth, generation=node.generation,
                                 island=node.island, worker=worker, meta=action.meta)
        return node.id

    # ------------------------------------------------------------------ one node

    async def _pipeline(self, node_id: int, worker: int) -> None:
        from aira_dsl.llm import BudgetExceeded

        try:
            await self._develop(node_id, worker)
        except BudgetExceeded as exc:
            # The spend limit was reached before this node's next call: the node is dropped
            # (like any node in flight at the end) and the run stops.
            self.stop_reason = self.stop_reason or ("cost" if exc.limit == "cost_usd" else "tokens")
            raise asyncio.CancelledError from None
        except Exception as exc:
            if _ends_the_run(exc):
                raise
            self._node_failed(node_id, exc)

    def _node_failed(self, node_id: int, exc: BaseException) -> None:
        """An unexpected error while handling one node marks that node buggy; the run goes on."""
        error = f"internal error while handling this node: {type(exc).__name__}: {exc}"[:1000]
        self.say(f"node {node_id}: {error}")
        self.journal.event("node-error", node=node_id, error=error,
                           traceback="".join(traceback.format_exception(exc))[-4000:])
        node = self.graph.get(node_id)
        if node is None or node.status == "done":
            return
        self._commit(node_id, {"plan": node.plan or None, "code": None, "error": error}, None, None, None,
                     buggy=True, metric=None, value=None, fitness=None, summary=None)
        self.graph.finish(node_id, buggy=True, fitness=None, metric=None, plan=node.plan or "", summary=None)
        self.policy.observe(self.graph, node_id)
        self._after_node(node_id, True, None, error)

    async def _develop(self, node_id: int, worker: int) -> None:
        from aira_dsl.llm import CallInfo, ask_for_code

        node = self.graph[node_id]
        op: OperatorPlan = self.plan.operators[self.plan.policy.roles.get(node.operator, node.operator)]
        times = self._times()
        context = self.contexts.build(self.graph, op, node, times)
        messages = build_messages(self.plan, op, context)
        code_result = await ask_for_code(self.models[op.model], messages, retries=op.retries,
                                         info=CallInfo(op.name, op.kind, node_id))
        self._record_calls(node_id, op, messages, code_result.calls)
        record: dict[str, Any] = {"plan": code_result.plan, "code": code_result.code, "error": None}
        exec_info: dict[str, Any] | None = None
        review: dict[str, Any] | None = None
        grade: dict[str, Any] | None = None
        if code_result.code is None:
            record["error"] = f"no usable code after {code_result.attempts} attempt(s): {code_result.problem}"
            outcome_buggy, metric, value, fitness = True, None, None, None
        else:
            exec_info, grade = await self._execute(node_id, worker, code_result.code, times)
            if self.needs_review:
                review = await self._review(node_id, node, code_result.plan, code_result.code, exec_info, times)
            env = self._fitness_env(node, exec_info, review, grade)
            outcome = self.fitness.evaluate(env)
            if self.plan.fitness.oracle and grade and grade.get("test_score") is not None and not outcome.buggy:
                test = float(grade["test_score"])
                outcome = type(outcome)(outcome.metric, False, test, test if self.direction == "maximize" else -test)
            outcome_buggy, metric, value, fitness = outcome.buggy, outcome.metric, outcome.value, outcome.fitness
            record["error"] = outcome.error or (_buggy_reason(exec_info, review, metric) if outcome_buggy else None)
        summary = review["summary"] if review else None
        self._commit(node_id, record, exec_info, review, grade, buggy=outcome_buggy, metric=metric, value=value,
                     fitness=fitness, summary=summary)
        self.graph.finish(node_id, buggy=outcome_buggy, fitness=None if outcome_buggy else fitness, metric=metric,
                          plan=code_result.plan, summary=summary)
        self.policy.observe(self.graph, node_id)
        self._after_node(node_id, outcome_buggy, metric, record["error"])

    async def _execute(self, node_id: int, worker: int, code: str,
                       times: TimeInfo) -> tuple[dict[str, Any], dict[str, Any] | None]:
        sandbox = self.sandboxes[worker]
        loop = asyncio.get_running_loop()
        self.rundir.write_node_file(node_id, "solution.py", code)
        workspace = await loop.run_in_executor(None, lambda: sandbox.prepare(
            f"node-{node_id:05d}", self.task.public_dir, {"solution.py": code.encode("utf-8")}))
        wall = max(1.0, float(times.execution_timeout or self.plan.budget.exec_timeout))
        limits = self.default_limits.override(wall_time=wall)
        future = loop.run_in_executor(None, lambda: sandbox.run(workspace, "solution.py", limits))
        try:
            result = await asyncio.shield(future)
        except asyncio.CancelledError:
            # The sandbox kills the script at its own deadline; clean up once it has.
            future.add_done_callback(lambda _: sandbox.cleanup(workspace))
            self._orphans.append(future)
            raise
        staging = self.rundir.staging(node_id)
        try:
            # Everything is read back through the safe reader; the grader and the hidden scorer
            # see host copies in `staging`, never a workspace path.
            outputs = await loop.run_in_executor(None, lambda: collect_outputs(
                workspace.root, staging, hidden=self.task.has_hidden_validation))
            exists, reported = outputs.submission_exists, outputs.reported
            hidden = None
            if outputs.hidden is not None and outputs.refusal is None:
                hidden = await loop.run_in_executor(None, self.tasks.hidden_score, outputs.hidden)
            # Grading checks the submission first (an invalid one is never scored), so one call
            # gives both the validity the fitness rules read and the hidden test score.
            report = None
            if outputs.submission is not None and outputs.refusal is None:
                report = await loop.run_in_executor(None, self.tasks.grade, outputs.submission)
            valid = bool(report and report["valid"])
            reason = None if valid else (outputs.refusal or (report["reason"] if report else None)
                                         or "no submission.csv was written")
            grade = None
            if report is not None and valid and outputs.submission is not None:
                self.rundir.adopt_node_file(node_id, "submission.csv", outputs.submission)
                grade = {"test_score": report["score"], "valid_submission": True, "gold": report["gold"],
                         "silver": report["silver"], "bronze": report["bronze"],
                         "above_median": report["above_median"], "report": report["report"], "hidden_score": hidden}
            elif hidden is not None:
                grade = {"test_score": None, "valid_submission": False, "gold": False, "silver": False,
                         "bronze": False, "above_median": False, "report": {}, "hidden_score": hidden}
        finally:
            await loop.run_in_executor(None, sandbox.cleanup, workspace)
            shutil.rmtree(staging, ignore_errors=True)
        if outputs.notes:
            result.output += "".join(f"\n[aira-dsl] {note}" for note in outputs.notes) + "\n"
        self.rundir.write_node_file(node_id, "output.txt", result.output)
        info = {"exit_code": result.exit_code, "timed_out": result.timed_out, "oom_killed": result.oom_killed,
                "duration": result.duration, "output": result.output, "isolation": result.isolation,
                "submission_exists": exists, "submission_valid": valid, "submission_reason": reason,
                "reported": reported, "reported_notes": outputs.notes, "hidden_score": hidden}
        return info, grade

    async def _review(self, node_id: int, node: NodeView, plan_text: str, code: str, exec_info: dict[str, Any],
                      times: TimeInfo) -> dict[str, Any]:
        from aira_dsl.llm import CallInfo, ask_for_review

        op = self.plan.operators[self.plan.policy.roles["analyze"]]
        node_info = {"code": code, "plan": plan_text, "output": exec_info["output"],
                     "exit_code": exec_info["exit_code"], "timed_out": exec_info["timed_out"],
                     "duration": exec_info["duration"]}
        messages = build_messages(self.plan, op, self.contexts.analyze_context(self.graph, op, node_info, times))
        result = await ask_for_review(self.models[op.model], messages, info=CallInfo(op.name, "analyze", node_id),
                                      retries=op.retries)
        self._record_calls(node_id, op, messages, result.calls)
        return {"is_bug": bool(result.review.is_bug), "summary": result.review.summary or "",
                "metric": result.review.metric, "method": str(result.method) if result.method else None}

    def _fitness_env(self, node: NodeView, exec_info: dict[str, Any], review: dict[str, Any] | None,
                     grade: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "exec": {k: exec_info[k] for k in ("exit_code", "timed_out", "oom_killed", "duration")},
            "review": review or {"is_bug": False, "summary": "", "metric": None},
            "submission": {"exists": exec_info["submission_exists"], "valid": exec_info["submission_valid"],
                           "reason": exec_info["submission_reason"]},
            "reported": exec_info["reported"],
            "hidden": {"score": exec_info["hidden_score"]},
            "node": {"step": node.id, "depth": node.depth, "debug_depth": node.debug_depth,
                     "num_children": self.graph.num_children(node.id), "operator": node.operator, "buggy": None},
        }

    def _record_calls(self, node_id: int, op: OperatorPlan, messages: list[dict[str, str]], calls: Any) -> None:
        model = self.plan.models[op.model].model
        for attempt, call in enumerate(calls, start=1):
            usage = call.usage
            self.journal.conn.execute(
                "INSERT INTO llm_calls (node_id, operator, kind, model, attempt, messages, response, reasoning,"
                " prompt_tokens, completion_tokens, reasoning_tokens, cost_usd, latency, cached, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (node_id, op.name, op.kind, model, attempt, json.dumps(messages, ensure_ascii=False),
                 call.text if call.tool_arguments is None else call.tool_arguments, call.reasoning,
                 usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens, call.cost_usd,
                 call.latency, int(call.cached), time.time()))

    def _commit(self, node_id: int, record: dict[str, Any], exec_info: dict[str, Any] | None,
                review: dict[str, Any] | None, grade: dict[str, Any] | None, *, buggy: bool, metric: float | None,
                value: float | None, fitness: float | None, summary: str | None) -> None:
        with self.journal.transaction() as conn:
            if exec_info is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO executions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (node_id, exec_info["exit_code"], int(exec_info["timed_out"]), int(exec_info["oom_killed"]),
                     exec_info["duration"], exec_info["output"], exec_info["isolation"],
                     int(exec_info["submission_exists"]), int(exec_info["submission_valid"]),
                     exec_info["submission_reason"], json.dumps(exec_info["reported"], sort_keys=True)))
            if review is not None:
                conn.execute("INSERT OR REPLACE INTO reviews VALUES (?, ?, ?, ?, ?)",
                             (node_id, int(review["is_bug"]), review["summary"], review["metric"], review["method"]))
            if grade is not None:
                conn.execute("INSERT OR REPLACE INTO grades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (node_id, grade.get("hidden_score"), grade["test_score"], int(grade["valid_submission"]),
                              int(grade["gold"]), int(grade["silver"]), int(grade["bronze"]),
                              int(grade["above_median"]), json.dumps(grade["report"], sort_keys=True, default=str)))
            conn.execute(
                "UPDATE nodes SET status='done', buggy=?, metric=?, fitness=?, value=?, plan=?, code=?, summary=?,"
                " error=?, finished_at=? WHERE id=?",
                (int(buggy), metric, None if buggy else fitness, value, record["plan"], record["code"], summary,
                 record["error"], time.time(), node_id))
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('elapsed', ?)", (json.dumps(self.elapsed()),))

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

    def _after_node(self, node_id: int, buggy: bool, metric: float | None, error: str | None) -> None:
        best = self._best_id()
        if best != self.best_id:
            self.best_id = best
            self._publish_best()
        cost, tokens = self._spent()
        best_metric = self.graph[best].metric if best is not None else None
        self.rundir.update_run(steps=len(self.graph.done()), best_node=best, best_validation=best_metric,
                               cost_usd=round(cost, 6), tokens=tokens)
        self.on_node(NodeEvent(node_id, self.graph[node_id].operator, buggy, metric, best, best_metric, error,
                               len(self.graph.done()), self.elapsed(), cost, tokens))

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

    async def _wait_orphans(self) -> None:
        if self._orphans:
            await asyncio.wait(self._orphans, timeout=max(5.0, self.default_limits.wall_time))

    def _finish(self) -> RunSummary:
        dropped = self.journal.delete_pending()
        reason = self.stop_reason or "finished"
        status = "interrupted" if reason == "interrupted" else "failed" if reason.startswith("error") else "finished"
        self.journal.set_meta("elapsed", self.elapsed())
        self.journal.event("stop", reason=reason, dropped=dropped)
        best = self.best_id
        grade = None
        if best is not None:
            rows = self.journal.rows("SELECT * FROM grades WHERE node_id = ?", (best,))
            grade = dict(rows[0]) if rows else None
        medal = None
        if grade:
            medal = "gold" if grade["gold"] else "silver" if grade["silver"] else "bronze" if grade["bronze"] else None
        cost, tokens = self._spent()
        summary = RunSummary(
            run_dir=self.rundir.root, status=status, stop_reason=reason, steps=len(self.graph.done()),
            best_node=best, best_validation=self.graph[best].metric if best is not None else None,
            best_test=grade["test_score"] if grade else None, medal=medal,
            above_median=bool(grade["above_median"]) if grade else None, cost_usd=cost, tokens=tokens,
            elapsed=self.elapsed(), task={"id": self.task.id, "metric": self.task.metric, "direction": self.direction})
        self.rundir.update_run(status=status, stop_reason=reason, finished_at=time.time(), steps=summary.steps,
                               best_node=best, best_validation=summary.best_validation, best_test=summary.best_test,
                               medal=medal, above_median=summary.above_median, cost_usd=round(cost, 6),
                               tokens=tokens)
        try:
            self.journal.close()
            self.cache_close()
        finally:
            self.run_lock.release()
        return summary

    def cache_close(self) -> None:
        close = getattr(self.cache, "close", None)
        if callable(close):
            close()
