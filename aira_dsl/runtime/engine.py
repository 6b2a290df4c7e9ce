"""The engine: the composition root that builds a run's collaborators and hands them to the scheduler.

:func:`build_engine` is the one place where the task service, the sandboxes, the model clients,
the record/replay cache, the accountant, the journal and the policy are created; tests pass fakes
for any of them (in-memory models, sandboxes, graders) through the same function. The
:class:`~aira_dsl.runtime.scheduler.Scheduler` runs the loop; the
:class:`~aira_dsl.runtime.pipeline.NodePipeline` develops each node.

Resume (``--resume``, :func:`aira_dsl.runtime.resume.resume_run`) rebuilds the graph and the
policy from the journal, drops nodes that were in flight (and their workspaces), restores every
run option from ``run.json`` and continues with what is left of the budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aira_dsl import __version__
from aira_dsl.plan import Plan
from aira_dsl.runtime.context import ContextBuilder
from aira_dsl.runtime.fitness import FitnessEvaluator
from aira_dsl.runtime.journal import Journal, open_journal
from aira_dsl.runtime.options import RunOptions
from aira_dsl.runtime.pipeline import Grader, NodePipeline
from aira_dsl.runtime.rundir import RunDir, RunInUse
from aira_dsl.runtime.scheduler import NodeEvent, RunSummary, Scheduler
from aira_dsl.settings.model import ModelSettings

__all__ = ["Collaborators", "Engine", "EngineError", "NodeEvent", "RunOptions", "RunSummary", "build_engine"]


class EngineError(Exception):
    """A run cannot start or continue (bad task, sandbox, endpoint); message + hint."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def _model_settings(model: ModelSettings, base_url: str | None) -> ModelSettings:
    """The plan's model entry, pointed at ``base_url`` when the run overrides every endpoint."""
    return replace(model, base_url=base_url) if base_url else model


@dataclass
class Collaborators:
    """What a run is built from; leave a field None to get the real one."""

    grader: Any = None
    """A :class:`~aira_dsl.runtime.pipeline.Grader` with an ``info`` (the task) and ``close()``."""
    sandboxes: Sequence[Any] | None = None
    models: Mapping[str, Any] | None = None
    hardware: Mapping[str, Any] | None = None
    packages: list[str] | None = None


class Engine:
    """One run of a plan on a task (built on :meth:`run`, so construction never fails)."""

    def __init__(self, plan: Plan, options: RunOptions, *, on_node: Callable[[NodeEvent], None] | None = None,
                 on_message: Callable[[str], None] | None = None, collaborators: Collaborators | None = None):
        self.plan = plan
        self.options = options
        self.on_node = on_node or (lambda event: None)
        self.say = on_message or (lambda text: None)
        self.collaborators = collaborators or Collaborators()

    async def run(self, *, resume: bool = False) -> RunSummary:
        scheduler = await asyncio.get_running_loop().run_in_executor(
            None, lambda: build_engine(self.plan, self.options, resume=resume, on_node=self.on_node,
                                       on_message=self.say, collaborators=self.collaborators))
        return await scheduler.run()


def _task_service(options: RunOptions) -> Any:
    from aira_dsl.runtime.taskservice import TaskService, TaskServiceError

    try:
        return TaskService(options.task_ref, mlebench_data_dir=options.mlebench_data_dir,
                           cache_dir=options.task_cache_dir, hidden_validation=options.hidden_validation,
                           options=options.task_options)
    except TaskServiceError as exc:
        raise EngineError(str(exc), exc.hint) from None


