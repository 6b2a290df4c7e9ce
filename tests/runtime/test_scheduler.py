"""The scheduler with in-memory collaborators (passed through the composition root, build_engine):
failures inside a node mark that node, spend is journaled call by call, memory filters see the graph."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

from fakes import SUBMISSION, Behaviour, FakeGrader, FakeModel, FakeSandbox, answer_with

from aira_dsl.compiler import compile_spec
from aira_dsl.plan import Plan
from aira_dsl.runtime.engine import Collaborators, Engine, RunOptions, build_engine


def compile_text(tmp_path: Path, text: str) -> Plan:
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent(text))
    result = compile_spec(spec)
    assert result.plan is not None, result.diagnostics.sorted()
    return result.plan


GREEDY = """\
    version: 1
    name: scheduler-test
    models:
      coder: {model: fake, api_key_env: null}
    operators:
      draft: {kind: draft, model: coder, prompt: "Draft for {{ task.name }}.", retries: 0}
      improve:
        kind: improve
        model: coder
        prompt: "Improve. {% for m in memory %}[{{ m.plan }}]{% endfor %}"
        memory: {scope: global, where: "node.num_children == 0"}
      debug: {kind: debug, model: coder, prompt: "Fix {{ parent.output }}."}
    policy: {kind: greedy, num_drafts: 2}
    fitness: {metric: reported.cv, buggy: "metric == null or not submission.valid"}
    budget: {steps: STEPS}
    """


class Crashing(FakeSandbox):
    """A sandbox whose run raises for one behaviour (a bug inside one node's processing)."""

    def run(self, workspace: Any, script: Any, limits: Any, env: Any = None) -> Any:
        code = (workspace.root / str(script)).read_text()
        if "# behaviour: explode" in code:
            raise RuntimeError("the sandbox backend broke on this node")
        return super().run(workspace, script, limits, env or {})


def run_engine(tmp_path: Path, plan: Plan, answers: list[str], behaviours: dict[str, Behaviour],
               sandbox_cls: type[FakeSandbox] = FakeSandbox) -> Any:
    log: list[str] = []
    queue = list(answers)
    model = FakeModel(lambda messages, kwargs: queue.pop(0) if queue else answer_with("good"), log)
    collaborators = Collaborators(grader=FakeGrader(log), sandboxes=[sandbox_cls(tmp_path / "work", behaviours, log)],
                                  models={"coder": model}, hardware={"gpus": [], "cpus": 1, "memory_gb": None},
                                  packages=[])
    options = RunOptions(task_ref="fake", out=tmp_path / "run", workers=1)
    summary = asyncio.run(Engine(plan, options, collaborators=collaborators).run())
    return summary, model, log


def metrics(cv: float) -> dict[str, str]:
    return {**SUBMISSION, "working/metrics.json": json.dumps({"cv": cv})}


def test_a_failing_stage_marks_its_node_and_the_run_goes_on(tmp_path: Path) -> None:
    plan = compile_text(tmp_path, GREEDY.replace("STEPS", "4"))
    summary, _, _ = run_engine(tmp_path, plan, [answer_with("explode"), answer_with("good")],
                               {"good": Behaviour(files=metrics(0.4))}, Crashing)
    assert summary.status == "finished" and summary.steps == 4
    conn = sqlite3.connect(tmp_path / "run" / "journal.sqlite")
    first = conn.execute("SELECT buggy, error FROM nodes WHERE id = 0").fetchone()
    assert first[0] == 1 and "the sandbox backend broke on this node" in first[1]
    assert conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'node-error'").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM nodes WHERE status = 'done' AND buggy = 0").fetchone()[0] >= 1


def test_nodes_record_operator_kind_and_role_and_calls_are_journaled(tmp_path: Path) -> None:
    plan = compile_text(tmp_path, GREEDY.replace("STEPS", "3"))
    run_engine(tmp_path, plan, [answer_with("good"), answer_with("good"), answer_with("good")],
               {"good": Behaviour(files=metrics(0.5))})
    conn = sqlite3.connect(tmp_path / "run" / "journal.sqlite")
    rows = conn.execute("SELECT operator, kind, role FROM nodes ORDER BY id").fetchall()
    assert rows == [("draft", "draft", "draft"), ("draft", "draft", "draft"), ("improve", "improve", "improve")]
    calls = conn.execute("SELECT node_id, kind, cost_usd FROM llm_calls ORDER BY id").fetchall()
    assert [(n, k) for n, k, _ in calls] == [(0, "draft"), (1, "draft"), (2, "improve")]
    assert all(cost == 0.001 for _, _, cost in calls)


def test_memory_where_sees_the_real_number_of_children(tmp_path: Path) -> None:
    # Two drafts (0 and 1), then node 0 (the best, cv 0.9) is improved twice. While its first
    # improvement (node 2) is being made, node 0 already has that pending child, so
    # `node.num_children == 0` leaves it out of the memory (before the fix the count was always 0).
    plan = compile_text(tmp_path, GREEDY.replace("STEPS", "4"))
    _, model, _ = run_engine(tmp_path, plan,
                             [answer_with("best", "plan A"), answer_with("ok", "plan B"),
                              answer_with("ok", "plan C"), answer_with("ok", "plan D")],
                             {"best": Behaviour(files=metrics(0.9)), "ok": Behaviour(files=metrics(0.1))})
    prompts = [call[0]["content"] for call in model.calls]
    assert prompts[2] == "Improve. [plan B]"
    assert prompts[3] == "Improve. [plan B][plan C]"


def test_build_engine_is_the_composition_root(tmp_path: Path) -> None:
    plan = compile_text(tmp_path, GREEDY.replace("STEPS", "1"))
    log: list[str] = []
    grader = FakeGrader(log)
    scheduler = build_engine(plan, RunOptions(task_ref="fake", out=tmp_path / "run"),
                             collaborators=Collaborators(grader=grader, sandboxes=[FakeSandbox(tmp_path, {}, log)],
                                                         models={"coder": object()}, hardware={}, packages=[]))
    assert scheduler.pipeline.grader is grader and scheduler.workers == 1
    recorded = json.loads((tmp_path / "run" / "run.json").read_text())["options"]
    assert recorded["task_ref"] == "fake" and recorded["seed"] == 0
    asyncio.run(scheduler._close())  # type: ignore[misc]
    assert log == ["grader:close"]
