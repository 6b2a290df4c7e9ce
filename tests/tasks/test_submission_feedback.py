"""Submission feedback: why a submission was rejected reaches the analyze and debug prompts, and
``node.submission`` is in scope for memory ``where`` expressions (a bundled task, the built-in check)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from aira_dsl.compiler import load_plan_or_spec
from aira_dsl.llm.scripted import ScriptedServer
from aira_dsl.runtime.engine import Engine, RunOptions

REPO = Path(__file__).resolve().parents[2]

WRONG_COLUMN = """import csv
rows = list(csv.reader(open("./data/sample_submission.csv")))
rows[0] = ["id", "Species"]
csv.writer(open("./submission/submission.csv", "w", newline="")).writerows(rows)
print("validation accuracy: 0.9")
"""
COPY = """import shutil
shutil.copy("./data/sample_submission.csv", "./submission/submission.csv")
print("validation accuracy: 0.5")
"""


@pytest.mark.slow
def test_rejection_reason_reaches_analyze_and_debug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    answers = {"rules": [
        {"when": {"kind": "analyze"}, "answers": [{"review": {"is_bug": False, "summary": "ran", "metric": 0.9}}]},
        {"when": {"kind": "draft"}, "answers": [{"plan": "rename the column", "code": WRONG_COLUMN}]},
        {"when": {"kind": ["debug", "improve"]}, "answers": [{"plan": "copy the sample", "code": COPY}]},
    ]}
    plan = load_plan_or_spec(REPO / "specs" / "aira-greedy.yaml", overrides=(
        "budget.steps=2", "policy.num_drafts=1", "operators.draft.memory.where=node.submission.valid",
        "models.coder.timeout=30s", "models.reviewer.timeout=30s"))
    with ScriptedServer(answers) as server:
        engine = Engine(plan, RunOptions(task_ref="penguins", out=tmp_path / "run", workers=1, base_url=server.base_url,
                                         task_cache_dir=tmp_path / "cache"))
        summary = asyncio.run(engine.run())
    assert summary.status == "finished" and summary.steps == 2
    conn = sqlite3.connect(tmp_path / "run" / "journal.sqlite")
    reason = conn.execute("SELECT submission_reason FROM executions WHERE node_id = 0").fetchone()[0]
    assert "Species" in reason and "species" in reason  # the built-in check names both spellings

    def prompt(node: int, kind: str) -> str:
        (messages,) = conn.execute("SELECT messages FROM llm_calls WHERE node_id = ? AND kind = ?",
                                   (node, kind)).fetchone()
        return "\n".join(m["content"] for m in json.loads(messages))

    assert f"was rejected by the submission check: {reason}" in prompt(0, "analyze")
    assert f"# SUBMISSION CHECK\nThe submission was not accepted: {reason}" in prompt(1, "debug")
    assert "passed the submission check" in prompt(1, "analyze")
    # The same verdicts are what memory `where` expressions see as node.submission.
    from aira_dsl.runtime.context import ContextBuilder
    from aira_dsl.runtime.journal import open_journal

    journal = open_journal(tmp_path / "run")
    builder = ContextBuilder(plan, journal, task={}, hardware={}, packages=[])
    assert builder.submission(0) == {"exists": True, "valid": False, "reason": reason}
    assert builder.submission(1) == {"exists": True, "valid": True, "reason": None}
    from aira_dsl.runtime.scheduler import graph_from_journal

    graph = graph_from_journal(journal)
    where = builder._predicate(graph, plan.operators["draft"])
    assert where is not None
    assert [where(graph[0]), where(graph[1])] == [False, True]
    journal.close()
