"""The execution allowance: computed when the execution starts, never "unset" when it is zero.

Two fixes had no test: an allowance of 0 s (no time left) used to read as "unset" (``or``) and
grant the plan's full ``exec_timeout`` (4 h by default); and the allowance was computed before
the LLM call, so a slow model call was not taken off the execution's time. The sandbox here
records the limits it is given.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fakes import SUBMISSION, Behaviour, FakeGrader, FakeModel, FakeSandbox, answer_with

from aira_dsl.compiler import compile_spec
from aira_dsl.plan import Plan
from aira_dsl.runtime.context import ContextBuilder, TimeInfo
from aira_dsl.runtime.engine import Collaborators, Engine, RunOptions
from aira_dsl.runtime.fitness import FitnessEvaluator
from aira_dsl.runtime.journal import open_journal
from aira_dsl.runtime.pipeline import NodePipeline
from aira_dsl.runtime.rundir import RunDir
from aira_dsl.sandbox.base import ExecResult, Limits, Workspace
from aira_dsl.search import Action, Graph, apply_action

SPEC = """\
    version: 1
    name: allowance-test
    models:
      coder: {{model: fake, api_key_env: null}}
    operators:
      draft: {{kind: draft, model: coder, prompt: "Solve. You have {{{{ task.execution_timeout }}}} s.", retries: 0}}
      improve: {{kind: improve, model: coder, prompt: "Improve {{{{ parent.plan }}}}."}}
      debug: {{kind: debug, model: coder, prompt: "Fix {{{{ parent.output }}}}."}}
    policy: {{kind: greedy, num_drafts: 1}}
    fitness: {{metric: reported.cv, buggy: "metric == null"}}
    budget: {budget}
    """


class LimitRecorder(FakeSandbox):
    """A fake sandbox that remembers the wall time of every run it is asked for."""

    walls: list[float]

    def run(self, workspace: Workspace, script_name_or_argv: str | Sequence[str], limits: Limits,
            env: Mapping[str, str] = {}) -> ExecResult:
        self.walls.append(limits.wall_time)
        return super().run(workspace, script_name_or_argv, limits, env)


def compile_plan(tmp_path: Path, budget: str) -> Plan:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(SPEC.format(budget=budget)))
    result = compile_spec(path)
    assert result.plan is not None, result.diagnostics.sorted()
    return result.plan


def recorder(tmp_path: Path, log: list[str]) -> LimitRecorder:
    sandbox = LimitRecorder(tmp_path / "work", {"good": Behaviour(files={**SUBMISSION,
                                                                         "working/metrics.json": '{"cv": 0.5}'})}, log)
    sandbox.walls = []
    return sandbox


def develop_one(tmp_path: Path, plan: Plan, times: TimeInfo, allowance: Any) -> LimitRecorder:
    """One draft node through the pipeline, with the given prompt times and allowance."""
    log: list[str] = []
    (tmp_path / "run").mkdir(parents=True)
    journal = open_journal(tmp_path / "run")
    sandbox = recorder(tmp_path, log)
    model = FakeModel(lambda messages, kwargs: answer_with("good"), log)
    contexts = ContextBuilder(plan, journal, task={"id": "t", "name": "t", "description": "d", "data_preview": "",
                                                   "metric": {"name": "cv", "direction": "maximize"}},
                              hardware={"gpus": [], "cpus": 1, "memory_gb": None}, packages=[])
    pipeline = NodePipeline(plan=plan, models={"coder": model}, sandboxes=[sandbox], grader=FakeGrader(log),
                            contexts=contexts, fitness=FitnessEvaluator(plan, "maximize"),
                            rundir=RunDir(tmp_path / "run"), data_dirs=[None], limits=Limits(wall_time=60))
    graph = Graph()
    node = apply_action(graph, Action("draft"), roles=plan.policy.roles)
    journal.add_pending(node.id, parent_ids=(), role="draft", operator="draft", kind="draft", depth=0,
                        debug_depth=0, generation=None, island=None, worker=0, meta={})
    outcome = asyncio.run(pipeline.run(graph, node, 0, times, allowance))
    assert outcome.execution is not None and not outcome.buggy, outcome.error
    journal.close()
    return sandbox


def test_a_zero_allowance_gives_one_second_not_the_full_exec_timeout(tmp_path: Path) -> None:
    plan = compile_plan(tmp_path, "{steps: 1}")
    assert plan.budget.exec_timeout == 4 * 3600
    times = TimeInfo(time_remaining=0, steps_remaining=1, execution_timeout=0)
    assert develop_one(tmp_path / "a", plan, times, lambda: 0.0).walls == [1.0]
    # without an allowance function the prompt's execution_timeout (0 here) is the limit
    assert develop_one(tmp_path / "b", plan, times, None).walls == [1.0]
    # and an allowance that was simply not computed (None) falls back to the plan's exec_timeout
    assert develop_one(tmp_path / "c", plan, TimeInfo(None, None, None), None).walls == [4 * 3600.0]


def test_the_allowance_is_taken_after_the_llm_call(tmp_path: Path) -> None:
    """A model that takes 1.5 s to answer: the prompt is told the allowance at prompt time, the
    sandbox gets what is left when the execution starts (time budget 40 s, exec_timeout 1 h)."""
    plan = compile_plan(tmp_path, "{steps: 1, time: 40s, exec_timeout: 1h}")
    log: list[str] = []
    sandbox = recorder(tmp_path, log)
    model = FakeModel(lambda messages, kwargs: answer_with("good"), log, delay=1.5)
    collaborators = Collaborators(grader=FakeGrader(log), sandboxes=[sandbox], models={"coder": model},
                                  hardware={"gpus": [], "cpus": 1, "memory_gb": None}, packages=[])
    summary = asyncio.run(Engine(plan, RunOptions(task_ref="fake", out=tmp_path / "run", workers=1),
                                 collaborators=collaborators).run())
    assert summary.status == "finished" and summary.steps == 1
    told = float(model.calls[0][0]["content"].removeprefix("Solve. You have ").removesuffix(" s."))
    assert 38 <= told <= 40  # min(exec_timeout, time left) when the prompt was built
    [wall] = sandbox.walls
    assert wall <= told - 1.4, (told, wall)  # the model's 1.5 s are no longer available to run
    assert wall >= told - 5  # ...and nothing else was taken off
