"""Memory scopes and the complexity cue, on a hand-built graph."""

from __future__ import annotations

import pytest
from search_support import grow

from aira_dsl.search import Graph, complexity_cue, memory_entries, rungs_from_plan, select_memory


def sample() -> Graph:
    """0 draft ok, 1 draft buggy, 2 improve(0) ok, 3 improve(0) buggy, 4 debug(3) buggy,
    5 debug(4) buggy, 6 improve(0) pending, 7 draft pending."""
    g = Graph()
    grow(g, "draft", (), 0.5, summary="s0")
    grow(g, "draft", (), None, summary="s1")
    grow(g, "improve", (0,), 0.6)
    grow(g, "improve", (0,), None)
    grow(g, "debug", (3,), None)
    grow(g, "debug", (4,), None)
    grow(g, "improve", (0,), "pending")
    grow(g, "draft", (), "pending")
    return g


def ids(nodes: list) -> list[int]:  # type: ignore[type-arg]
    return [n.id for n in nodes]


def test_none_and_global() -> None:
    g = sample()
    assert select_memory(g, "none", target=0, operator_kind="improve") == []
    assert ids(select_memory(g, "global", target=None, operator_kind="draft")) == [0, 1, 2, 3, 4, 5]


def test_siblings_of_a_draft_are_the_finished_drafts() -> None:
    assert ids(select_memory(sample(), "siblings", target=None, operator_kind="draft")) == [0, 1]


def test_siblings_of_an_improve_are_the_finished_children_of_its_parent() -> None:
    assert ids(select_memory(sample(), "siblings", target=0, operator_kind="improve")) == [2, 3]


def test_ancestors_walk_the_buggy_chain_oldest_first_and_stop_at_a_valid_node() -> None:
    g = sample()
    assert ids(select_memory(g, "ancestors", target=5, operator_kind="debug")) == [3, 4, 5]
    assert ids(select_memory(g, "ancestors", target=1, operator_kind="debug")) == [1]
    # a valid target has no debug chain; a draft has nothing to walk
    assert select_memory(g, "ancestors", target=2, operator_kind="improve") == []
    assert select_memory(g, "ancestors", target=None, operator_kind="draft") == []


def test_where_filters_then_limit_keeps_the_most_recent() -> None:
    g = sample()
    valid_only = select_memory(g, "global", target=None, operator_kind="draft", where=lambda n: not n.buggy)
    assert ids(valid_only) == [0, 2]
    assert ids(select_memory(g, "global", target=None, operator_kind="draft", limit=2)) == [4, 5]
    assert ids(select_memory(g, "ancestors", target=5, operator_kind="debug", limit=2)) == [4, 5]
    assert select_memory(g, "global", target=None, operator_kind="draft", limit=0) == []
    buggy_last = select_memory(g, "global", target=None, operator_kind="draft", where=lambda n: bool(n.buggy), limit=1)
    assert ids(buggy_last) == [5]


def test_bad_arguments_are_rejected() -> None:
    g = sample()
    with pytest.raises(ValueError, match="unknown memory scope"):
        select_memory(g, "cousins", target=None, operator_kind="draft")
    with pytest.raises(ValueError, match="unknown operator kind"):
        select_memory(g, "none", target=None, operator_kind="mutate")
    with pytest.raises(ValueError, match="target=None"):
        select_memory(g, "siblings", target=0, operator_kind="draft")


def test_memory_entries_have_the_template_shape() -> None:
    g = sample()
    entries = memory_entries([g[0], g[1]])
    assert entries == [{"plan": "plan 0", "summary": "s0", "metric": 0.5, "buggy": False,
                        "operator": g[0].operator},
                       {"plan": "plan 1", "summary": "s1", "metric": None, "buggy": True,
                        "operator": g[1].operator}]


PAPER = [(2, "minimal"), (4, "moderate"), (None, "advanced")]


@pytest.mark.parametrize(("children", "cue"), [(0, "minimal"), (1, "minimal"), (2, "moderate"),
                                               (3, "moderate"), (4, "advanced"), (7, "advanced")])
def test_complexity_rungs_follow_the_child_count(children: int, cue: str) -> None:
    g = Graph()
    grow(g, "draft", (), 0.5)
    for _ in range(children):
        grow(g, "improve", (0,), 0.4)
    assert complexity_cue(PAPER, g, 0) == cue


def test_complexity_for_drafts_counts_drafts_and_pending_work() -> None:
    g = Graph()
    assert complexity_cue(PAPER, g, None) == "minimal"
    grow(g, "draft", (), 0.5)
    grow(g, "draft", (), "pending")
    assert complexity_cue(PAPER, g, None) == "moderate"
    # the engine already added the node it is rendering for: it does not count itself
    assert complexity_cue(PAPER, g, None, before=1) == "minimal"


def test_complexity_without_rungs_or_without_a_matching_rung() -> None:
    g = Graph()
    for _ in range(3):
        grow(g, "draft", (), 0.5)
    assert complexity_cue([], g, None) is None
    assert complexity_cue([(2, "minimal")], g, None) is None
    assert rungs_from_plan([{"below": 2, "cue": "minimal"}, {"below": None, "cue": "advanced"}]) == [
        (2, "minimal"), (None, "advanced")]
