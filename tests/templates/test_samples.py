"""Sample contexts match the declarations; validate_context explains what a context file gets wrong."""

from __future__ import annotations

import copy

import pytest

from aira_dsl.templates import declared_variables, kind_names, load_sample_context, validate_context
from aira_dsl.templates.samples import sample_context_text


@pytest.mark.parametrize("kind", kind_names())
def test_samples_have_exactly_the_declared_shape(kind: str) -> None:
    context = load_sample_context(kind)
    assert validate_context(context, kind) == []
    assert set(context) == set(declared_variables(kind))
    assert len(context["memory"]) == 2 or kind in ("crossover", "analyze")
    assert sample_context_text(kind).startswith("# Sample context")


def test_samples_are_fresh_copies() -> None:
    first = load_sample_context("draft")
    first["task"]["name"] = "changed"
    assert load_sample_context("draft")["task"]["name"] != "changed"


def test_problems_name_the_path() -> None:
    context = copy.deepcopy(load_sample_context("improve"))
    del context["hardware"]
    context["taks"] = {}
    context["task"]["metric"].pop("direction")
    context["memory"][1]["plna"] = context["memory"][1].pop("plan")
    context["parent"]["review"]["is_bug"] = "no"
    context["task"]["steps_remaining"] = 1.5
    context["packages"] = "numpy"
    problems = validate_context(context, "improve")
    assert "taks: unknown key (did you mean 'task'?)" in problems
    assert any(p.startswith("hardware: missing") for p in problems)
    assert any(p.startswith("task.metric.direction: missing") for p in problems)
    assert "memory[1].plna: unknown key (did you mean 'plan'?)" in problems
    assert any(p.startswith("memory[1].plan: missing") for p in problems)
    assert any(p.startswith("parent.review.is_bug: expected boolean") for p in problems)
    assert any(p.startswith("task.steps_remaining: expected integer") for p in problems)
    assert "packages: expected list of string, got str" in problems


def test_null_only_where_declared_nullable() -> None:
    context = load_sample_context("draft")
    context["task"]["time_remaining"] = None
    context["task"]["name"] = None
    assert validate_context(context, "draft") == ["task.name: must not be null (expected string)"]


def test_vars_are_checked_against_the_spec() -> None:
    context = load_sample_context("draft")
    context["vars"] = {"lr": 0.1, "sed": 1}
    problems = validate_context(context, "draft", var_names={"lr", "seed"})
    assert problems == ["vars: unknown key 'sed' (did you mean 'seed'?); the spec declares: lr, seed",
                        "vars: missing key 'seed' declared by the spec"]


def test_kind_specific_keys() -> None:
    assert any("node: unknown key" in p for p in validate_context(load_sample_context("analyze"), "draft"))
    assert validate_context({}, "bogus") == ["unknown operator kind 'bogus'; expected one of "
                                             "draft, improve, debug, crossover, analyze"]
    assert validate_context([], "draft")[0].startswith("context: expected a mapping")
