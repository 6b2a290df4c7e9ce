"""The AIRA-dojo presets run end to end against the scripted server, and their journals show
the parameters docs/fidelity.md lists: dojo's memory entries in the rendered prompts, no
complexity cue, the temperatures each model sends, the policy settings in the recorded plan.

Each preset runs on the bundled penguins task with 1 and 3 workers (real HTTP, real sandboxed
executions, real SQLite journal). The budget is shrunk with ``--set``-style overrides so a run
takes seconds; everything the fidelity document promises is read back from what was recorded.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from runtime_support import script

from aira_dsl.compiler import load_plan_or_spec
from aira_dsl.llm.scripted import ScriptedServer
from aira_dsl.runtime.engine import Engine, RunOptions

REPO = Path(__file__).resolve().parents[2]
PRESETS = ["aide-greedy", "aira-greedy", "aira-mcts", "aira-evo"]

TEMPERATURES: dict[str, tuple[float | None, float]] = {
    # preset: (coder temperature sent, reviewer temperature sent); None = not sent at all
    "aide-greedy": (None, 0.5),
    "aira-greedy": (None, 0.5),
    "aira-mcts": (1.0, 1.0),
    "aira-evo": (1.0, 1.0),
}

POLICY: dict[str, dict[str, Any]] = {
    "aide-greedy": {"num_drafts": 5, "debug_prob": 1.0, "max_debug_depth": 21, "draft_debug_depth": 1},
    "aira-greedy": {"num_drafts": 5, "debug_prob": 1.0, "max_debug_depth": 21, "draft_debug_depth": 1},
    "aira-mcts": {"expansion": "batch", "num_children": 5, "uct_c": 0.25, "max_debug_depth": 20,
                  "draft_debug_depth": 1, "max_debug_time": None},
    "aira-evo": {"schedule": "generational", "individuals_per_generation": 5, "num_generations": 100,
                 "crossover_prob": 0.5, "crossover_after_generation": 2, "initial_temperature": 1.0,
                 "final_temperature": 1.0, "max_debug_depth": 10, "max_debug_time": 21600.0},
}

STEPS = 10


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def run_preset(name: str, out: Path, workers: int) -> tuple[Any, ScriptedServer]:
    plan = load_plan_or_spec(REPO / "specs" / "dojo" / f"{name}.yaml",
                             overrides=(f"budget.steps={STEPS}", "budget.exec_timeout=30s", "budget.time=5m",
                                        "models.coder.timeout=20s", "models.reviewer.timeout=20s"))
    with ScriptedServer(script(latency=0.2 if workers > 1 else 0.0)) as server:
        engine = Engine(plan, RunOptions(task_ref="penguins", out=out, workers=workers, base_url=server.base_url))
        summary = asyncio.run(engine.run())
    return summary, server


def system_text(messages_json: str) -> str:
    messages = json.loads(messages_json)
    return "\n".join(m["content"] for m in messages if m["role"] == "system")


def memory_section(text: str, kind: str) -> str:
    """The memory part of a rendered prompt (AIDE headers or AIRA capitals, per operator kind)."""
    headers = {"draft": ("# Memory", "# PREVIOUSLY EXPLORED IDEAS"),
               "improve": ("# Memory", "# PREVIOUSLY EXPLORED IMPROVEMENT IDEAS"),
               "debug": ("# Previous debugging attempts", "# PREVIOUS DEBUGGING ATTEMPTS")}[kind]
    for header in headers:
        if f"\n{header}\n" in f"\n{text}":
            start = text.index(header) + len(header)
            end = text.find("\n# ", start)
            return text[start:end if end >= 0 else None].strip().strip("`").removeprefix("markdown").strip()
    raise AssertionError(f"no memory section in a {kind} prompt")


def expected_entry(node: sqlite3.Row) -> str:
    """dojo's memory text for one node (memory.py get_node_summary, only_plans false)."""
    label = "Debug plan" if node["role"] == "debug" else "Design"
    lines = [f"{label}: {node['plan'].strip()}"]
    if not node["buggy"]:
        lines += [f"Results: {node['summary'].strip()}", f"Validation Metric: {node['metric']!r}"]
    lines.append(f"Analysis: {(node['summary'] or '').strip()}")
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_runs_and_its_journal_shows_the_fidelity_parameters(preset: str, workers: int,
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "run"
    summary, server = run_preset(preset, out, workers)
    assert summary.status == "finished" and summary.stop_reason == "steps", summary
    assert summary.steps == STEPS and summary.best_node is not None
    if workers == 3:
        assert server.max_in_flight >= 2

    conn = sqlite3.connect(out / "journal.sqlite")
    conn.row_factory = sqlite3.Row
    nodes = {r["id"]: r for r in conn.execute("SELECT * FROM nodes ORDER BY id")}
    calls = conn.execute("SELECT * FROM llm_calls WHERE attempt = 1 ORDER BY id").fetchall()

    # the recorded plan carries the preset's policy settings
    recorded = json.loads(conn.execute("SELECT value FROM meta WHERE key='plan'").fetchone()[0])
    assert {k: recorded["policy"]["params"][k] for k in POLICY[preset]} == POLICY[preset]

    # complexity is off: no cue block in any prompt
    assert calls and not any("COMPLEXITY" in system_text(c["messages"]) for c in calls)

    # memory: draft/improve show dojo's entries for valid nodes, debug the buggy chain
    seen_entries = 0
    for call in calls:
        kind = call["kind"]
        if kind not in ("draft", "improve", "debug"):
            continue
        section = memory_section(system_text(call["messages"]), kind)
        node = nodes[call["node_id"]]
        if section == "(No memory available.)":
            assert kind != "debug" or not nodes[json.loads(node["parent_ids"])[0]]["plan"]
            continue
        entries = section.split("\n\n-------------------------------\n")
        for entry in entries:
            seen_entries += 1
            label = entry.partition(": ")[0]
            assert label in ("Design", "Debug plan"), entry
            candidates = [n for n in nodes.values() if n["id"] < node["id"] and n["status"] == "done"
                          and expected_entry(n) == entry]
            assert candidates, f"node {node['id']} ({kind}) shows an entry no earlier node has:\n{entry}"
            if kind == "debug":
                assert all(n["buggy"] for n in candidates)
            else:
                assert all(not n["buggy"] for n in candidates)
                assert "Results: " in entry and "Validation Metric: " in entry and "Analysis: " in entry
        if workers == 1:
            if kind == "debug":  # the ancestral chain: the node being fixed and its buggy ancestors
                chain, current = [], nodes[json.loads(node["parent_ids"])[0]]
                while current is not None and current["buggy"]:
                    chain.append(current)
                    parents = json.loads(current["parent_ids"])
                    current = nodes[parents[0]] if parents else None
                want = [expected_entry(n) for n in reversed(chain) if n["plan"].strip()]
            else:  # every valid node finished before this one started
                want = [expected_entry(n) for n in nodes.values()
                        if n["id"] < node["id"] and n["status"] == "done" and not n["buggy"] and n["plan"].strip()]
            assert entries == want, (node["id"], kind)
    assert seen_entries > 0

    # temperatures (and no max_tokens) as dojo's clients send them
    coder_temp, reviewer_temp = TEMPERATURES[preset]
    chats = server.chat_requests()
    coder = [r for r in chats if r["kind"] in ("draft", "improve", "debug", "crossover")]
    reviewer = [r for r in chats if r["kind"] == "analyze"]
    assert coder and reviewer
    for request in coder:
        assert request["body"].get("temperature") == coder_temp
        assert "top_p" not in request["body"]
        assert "max_tokens" not in request["body"] and "max_completion_tokens" not in request["body"]
    assert {r["body"].get("temperature") for r in reviewer} == {reviewer_temp}

    # the reviewer sees dojo's four sections and nothing else
    review_prompt = system_text(next(c["messages"] for c in calls if c["kind"] == "analyze"))
    sections = ["# Introduction", "# Task description", "# Implementation", "# Execution output"]
    assert [h for h in re.findall(r"^# .+$", review_prompt, re.M) if h in sections] == sections
    assert review_prompt.rstrip().endswith("```") and "# Your review" not in review_prompt

    if preset == "aira-mcts" and workers == 1:
        # batch expansion: the five drafts come first, one after another (with their debug chains)
        roles = [(n["role"], json.loads(n["parent_ids"])) for n in nodes.values()]
        drafts = [i for i, (role, _) in enumerate(roles) if role == "draft"]
        assert len(drafts) == 5 and all(roles[i][0] in ("draft", "debug") for i in range(drafts[-1] + 1))
    conn.close()


@pytest.mark.slow
def test_engine_restores_durations_and_arrival_order_from_the_journal(tmp_path: Path) -> None:
    """What a resumed run rebuilds from the journal (``graph_from_journal``) is what the live run
    had: each node's execution duration (for ``max_debug_time``) and the order nodes finished in
    (steady-state admission depends on it), so the rebuilt islands equal the live ones."""
    from aira_dsl.runtime.engine import build_engine
    from aira_dsl.runtime.journal import open_journal
    from aira_dsl.runtime.scheduler import graph_from_journal
    from aira_dsl.search import make_policy

    out = tmp_path / "run"
    plan = load_plan_or_spec(REPO / "specs" / "dojo" / "aira-evo.yaml",
                             overrides=("budget.steps=14", "budget.exec_timeout=30s", "budget.time=5m",
                                        "models.coder.timeout=20s", "models.reviewer.timeout=20s",
                                        "policy.schedule=steady_state", "policy.individuals_per_generation=3"))
    with ScriptedServer(script(latency=0.2)) as server:
        scheduler = build_engine(plan, RunOptions(task_ref="penguins", out=out, workers=3, base_url=server.base_url))
        summary = asyncio.run(scheduler.run())
    assert summary.steps == 14
    live_graph, live_state = scheduler.graph, scheduler.policy.state()
    assert live_state["islands"][0], "nothing was admitted: the comparison below would be empty"

    journal = open_journal(out)
    try:
        loaded = graph_from_journal(journal)
    finally:
        journal.close()
    assert loaded.finish_order() == live_graph.finish_order()
    assert {n.id: n.duration for n in loaded} == {n.id: n.duration for n in live_graph}
    conn = sqlite3.connect(out / "journal.sqlite")
    executed = {row[0]: row[1] for row in conn.execute("SELECT node_id, duration FROM executions")}
    conn.close()
    assert executed and {n.id: n.duration for n in loaded if n.duration is not None} == executed
    assert all(seconds > 0 for seconds in executed.values())
    rebuilt = make_policy(plan.policy.kind, plan.policy.params, plan.policy.roles)
    rebuilt.rebuild(loaded)
    assert rebuilt.state() == live_state
