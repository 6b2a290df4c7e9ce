"""The contexts the runtime builds have exactly the declared shapes.

Template contexts (``ContextBuilder.build`` / ``analyze_context``) are checked against the
template declarations (``aira_dsl/templates/declarations.py``) for every built-in operator kind;
the ``fitness`` scope (built by the pipeline, completed by the fitness evaluator) and the
``memory.where`` environment (``memory_env``) against the expression contexts
(``aira_dsl/expr/contexts.py``): every declared field present with its declared type, nothing
undeclared. The graph is grown by the real node pipeline with in-memory fakes, so parents,
memory and submissions are real journal data.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from fakes import SUBMISSION, Behaviour, FakeGrader, FakeModel, FakeSandbox, answer_with

from aira_dsl.compiler import compile_spec
from aira_dsl.expr import evaluate
from aira_dsl.expr.contexts import build_context
from aira_dsl.expr.types import AnyType, ListType, Nullable, OpenRecordType, Prim, RecordType, Type, conforms
from aira_dsl.kinds import BUILTIN_KINDS
from aira_dsl.plan import Plan
from aira_dsl.runtime.context import ContextBuilder, TimeInfo, memory_env
from aira_dsl.runtime.fitness import FitnessEvaluator
from aira_dsl.runtime.journal import Journal, open_journal
from aira_dsl.runtime.pipeline import NodePipeline
from aira_dsl.runtime.rundir import RunDir
from aira_dsl.sandbox.base import Limits
from aira_dsl.search import Action, Graph, NodeView, apply_action
from aira_dsl.templates import validate_context

SPEC = """\
    version: 1
    name: context-shapes
    vars: {seed: 7, label: "x", lrs: [0.1, 0.01]}
    models:
      coder: {model: fake, api_key_env: null}
    operators:
      draft:
        kind: draft
        model: coder
        prompt: "Solve {{ task.name }}."
        memory: {scope: global}
        complexity: [{below: 2, cue: minimal}, {cue: advanced}]
      improve: {kind: improve, model: coder, prompt: "Improve {{ parent.plan }}.", memory: {scope: global}}
      debug: {kind: debug, model: coder, prompt: "Fix {{ parent.output }}.", memory: {scope: ancestors}}
      crossover: {kind: crossover, model: coder, prompt: "Mix {{ parents[0].plan }}.", memory: {scope: global}}
      analyze: {kind: analyze, model: coder, prompt: "Review {{ node.output }}."}
    policy: {kind: evolutionary, num_generations: 2}
    fitness: {metric: review.metric, buggy: "metric == null or not submission.valid or exec.exit_code != 0"}
    """
TIMES = TimeInfo(time_remaining=3600, steps_remaining=5, execution_timeout=600)
TASK = {"id": "t", "name": "fake task", "description": "d", "data_preview": "", "data_notes": "",
        "metric": {"name": "acc", "direction": "maximize"}}


def shape_problems(value: Any, declared: Type, path: str) -> list[str]:
    """Where ``value`` differs from ``declared``: missing, undeclared or mistyped fields."""
    if isinstance(declared, AnyType):
        return []
    if isinstance(declared, Nullable):
        return [] if value is None else shape_problems(value, declared.inner, path)
    if isinstance(declared, Prim):
        return [] if conforms(value, declared) else [f"{path}: {value!r} is not {declared.name}"]
    if isinstance(declared, ListType):
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        return [p for i, item in enumerate(value) for p in shape_problems(item, declared.item, f"{path}[{i}]")]
    if not isinstance(value, Mapping):
        return [f"{path}: not a mapping"]
    if isinstance(declared, OpenRecordType):
        return [p for key, item in value.items() for p in shape_problems(item, declared.value, f"{path}.{key}")]
    assert isinstance(declared, RecordType)
    problems = [f"{path}.{key}: not declared" for key in value if declared.get(str(key)) is None]
    for info in declared.fields:
        if info.name not in value:
            problems.append(f"{path}.{info.name}: missing")
        else:
            problems.extend(shape_problems(value[info.name], info.type, f"{path}.{info.name}"))
    return problems


class Run:
    """A plan, a journal, a graph and a pipeline with fakes, grown node by node."""

    def __init__(self, tmp_path: Path) -> None:
        (tmp_path / "spec.yaml").write_text(textwrap.dedent(SPEC))
        result = compile_spec(tmp_path / "spec.yaml")
        assert result.plan is not None, result.diagnostics.sorted()
        self.plan: Plan = result.plan
        (tmp_path / "run").mkdir()
        self.journal: Journal = open_journal(tmp_path / "run")
        self.log: list[str] = []
        self.answers: list[str] = []
        model = FakeModel(lambda messages, kwargs: self.answers.pop(0), self.log,
                          review={"is_bug": False, "summary": "fine", "metric": 0.7})
        behaviours = {"good": Behaviour(files={**SUBMISSION, "working/metrics.json": '{"cv": 0.7, "note": "x"}'}),
                      "bad": Behaviour(exit_code=1, output="Traceback: boom")}
        self.contexts = ContextBuilder(self.plan, self.journal, task=TASK,
                                       hardware={"gpus": [{"name": "H100", "memory_gb": 80.0}], "cpus": 2,
                                                 "memory_gb": None},
                                       packages=["numpy"], sandbox={"network": False, "caches": [
                                           {"name": "hf", "env": "HF_HOME", "path": "/caches/hf"}]})
        self.pipeline = NodePipeline(plan=self.plan, models={"coder": model},
                                     sandboxes=[FakeSandbox(tmp_path / "work", behaviours, self.log)],
                                     grader=FakeGrader(self.log), contexts=self.contexts,
                                     fitness=FitnessEvaluator(self.plan, "maximize"), rundir=RunDir(tmp_path / "run"),
                                     data_dirs=[None], limits=Limits(wall_time=60))
        self.graph = Graph()

    def start(self, operator: str, parents: tuple[int, ...] = ()) -> NodeView:
        node = apply_action(self.graph, Action(operator, parents), roles=self.plan.policy.roles,
                            kinds={n: o.kind for n, o in self.plan.operators.items()})
        self.journal.add_pending(node.id, parent_ids=node.parent_ids, role=node.role or "", operator=node.operator,
                                 kind=node.kind, depth=node.depth, debug_depth=node.debug_depth, generation=None,
                                 island=None, worker=0, meta={})
        return node

    def develop(self, operator: str, behaviour: str, parents: tuple[int, ...] = ()) -> int:
        node = self.start(operator, parents)
        self.answers.append(answer_with(behaviour, f"plan of node {node.id}"))
        outcome = asyncio.run(self.pipeline.run(self.graph, node, 0, TIMES))
        self.journal.commit_outcome(outcome, elapsed=1.0)
        self.graph.finish(node.id, buggy=outcome.buggy, fitness=outcome.fitness, metric=outcome.metric,
                          plan=outcome.plan, summary=outcome.summary, duration=outcome.exec_time)
        return node.id


@pytest.fixture
def grown(tmp_path: Path) -> Run:
    """Two drafts (one valid, one crashed) and an improvement of the valid one."""
    run = Run(tmp_path)
    run.develop("draft", "good")
    run.develop("draft", "bad")
    run.develop("improve", "good", (0,))
    return run


@pytest.mark.parametrize("kind", [k.name for k in BUILTIN_KINDS])
def test_template_contexts_have_the_declared_shape(grown: Run, kind: str) -> None:
    var_names = list(grown.plan.vars)
    if kind == "analyze":
        node_info = {"code": "print(1)", "plan": "p", "output": "out", "exit_code": 0, "timed_out": False,
                     "duration": 1.5, "submission": {"exists": True, "valid": False, "reason": "bad header"}}
        context = grown.contexts.analyze_context(grown.graph, grown.plan.operators["analyze"], node_info, TIMES)
    else:
        parents = {"draft": (), "improve": (2,), "debug": (1,), "crossover": (0, 2)}[kind]
        node = grown.start(kind, parents)
        context = grown.contexts.build(grown.graph, grown.plan.operators[kind], node, TIMES)
        if kind != "debug":
            assert len(context["memory"]) >= 2  # real entries were checked, not an empty list
    assert validate_context(context, kind, var_names) == []
    assert grown.contexts.problems == []


def test_fitness_scope_has_the_declared_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scopes: list[dict[str, Any]] = []
    real = evaluate

    def spy(expr: Any, env: Mapping[str, Any]) -> Any:
        scopes.append(dict(env))
        return real(expr, env)

    monkeypatch.setattr("aira_dsl.runtime.fitness.evaluate", spy)
    run = Run(tmp_path)
    run.develop("draft", "good")  # metric, buggy and value evaluated with a review
    run.develop("draft", "bad")  # a crashed run, still reviewed
    assert len(scopes) >= 5
    policy = {"kind": run.plan.policy.kind, **run.plan.policy.params}
    for field in ("fitness.metric", "fitness.buggy", "fitness.value"):
        declared = build_context(field, policy=policy, vars=run.plan.vars)
        for scope in scopes:
            if field == "fitness.metric":
                scope = {k: v for k, v in scope.items() if k != "metric"}
            elif "metric" not in scope:
                continue
            assert shape_problems(scope, declared, "fitness") == [], field
    assert any(s.get("reported") == {"cv": 0.7} for s in scopes)  # the text value was dropped, as declared


def test_memory_where_environment_has_the_declared_shape(grown: Run) -> None:
    policy = {"kind": grown.plan.policy.kind, **grown.plan.policy.params}
    declared = build_context("memory.where", policy=policy, vars=grown.plan.vars)
    for node in grown.graph.done():
        env = memory_env(grown.graph, node, grown.plan, grown.contexts.submission(node.id))
        assert shape_problems(env, declared, "memory") == [], node.id
    assert grown.graph[0].is_done and memory_env(grown.graph, grown.graph[0], grown.plan,
                                                 grown.contexts.submission(0))["node"]["num_children"] == 1
