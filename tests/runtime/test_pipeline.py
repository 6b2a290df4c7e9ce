"""The node pipeline with in-memory collaborators: every fitness source, every failure path, the
oracle switch and the order of the stages (no HTTP, no subprocess; a real journal and run folder)."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest
from fakes import SUBMISSION, Behaviour, FakeGrader, FakeModel, FakeSandbox, FakeTaskInfo, answer_with

from aira_dsl.compiler import compile_spec
from aira_dsl.plan import Plan
from aira_dsl.runtime.context import ContextBuilder, TimeInfo
from aira_dsl.runtime.fitness import FitnessEvaluator
from aira_dsl.runtime.journal import open_journal
from aira_dsl.runtime.pipeline import NodePipeline
from aira_dsl.runtime.records import CallRecord, NodeOutcome
from aira_dsl.runtime.rundir import RunDir
from aira_dsl.sandbox.base import Limits
from aira_dsl.search import Action, Graph, apply_action

TIMES = TimeInfo(time_remaining=3600, steps_remaining=5, execution_timeout=600)


def plan_for(tmp_path: Path, fitness: str = "", extra: str = "") -> Plan:
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent(f"""\
        version: 1
        name: pipeline-test
        models:
          coder: {{model: fake, api_key_env: null}}
        operators:
          draft: {{kind: draft, model: coder, prompt: "Solve {{{{ task.name }}}}.", retries: 1}}
          improve: {{kind: improve, model: coder, prompt: "Improve {{{{ parent.plan }}}}."}}
          debug: {{kind: debug, model: coder, prompt: "Fix {{{{ parent.output }}}}."}}
          analyze: {{kind: analyze, model: coder, prompt: "Review {{{{ node.output }}}}."}}
        policy: {{kind: greedy, num_drafts: 1}}
        {fitness}
        {extra}
        """))
    result = compile_spec(spec)
    assert result.plan is not None, result.diagnostics.sorted()
    return result.plan


class Harness:
    def __init__(self, tmp_path: Path, plan: Plan, behaviours: dict[str, Behaviour], answers: list[str],
                 *, review: dict[str, Any] | None = None, hidden: float | None = None,
                 info: FakeTaskInfo | None = None) -> None:
        self.log: list[str] = []
        self.calls: list[CallRecord] = []
        (tmp_path / "run").mkdir(parents=True, exist_ok=True)
        self.journal = open_journal(tmp_path / "run")
        self.rundir = RunDir(tmp_path / "run")
        queue = list(answers)
        self.model = FakeModel(lambda messages, kwargs: queue.pop(0) if queue else "no code here", self.log,
                               review=review)
        self.grader = FakeGrader(self.log, info=info or FakeTaskInfo(), hidden=hidden)
        self.sandbox = FakeSandbox(tmp_path / "work", behaviours, self.log)
        self.graph = Graph()
        self.plan = plan
        contexts = ContextBuilder(plan, self.journal, task={"id": "t", "name": "fake task", "description": "d",
                                                            "data_preview": "",
                                                            "metric": {"name": "acc", "direction": "maximize"}},
                                  hardware={"gpus": [], "cpus": 1, "memory_gb": None}, packages=[])
        self.pipeline = NodePipeline(plan=plan, models={"coder": self.model}, sandboxes=[self.sandbox],
                                     grader=self.grader, contexts=contexts,
                                     fitness=FitnessEvaluator(plan, "maximize"), rundir=self.rundir,
                                     data_dirs=[None], limits=Limits(wall_time=60), on_call=self.calls.append)

    def develop(self, role: str = "draft", parents: tuple[int, ...] = ()) -> NodeOutcome:
        node = apply_action(self.graph, Action(role, parents), roles=self.plan.policy.roles,
                            kinds={n: o.kind for n, o in self.plan.operators.items()})
        self.journal.add_pending(node.id, parent_ids=node.parent_ids, role=node.role or "", operator=node.operator,
                                 kind=node.kind, depth=node.depth, debug_depth=node.debug_depth, generation=None,
                                 island=None, worker=0, meta={})
        outcome = asyncio.run(self.pipeline.run(self.graph, node, 0, TIMES))
        self.journal.commit_outcome(outcome, elapsed=1.0)
        self.graph.finish(node.id, buggy=outcome.buggy, fitness=outcome.fitness, metric=outcome.metric,
                          plan=outcome.plan, duration=outcome.exec_time)
        return outcome


def test_review_metric_is_the_default_fitness_and_stages_run_in_order(tmp_path: Path) -> None:
    h = Harness(tmp_path, plan_for(tmp_path), {"good": Behaviour(files=SUBMISSION)}, [answer_with("good")],
                review={"is_bug": False, "summary": "fine", "metric": 0.61})
    outcome = h.develop()
    assert (outcome.buggy, outcome.metric, outcome.fitness) == (False, 0.61, 0.61)
    assert h.log == ["llm:draft", "sandbox:prepare", "sandbox:run:good", "grader:check", "sandbox:cleanup",
                     "llm:analyze", "grader:grade"]
    assert outcome.grade is not None and outcome.grade.test_score == 0.75
    assert outcome.execution is not None and outcome.execution.submission_valid
    # every call is handed to the journal as it returns, with the messages as sent
    assert [(c.kind, c.attempt) for c in h.calls] == [("draft", 1), ("analyze", 1)]
    assert "Solve fake task." in h.calls[0].messages[0]["content"]
    assert (h.rundir.node_dir(0) / "submission.csv").read_text() == SUBMISSION["submission/submission.csv"]


def test_reported_metric_as_fitness_needs_no_review(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, 'fitness: {metric: reported.cv, buggy: "metric == null or not submission.valid"}')
    files = {**SUBMISSION, "working/metrics.json": '{"cv": 0.42, "huge": 1e300, "text": "x"}'}
    h = Harness(tmp_path, plan, {"good": Behaviour(files=files)}, [answer_with("good")])
    outcome = h.develop()
    assert (outcome.buggy, outcome.metric) == (False, 0.42)
    assert "llm:analyze" not in h.log
    assert outcome.execution is not None and outcome.execution.reported == {"cv": 0.42}


def test_hidden_score_as_fitness(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, 'fitness: {metric: hidden.score, buggy: "metric == null"}')
    info = FakeTaskInfo(has_hidden_validation=True)
    files = {**SUBMISSION, "submission/hidden_val_predictions.csv": "id,value\n9,1\n"}
    h = Harness(tmp_path, plan, {"good": Behaviour(files=files)}, [answer_with("good")], hidden=0.33, info=info)
    outcome = h.develop()
    assert (outcome.buggy, outcome.metric) == (False, 0.33)
    assert outcome.grade is not None and outcome.grade.hidden_score == 0.33
    assert h.log.index("grader:hidden") < h.log.index("grader:check")


def test_minimized_metric_gives_negated_fitness_and_spec_direction_wins(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, 'fitness: {metric: reported.rmse, buggy: "metric == null"}')
    files = {**SUBMISSION, "working/metrics.json": '{"rmse": 3.5}'}
    h = Harness(tmp_path, plan, {"good": Behaviour(files=files)}, [answer_with("good")])
    h.pipeline.fitness = FitnessEvaluator(plan, "minimize")
    assert h.develop().fitness == -3.5
    spec_says = plan_for(tmp_path, 'fitness: {direction: maximize, metric: reported.rmse, buggy: "metric == null"}')
    assert FitnessEvaluator(spec_says, "minimize").direction == "maximize"


@pytest.mark.parametrize(("behaviour", "reason", "graded"), [
    (Behaviour(exit_code=1, output="Traceback: boom", files=SUBMISSION), "exit code 1", True),
    (Behaviour(timed_out=True, exit_code=143, files=SUBMISSION), "timed out", True),
    (Behaviour(files={"submission/submission.csv": "wrong,header\n"}), "invalid submission: the header must be",
     False),
    (Behaviour(), "invalid submission: no submission.csv was written", False),
])
def test_failed_runs_are_buggy_with_their_reason(tmp_path: Path, behaviour: Behaviour, reason: str,
                                                 graded: bool) -> None:
    h = Harness(tmp_path, plan_for(tmp_path), {"b": behaviour}, [answer_with("b")])
    outcome = h.develop()
    assert outcome.buggy and outcome.fitness is None
    assert outcome.error is not None and outcome.error.startswith(reason)
    # A valid submission is graded even when its node is buggy (reports compare validation- and
    # test-selected results); an invalid or missing one never is.
    assert (outcome.grade is not None) == graded == ("grader:grade" in h.log)


def test_reviewer_bug_and_missing_metric_are_buggy(tmp_path: Path) -> None:
    h = Harness(tmp_path, plan_for(tmp_path), {"good": Behaviour(files=SUBMISSION)}, [answer_with("good")],
                review={"is_bug": True, "summary": "leaks the labels", "metric": 0.99})
    outcome = h.develop()
    assert outcome.buggy and outcome.error == "the reviewer found a bug: leaks the labels"
    assert outcome.grade is not None  # a valid submission is still graded (reports compare)
    h2 = Harness(tmp_path / "2", plan_for(tmp_path), {"good": Behaviour(files=SUBMISSION)}, [answer_with("good")],
                 review={"is_bug": False, "summary": "no score printed", "metric": None})
    assert h2.develop().error == "no validation metric"


def test_no_code_after_retries_is_buggy_without_running(tmp_path: Path) -> None:
    h = Harness(tmp_path, plan_for(tmp_path), {}, ["just prose", "still prose"])
    outcome = h.develop()
    assert outcome.buggy and outcome.execution is None
    assert outcome.error is not None and outcome.error.startswith("no usable code after 2 attempt(s)")
    assert h.sandbox.runs == 0 and [c.attempt for c in h.calls] == [1, 2]


def test_fitness_expression_failure_is_the_nodes_error(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, 'fitness: {metric: reported.cv, value: "log(metric)", buggy: "metric == null"}')
    files = {**SUBMISSION, "working/metrics.json": '{"cv": -1}'}
    h = Harness(tmp_path, plan, {"good": Behaviour(files=files)}, [answer_with("good")])
    outcome = h.develop()
    assert outcome.buggy and outcome.error is not None and "fitness" in outcome.error


def test_oracle_replaces_fitness_with_the_test_score_and_grades_first(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, "fitness: {oracle: true}")
    h = Harness(tmp_path, plan, {"good": Behaviour(files=SUBMISSION)}, [answer_with("good")],
                review={"is_bug": False, "summary": "fine", "metric": 0.2})
    outcome = h.develop()
    assert (outcome.metric, outcome.value, outcome.fitness) == (0.2, 0.75, 0.75)
    assert h.log[-2:] == ["llm:analyze", "grader:grade"]


def test_parent_context_comes_from_the_journal(tmp_path: Path) -> None:
    h = Harness(tmp_path, plan_for(tmp_path),
                {"bad": Behaviour(exit_code=1, output="KeyError: 'target'"), "good": Behaviour(files=SUBMISSION)},
                [answer_with("bad", "first plan"), answer_with("good", "the fix")],
                review={"is_bug": True, "summary": "crashed", "metric": None})
    first = h.develop()
    assert first.buggy
    h.develop("debug", (first.node_id,))
    debug_prompt = h.calls[-2].messages[0]["content"]
    assert debug_prompt == "Fix KeyError: 'target'."
