"""A minimised metric end to end: on ``diabetes`` (RMSE) the best node has the LOWEST metric.

The shipped greedy agent runs against the scripted server. Each scripted solution writes a valid
submission and prints its validation RMSE; the scripted reviewer reports that number (the
spec's ``fitness.metric: review.metric``), and the direction comes from the task. Had the
negation of minimised metrics been dropped, the node with the largest RMSE (70) would win.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from aira_dsl.compiler import load_plan_or_spec
from aira_dsl.llm.scripted import ScriptedServer
from aira_dsl.runtime.engine import Engine, RunOptions

REPO = Path(__file__).resolve().parents[2]
DRAFTS = [61.5, 54.25, 70.0]
IMPROVEMENTS = [49.5, 57.0]


def solution(rmse: float) -> str:
    """A valid submission (the sample's mean shifted by ``rmse / 100``) and its printed RMSE."""
    return (
        "import csv\n"
        "rows = list(csv.DictReader(open('./data/sample_submission.csv')))\n"
        "with open('./submission/submission.csv', 'w', newline='') as handle:\n"
        "    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))\n"
        "    writer.writeheader()\n"
        "    for row in rows:\n"
        f"        row['progression'] = float(row['progression']) + {rmse / 100}\n"
        "        writer.writerow(row)\n"
        f"print('validation RMSE: {rmse:.2f}')\n")


def script() -> dict[str, Any]:
    reviews = [{"name": f"review-{value}", "when": {"kind": "analyze", "match": f"validation RMSE: {value:.2f}"},
                "answers": [{"review": {"is_bug": False, "summary": f"RMSE {value}", "metric": value}}]}
               for value in DRAFTS + IMPROVEMENTS]
    return {"rules": [
        *reviews,
        {"name": "draft", "when": {"kind": "draft"},
         "answers": [{"plan": f"offset {v}", "code": solution(v)} for v in DRAFTS]},
        {"name": "improve", "when": {"kind": "improve"},
         "answers": [{"plan": f"offset {v}", "code": solution(v)} for v in IMPROVEMENTS]},
    ]}


@pytest.mark.slow
def test_diabetes_best_node_has_the_lowest_rmse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    plan = load_plan_or_spec(REPO / "specs" / "aira-greedy.yaml",
                             overrides=("budget.steps=5", "policy.num_drafts=3", "budget.exec_timeout=60s",
                                        "budget.time=5m", "models.coder.timeout=20s", "models.reviewer.timeout=20s"))
    out = tmp_path / "run"
    with ScriptedServer(script()) as server:
        summary = asyncio.run(Engine(plan, RunOptions(task_ref="diabetes", out=out, workers=1,
                                                      base_url=server.base_url)).run())
    assert summary.status == "finished" and summary.steps == 5, summary.stop_reason

    conn = sqlite3.connect(out / "journal.sqlite")
    rows = conn.execute("SELECT id, role, buggy, metric, fitness FROM nodes ORDER BY id").fetchall()
    assert [(role, buggy, metric) for _, role, buggy, metric, _ in rows] == [
        ("draft", 0, 61.5), ("draft", 0, 54.25), ("draft", 0, 70.0), ("improve", 0, 49.5), ("improve", 0, 57.0)]
    for _, _, _, metric, fitness in rows:
        assert fitness == -metric  # RMSE is minimised: higher fitness is a lower error
    lowest = min(rows, key=lambda row: row[3])[0]
    assert lowest == 3
    # the first improvement was made from the draft with the lowest RMSE, not the highest
    assert conn.execute("SELECT parent_ids FROM nodes WHERE id = 3").fetchone()[0] == "[1]"

    assert summary.best_node == lowest and summary.best_validation == 49.5
    run = json.loads((out / "run.json").read_text())
    assert run["task"]["direction"] == "minimize" and run["best_node"] == lowest
    assert json.loads((out / "best" / "node.json").read_text())["node"] == lowest
    assert (out / "best" / "submission.csv").read_bytes() == (out / "nodes" / "00003" / "submission.csv").read_bytes()
