"""The shipped prompts check clean, render against every sample context, and stay stable."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from aira_dsl.templates import (
    check_template,
    collect_sources,
    load_sample_context,
    render_file,
    render_from_sources,
)

from .conftest import PROMPTS, SHIPPED

NAMES = sorted(SHIPPED)
IDS = [name.removesuffix(".j2").replace("/", "-") for name in NAMES]
SHOWS_COMPUTE = {"aide/draft.j2", "aira/draft.j2", "aira/improve.j2", "aira/debug.j2", "aira/crossover.j2",
                 "dojo/aide/draft.j2", "dojo/aira/draft.j2", "dojo/aira/improve.j2", "dojo/aira/debug.j2"}


def render(name: str, context: dict[str, Any]) -> str:
    return render_file(PROMPTS / name, context, [PROMPTS])


def test_every_operator_template_is_listed() -> None:
    found = {p.relative_to(PROMPTS).as_posix() for p in PROMPTS.rglob("*.j2") if not p.name.startswith("_")}
    assert found == set(SHIPPED)


@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_shipped_template_checks_clean(name: str) -> None:
    assert check_template(PROMPTS / name, SHIPPED[name], search_paths=[PROMPTS]) == []


@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_shipped_template_renders_sample(name: str, text_snapshot: SnapshotAssertion) -> None:
    assert render(name, load_sample_context(SHIPPED[name])) == text_snapshot


@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_plan_sources_render_identically(name: str) -> None:
    sources = collect_sources(PROMPTS / name, [PROMPTS])
    assert next(iter(sources)) == name
    assert all(not Path(key).is_absolute() for key in sources)
    context = load_sample_context(SHIPPED[name])
    assert render_from_sources(sources, name, context) == render(name, context)


def sparse(kind: str) -> dict[str, Any]:
    """A sample context with every optional part empty or null: no GPU, no budgets, no memory."""
    context = copy.deepcopy(load_sample_context(kind))
    context["task"].update(time_remaining=None, steps_remaining=None, execution_timeout=None, data_preview="")
    context["hardware"] = {"gpus": [], "cpus": 2, "memory_gb": None}
    context["packages"] = []
    context["memory"] = []
    context["complexity"] = None
    for key in ("parent", "node"):
        if key in context:
            context[key]["metric"] = None if key == "parent" else context[key].get("metric")
    return context


@pytest.mark.parametrize("name", NAMES, ids=IDS)
def test_shipped_template_renders_sparse_context(name: str) -> None:
    text = render(name, sparse(SHIPPED[name]))
    assert ("GPU: none" in text) == (name in SHOWS_COMPUTE)
    assert "None" not in text
    assert "hour" not in text  # no time limit is mentioned when none is configured


@pytest.mark.parametrize("name", ["aira/draft.j2", "aira/improve.j2"])
@pytest.mark.parametrize("level", ["minimal", "moderate", "advanced"])
def test_complexity_cue_follows_the_level(name: str, level: str) -> None:
    context = load_sample_context(SHIPPED[name])
    cues = {}
    for each in ("minimal", "moderate", "advanced"):
        context["complexity"] = each
        cues[each] = render(name, context)
    context["complexity"] = None
    off = render(name, context)
    assert "# COMPLEXITY" in cues[level] and "# COMPLEXITY" not in off
    assert len({cues["minimal"], cues["moderate"], cues["advanced"]}) == 3


def test_hardware_comes_from_the_context() -> None:
    context = load_sample_context("draft")
    context["hardware"] = {"gpus": [{"name": "Test GPU A", "memory_gb": 24}] * 2 + [{"name": "Test GPU B",
                                                                                      "memory_gb": None}],
                           "cpus": 7, "memory_gb": 33}
    text = render("aira/draft.j2", context)
    assert "2 × Test GPU A (24 GB each)" in text and "1 × Test GPU B\n" in text
    assert "CPU cores: 7" in text and "Memory: 33 GB" in text
    for name in SHIPPED:
        assert "H200" not in (PROMPTS / name).read_text()


def test_long_output_is_cut_in_the_middle() -> None:
    context = load_sample_context("debug")
    context["parent"]["output"] = "HEAD\n" + "x" * 9000 + "\nTAIL"
    text = render("aira/debug.j2", context)
    assert "HEAD" in text and "TAIL" in text and "characters truncated" in text
    assert "x" * 5100 not in text


def test_analyze_prompt_never_asks_for_direction() -> None:
    text = render("common/analyze.j2", load_sample_context("analyze")).lower()
    assert "is_bug" in text and "summary" in text and "metric" in text
    assert "lower_is_better" not in text and "higher is better" not in text and "direction" not in text


def test_aira_prompts_use_their_response_headers() -> None:
    headers = {"aira/draft.j2": "# Idea to implement", "aira/improve.j2": "# Improvement Idea to implement",
               "aira/debug.j2": "# Bug Fix Plan", "aira/crossover.j2": "# Crossover Plan"}
    for name, header in headers.items():
        text = render(name, load_sample_context(SHIPPED[name]))
        assert f"\n{header}\n" in text
        assert "5-fold" in text
