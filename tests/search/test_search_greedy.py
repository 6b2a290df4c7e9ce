"""The greedy (AIDE) policy: draft, debug or improve, on hand-built graphs."""

from __future__ import annotations

import random
from collections import Counter

from search_support import grow

from aira_dsl.search import Action, Graph, GreedyParams, GreedyPolicy


def policy(num_drafts: int = 2, debug_prob: float = 1.0, max_debug_depth: int = 3) -> GreedyPolicy:
    return GreedyPolicy(GreedyParams(num_drafts=num_drafts, debug_prob=debug_prob, max_debug_depth=max_debug_depth))


def test_drafts_until_num_drafts_counting_pending_drafts() -> None:
    p, g, rng = policy(num_drafts=3), Graph(), random.Random(0)
    grow(g, "draft", (), "pending")
    grow(g, "draft", (), 0.4)
    assert p.propose(g, rng) == Action("draft")
    grow(g, "draft", (), "pending")
    assert p.propose(g, rng) == Action("improve", (1,))


def test_debugs_a_buggy_leaf_before_improving() -> None:
    p, g = policy(), Graph()
    grow(g, "draft", (), 0.4)
    grow(g, "draft", (), None)
    assert p.propose(g, random.Random(0)) == Action("debug", (1,))


def test_debug_respects_max_debug_depth_strictly() -> None:
    p, g = policy(num_drafts=1, max_debug_depth=2), Graph()
    grow(g, "draft", (), None)
    grow(g, "debug", (0,), None)
    assert g[1].debug_depth == 1
    assert p.propose(g, random.Random(0)) == Action("debug", (1,))
    grow(g, "debug", (1,), None)
    assert g[2].debug_depth == 2
    # the chain is as long as allowed and no node is valid: draft
    assert p.propose(g, random.Random(0)) == Action("draft")


def test_node_being_debugged_is_not_debugged_twice() -> None:
    p, g = policy(), Graph()
    grow(g, "draft", (), None)
    grow(g, "draft", (), 0.5)
    grow(g, "debug", (0,), "pending")
    assert p.propose(g, random.Random(0)) == Action("improve", (1,))


def test_debug_target_is_uniform_among_candidates() -> None:
    p, g = policy(num_drafts=3), Graph()
    for _ in range(3):
        grow(g, "draft", (), None)
    rng = random.Random(7)
    picks = Counter(p.propose(g, rng).parent_ids[0] for _ in range(3000))  # type: ignore[union-attr]
    assert set(picks) == {0, 1, 2}
    assert all(abs(n / 3000 - 1 / 3) < 0.04 for n in picks.values())


def test_debug_prob_zero_improves_the_best_node_with_ties_to_the_older() -> None:
    p, g = policy(num_drafts=3, debug_prob=0.0), Graph()
    grow(g, "draft", (), None)
    grow(g, "draft", (), 0.7)
    grow(g, "draft", (), 0.7)
    assert p.propose(g, random.Random(0)) == Action("improve", (1,))


def test_debug_prob_is_a_coin_flip() -> None:
    p, g = policy(debug_prob=0.3), Graph()
    grow(g, "draft", (), None)
    grow(g, "draft", (), 0.5)
    rng = random.Random(11)
    ops = Counter(p.propose(g, rng).operator for _ in range(4000))  # type: ignore[union-attr]
    assert abs(ops["debug"] / 4000 - 0.3) < 0.03
    assert ops["debug"] + ops["improve"] == 4000


def test_no_valid_node_means_draft() -> None:
    p, g = policy(max_debug_depth=0), Graph()
    grow(g, "draft", (), None)
    grow(g, "draft", (), None)
    assert p.propose(g, random.Random(0)) == Action("draft")


def test_concurrent_improves_of_the_best_node_are_allowed() -> None:
    p, g = policy(num_drafts=1), Graph()
    grow(g, "draft", (), 0.5)
    grow(g, "improve", (0,), "pending")
    assert p.propose(g, random.Random(0)) == Action("improve", (0,))


def test_state_tracks_best_and_counts() -> None:
    p, g = policy(), Graph()
    for outcome in (0.2, None, 0.9, 0.9):
        node = grow(g, "draft", (), outcome)
        p.observe(g, node.id)
    p.observe(g, 2)  # a repeated observation is ignored
    state = p.state()
    assert (state["valid"], state["buggy"], state["best"], state["observed"]) == (3, 1, 2, 4)
    assert state["params"] == {"num_drafts": 2, "debug_prob": 1.0, "max_debug_depth": 3,
                               "max_debug_time": None, "draft_debug_depth": 0}
