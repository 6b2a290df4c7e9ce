"""A run whose fitness is the framework-held validation split (`hidden.score`)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from aira_dsl.compiler import load_plan_or_spec
from aira_dsl.llm.scripted import ScriptedServer
from aira_dsl.runtime.engine import Engine, RunOptions

REPO = Path(__file__).resolve().parents[2]
HIDDEN_AWARE = """import csv, shutil
shutil.copy("./data/sample_submission.csv", "./submission/submission.csv")
rows = list(csv.DictReader(open("./data/hidden_val_features.csv")))
with open("./submission/hidden_val_predictions.csv", "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["id", "species"])
    for row in rows:
        writer.writerow([row["id"], "Adelie"])
"""
IGNORES_HIDDEN = 'import shutil\nshutil.copy("./data/sample_submission.csv", "./submission/submission.csv")\n'


@pytest.mark.slow
def test_hidden_score_drives_fitness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    plan = load_plan_or_spec(REPO / "specs" / "aira-greedy.yaml", overrides=(
        "budget.steps=4", "budget.exec_timeout=30s", "fitness.metric=hidden.score",
        "fitness.buggy=exec.exit_code != 0 or metric == null or not submission.valid"))
    script = {"rules": [{"when": {"kind": "draft"}, "answers": [{"plan": "p", "code": HIDDEN_AWARE},
                                                                  {"plan": "q", "code": IGNORES_HIDDEN}]},
                        {"when": {"kind": ["improve", "debug"]}, "answers": [{"plan": "r", "code": HIDDEN_AWARE}]}]}
    with ScriptedServer(script) as server:
        engine = Engine(plan, RunOptions(task_ref="penguins", out=tmp_path / "run", workers=1,
                                         base_url=server.base_url, hidden_validation=0.2))
        summary = asyncio.run(engine.run())
    assert summary.status == "finished"
    conn = sqlite3.connect(tmp_path / "run" / "journal.sqlite")
    rows = conn.execute("SELECT n.id, n.buggy, n.metric, g.hidden_score FROM nodes n "
                        "LEFT JOIN grades g ON g.node_id = n.id ORDER BY n.id").fetchall()
    by_id = {r[0]: r for r in rows}
    assert by_id[0][1] == 0 and by_id[0][2] == pytest.approx(by_id[0][3]) and 0 < by_id[0][2] < 1
    assert by_id[1][1] == 1 and by_id[1][2] is None  # no hidden predictions: metric null, buggy
    public = (tmp_path / "run" / "nodes")
    assert public.exists()