def build_engine(plan: Plan, options: RunOptions, *, resume: bool = False,
                 on_node: Callable[[NodeEvent], None] | None = None, on_message: Callable[[str], None] | None = None,
                 collaborators: Collaborators | None = None) -> Scheduler:
    """Create every collaborator of a run (or take the given ones) and return its scheduler.

    Raises :class:`EngineError` when the task, the sandbox profile or the GPUs cannot be used.
    Whatever was created is closed again when building fails half-way.
    """
    from aira_dsl.llm import Accountant, OpenAIChatModel, ResponseCache
    from aira_dsl.sandbox import SandboxError, assign_gpus, create_sandbox, detect_hardware, load_profile
    from aira_dsl.search import make_policy

    given = collaborators or Collaborators()
    say = on_message or (lambda text: None)
    rundir = RunDir(options.out)
    workers = options.workers or plan.execution.workers
    closers: list[Callable[[], Any]] = []
    try:
        try:  # one orchestrator per run directory, held until the run ends (or the process dies)
            lock = rundir.lock()
        except RunInUse as exc:
            raise EngineError(str(exc), hint="wait for it to finish, or stop it (Ctrl-C) before resuming") from None
        closers.append(lock.release)
        left = rundir.remove_leftovers()
        if left:
            say(f"removed {len(left)} leftover workspace(s) of a stopped run")
        grader = given.grader if given.grader is not None else _task_service(options)
        closers.append(grader.close)
        task = grader.info
        rundir.root.mkdir(parents=True, exist_ok=True)
        journal: Journal = open_journal(rundir.root)
        closers.append(journal.close)
        try:
            profile = load_profile(plan.execution.sandbox, options.sandbox_dirs, confine=True)
            gpu_sets = assign_gpus(workers, plan.execution.gpus_per_worker, options.gpus)
            sandboxes = list(given.sandboxes) if given.sandboxes is not None else [
                create_sandbox(profile, workdir_root=rundir.work_dir, gpus=gpus) for gpus in gpu_sets]
            # Before any node: a view of the data the sandbox's user can read (a private copy
            # when the task's folder is not readable by it).
            views = [sandbox.use_data(Path(task.public_dir)) if hasattr(sandbox, "use_data")
                     else Path(task.public_dir) for sandbox in sandboxes]
        except SandboxError as exc:
            raise EngineError(exc.message, exc.hint) from None
        limits = profile.limits
        hardware = given.hardware if given.hardware is not None else detect_hardware(
            gpu_sets[0] if gpu_sets else [], memory_limit=limits.memory_bytes, cpus=limits.cpus)
        if given.packages is not None:  # a test's fake environment
            packages, sandbox_facts, description, environment = list(given.packages), None, task.description, {}
        else:  # what the sandbox's own interpreter can import, and the GPUs it really sees
            from aira_dsl.runtime.environment_facts import sandbox_facts as probe

            try:
                facts = probe(sandboxes[0], profile, dict(hardware), gpu_sets[0] if gpu_sets else [],
                              cache_dir=options.task_cache_dir, say=say)
            except SandboxError as exc:  # the sandbox cannot run even the probe: no node could run either
                raise EngineError(exc.message, exc.hint) from None
            hardware, packages, sandbox_facts = facts.hardware, facts.packages, facts.sandbox
            description, environment = facts.description(task, plan.budget), facts.to_dict()
        task_ctx = {"id": task.id, "name": task.name, "description": description,
                    "data_preview": task.data_preview, "data_notes": getattr(task, "data_notes", ""),
                    "metric": {"name": task.metric, "direction": task.direction}}
        contexts = ContextBuilder(plan, journal, task=task_ctx, hardware=hardware, packages=packages,
                                  sandbox=sandbox_facts if sandbox_facts is not None else
                                  {"network": False, "caches": []})
        cache = ResponseCache(options.llm_cache_path or (rundir.root / "llm-cache.sqlite"),
                              options.llm_cache)  # type: ignore[arg-type]
        closers.append(getattr(cache, "close", lambda: None))
        prior = journal.spent()
        budget = plan.budget
        accountant = Accountant(
            max_cost_usd=None if budget.cost_usd is None else max(0.0, budget.cost_usd - prior[0]),
            max_tokens=None if budget.tokens is None else max(0, budget.tokens - prior[1]))
        models = dict(given.models) if given.models is not None else {
            name: OpenAIChatModel(_model_settings(m, options.base_url), accountant, cache)
            for name, m in plan.models.items()}
        policy = make_policy(plan.policy.kind, plan.policy.params, plan.policy.roles)
        elapsed_before = float(journal.get_meta("elapsed", 0.0) or 0.0)
        existing = rundir.read_run()
        if resume:
            dropped = journal.delete_pending()
            if dropped:
                say(f"resuming: re-running {len(dropped)} node(s) that were in flight: {dropped}")
            journal.event("resume", dropped=dropped, options=options.to_record())
        else:
            journal.set_meta("plan_hash", plan.plan_hash)
            journal.set_meta("plan", json.loads(plan.to_json()))
            journal.event("start", seed=options.seed, workers=workers, options=options.to_record())
            rundir.plan_json.write_text(plan.to_json(), encoding="utf-8")
        rundir.write_run({
            **existing, "run_id": existing.get("run_id") or rundir.root.name, "spec": plan.name,
            "plan_hash": plan.plan_hash,
            "task": {"id": task.id, "ref": options.task_ref, "metric": task.metric, "direction": task.direction,
                     "options": dict(options.task_options), "has_test_score": getattr(task, "has_test_score", True),
                     "notes": list(getattr(task, "notes", ()))},
            "environment": environment,
            "seed": options.seed, "workers": workers, "status": "running", "stop_reason": None,
            "options": options.to_record(),
            "created_at": existing.get("created_at") or time.time(), "finished_at": None,
            "sandbox": sandboxes[0].describe() if sandboxes else {}, "gpus": [list(g) for g in gpu_sets],
            "aira_dsl_version": __version__})
        executor = ThreadPoolExecutor(max_workers=2 * workers + 2, thread_name_prefix="aira-node")
        pipeline = NodePipeline(
            plan=plan, models=models, sandboxes=sandboxes, grader=_as_grader(grader), contexts=contexts,
            fitness=FitnessEvaluator(plan, task.direction), rundir=rundir, data_dirs=views,
            limits=limits, executor=executor, on_call=journal.record_call, direction=task.direction)

        async def close() -> None:
            for model in models.values():
                closer = getattr(model, "aclose", None)
                if closer is not None:
                    await closer()
            executor.shutdown(wait=True, cancel_futures=False)
            for closer in reversed(closers):
                closer()

        return Scheduler(plan, pipeline=pipeline, policy=policy, journal=journal, rundir=rundir, workers=workers,
                         seed=options.seed, accountant=accountant, prior_spent=prior, elapsed_before=elapsed_before,
                         task={"id": task.id, "metric": task.metric, "direction": task.direction},
                         on_node=on_node or (lambda event: None), say=say, close=close)
    except BaseException:
        for closer in reversed(closers):
            with contextlib.suppress(Exception):  # the original error is what the user must see
                closer()
        raise


def _as_grader(service: Any) -> Grader:
    grader: Grader = service
    return grader
