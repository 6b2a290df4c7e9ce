"""Adding an operator kind is one row of the kind table plus its template declarations.

A throwaway kind (``refine``: one parent, makes code, may play the improve role, gets the parent
and one variable of its own) is registered for the duration of a test; a spec using it must then
compile, lower to a plan that loads back, render through ``aira-dsl render`` with the composed
sample context, and be planned by a built-in policy, with no other edit anywhere. Unregistered,
the same spec is refused: the table, not a restated vocabulary, is what made it valid.
"""

from __future__ import annotations

import random
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from aira_dsl.cli._compile import render_command
from aira_dsl.compiler import check_spec, compile_spec
from aira_dsl.kinds import OperatorKind, get_kind, kind_names, register_kind, roles, unregister_kind
from aira_dsl.plan import load_plan
from aira_dsl.prompting import build_messages
from aira_dsl.search import Graph, apply_action, make_policy, select_memory
from aira_dsl.search.graph import GraphError
from aira_dsl.templates import declared_variables, load_sample_context, validate_context
from aira_dsl.templates.declarations import CONTEXT_VARIABLES, register_context_variable
from aira_dsl.templates.types import Field, Scalar

REFINE = OperatorKind("refine", "polish one valid solution along a named focus", (1, 1), "code",
                      ("parent", "focus"), True, ("improve",))
FOCUS = Field("focus", Scalar("str"), "What the refinement concentrates on.")

SPEC = """\
    version: 1
    name: refine-agent
    models:
      coder: {model: fake, api_key_env: null}
    operators:
      draft: {kind: draft, model: coder, prompt: "Solve {{ task.name }}."}
      refine:
        kind: refine
        model: coder
        prompt: "Refine: {{ parent.plan }} / focus: {{ focus }} / {{ complexity }}"
        complexity: [{below: 2, cue: minimal}, {cue: advanced}]
        memory: {scope: siblings}
      debug: {kind: debug, model: coder, prompt: "Fix {{ parent.output }}."}
    policy: {kind: greedy, num_drafts: 1, use: {improve: refine}}
    fitness: {metric: reported.cv, buggy: "metric == null"}
    """


@pytest.fixture
def refine_kind() -> Iterator[OperatorKind]:
    """The throwaway kind and its one template declaration, removed again afterwards."""
    register_context_variable(FOCUS)
    register_kind(REFINE)
    try:
        yield REFINE
    finally:
        unregister_kind(REFINE.name)
        CONTEXT_VARIABLES.pop(FOCUS.name, None)


def write_spec(tmp_path: Path) -> Path:
    path = tmp_path / "refine.yaml"
    path.write_text(textwrap.dedent(SPEC))
    return path


def test_a_registered_kind_compiles_renders_and_plans(refine_kind: OperatorKind, tmp_path: Path) -> None:
    spec = write_spec(tmp_path)
    assert "refine" in kind_names() and get_kind("refine") is refine_kind and roles().count("improve") == 1

    # compile: schema enum, role binding, template variables and complexity all read the table
    result = compile_spec(spec)
    assert [d for d in result.diagnostics.sorted()] == []
    plan = result.plan
    assert plan is not None and plan.operators["refine"].kind == "refine"
    assert plan.policy.roles["improve"] == "refine"
    plan.write(tmp_path / "plan.json")
    assert load_plan(tmp_path / "plan.json") == plan

    # render: the template declarations give the kind a sample context, checked and rendered
    assert set(declared_variables("refine")) >= {"parent", "focus", "task", "memory"}
    context = load_sample_context("refine")
    assert validate_context(context, "refine") == []
    rendered = build_messages(plan, plan.operators["refine"], context)
    assert rendered == [{"role": "system", "content": f"Refine: {context['parent']['plan']} / focus: <focus> / "
                                                      f"{context['complexity']}"}]
    cli = CliRunner().invoke(render_command, [str(spec), "refine", "--format", "json"])
    assert cli.exit_code == 0, cli.output
    assert "focus: <focus>" in cli.output and '"kind": "refine"' in cli.output

    # plan: the greedy policy's improve step becomes a node of the new kind, whose arity and
    # memory scopes come from the table
    kinds = {name: op.kind for name, op in plan.operators.items()}
    policy = make_policy(plan.policy.kind, plan.policy.params, plan.policy.roles)
    graph, rng = Graph(), random.Random(0)
    first = policy.propose(graph, rng)
    assert first is not None and first.operator == "draft"
    draft = apply_action(graph, first, roles=plan.policy.roles, kinds=kinds)
    graph.finish(draft.id, buggy=False, fitness=0.5, metric=0.5, plan="first")
    policy.observe(graph, draft.id)
    action = policy.propose(graph, rng)
    assert action is not None and action.operator == "improve" and action.parent_ids == (draft.id,)
    node = apply_action(graph, action, roles=plan.policy.roles, kinds=kinds)
    assert (node.operator, node.kind, node.role, node.parent_ids) == ("refine", "refine", "improve", (draft.id,))
    assert select_memory(graph, "siblings", target=draft.id, operator_kind="refine") == []
    with pytest.raises(GraphError):
        graph.start("refine", (), kind="refine")  # one parent, as its row says


def test_without_its_row_the_same_spec_is_refused(tmp_path: Path) -> None:
    assert "refine" not in kind_names()
    codes = {d.code for d in check_spec(write_spec(tmp_path)).diagnostics.sorted() if d.is_error}
    assert codes, "a spec with an unregistered kind must not compile"


def test_registration_is_checked(refine_kind: OperatorKind) -> None:
    register_kind(refine_kind)  # the same row again is harmless
    with pytest.raises(ValueError, match="already registered"):
        register_kind(OperatorKind("refine", "another meaning", (2, 2), "code", (), False, ("crossover",)))
    with pytest.raises(ValueError, match="cannot be removed"):
        unregister_kind("draft")
    with pytest.raises(ValueError, match="already declared differently"):
        register_context_variable(Field("focus", Scalar("int"), "a clash"))
