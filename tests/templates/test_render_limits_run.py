"""A run whose templates go past the render limits: each such node fails with the reason, the
run goes on to its last step (engine against the scripted server)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from aira_dsl.compiler import load_plan_or_spec
from aira_dsl.llm.scripted import ScriptedServer
from aira_dsl.runtime.engine import Engine, RunOptions

SPEC = Path(__file__).resolve().parent / "fixtures" / "limits" / "hostile_run.yaml"
GOOD = """import shutil
shutil.copy("./data/sample_submission.csv", "./submission/submission.csv")
print("validation accuracy: 0.5")
"""
BUGGY = 'raise RuntimeError("deliberate failure")\n'


def script() -> dict[str, Any]:
    """Drafts alternate good and buggy, so the policy asks for both an improve and a debug."""
    return {"rules": [
        {"name": "review", "when": {"kind": "analyze"},
         "answers": [{"review": {"is_bug": False, "summary": "ran", "metric": 0.5}}]},
        {"name": "draft", "when": {"kind": "draft"},
         "answers": [{"plan": "copy", "code": GOOD}, {"plan": "crash", "code": BUGGY}]},
        {"name": "other", "when": {"kind": ["improve", "debug", "crossover"]},
         "answers": [{"plan": "never asked", "code": GOOD}]},
    ]}


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


@pytest.mark.slow  # about 10 s: a real run, and a fresh renderer after each refused prompt
def test_hostile_templates_fail_their_nodes_and_the_run_finishes(tmp_path: Path) -> None:
    plan = load_plan_or_spec(SPEC, overrides=("budget.steps=6", "policy.num_drafts=2", "policy.max_debug_depth=1",
                                              "budget.exec_timeout=30s", "budget.time=5m",
                                              "models.coder.timeout=20s", "models.reviewer.timeout=20s"))
    out = tmp_path / "run"
    start = time.monotonic()
    with ScriptedServer(script()) as server:
        summary = asyncio.run(Engine(plan, RunOptions(task_ref="penguins", out=out, workers=1,
                                                      base_url=server.base_url)).run())
    assert summary.status == "finished" and summary.stop_reason == "steps", summary
    assert summary.steps == 6
    conn = sqlite3.connect(out / "journal.sqlite")
    rows = conn.execute("SELECT role, status, buggy, error, code FROM nodes ORDER BY id").fetchall()
    assert all(status == "done" and buggy for _, status, buggy, error, _ in rows if error)
    failed = {error.split("'")[1]: (role, code) for role, _, _, error, code in rows
              if error and "could not be rendered" in error}
    assert set(failed) == {"improve", "debug", "analyze"}, rows
    assert failed["analyze"] == ("draft", BUGGY)  # the buggy draft ran; only its review could not be asked
    assert rows[0][3] is None  # the good draft was reviewed normally
    errors = "\n".join(str(row[3]) for row in rows)
    # each reason names the template, its line and the limit
    assert "improve.system.inline.j2:2: indent width 1000000000 is above the limit of 100000 [template-limit]" in errors
    assert "debug.system.inline.j2:2: loops ran more than 1000000 iterations in all" in errors
    assert "analyze.system.inline.j2:2: center width 300000000 is above the limit of 100000 [template-limit]" in errors
    # no model call was made for a prompt that could not be rendered
    asked = [r.get("kind") for r in server.chat_requests()]
    assert "improve" not in asked and "debug" not in asked and asked.count("analyze") == 1, asked
    assert time.monotonic() - start < 120
