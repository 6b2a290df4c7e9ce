"""Money spent survives a crash: model calls are journaled as they return, not with their node.

A run is SIGKILLed while its first node's solution is running (its draft call has returned, the
node has not finished). The call must already be in ``llm_calls``; on ``--resume`` it must still
count against the budget. The budget is set so that this one call spends it: a resume that
forgot the call would start a new node and make new calls, one that counts it stops at once.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from runtime_support import launch

from aira_dsl.llm.scripted import ScriptedServer

SLEEPER = "import time\ntime.sleep(120)\n"
SCRIPT: dict[str, Any] = {"rules": [{"name": "draft", "when": {"kind": "draft"},
                                     "answers": [{"plan": "wait for the kill", "code": SLEEPER}]}]}


def calls(run_dir: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(run_dir / "journal.sqlite")
    try:
        return conn.execute("SELECT id, node_id, kind, prompt_tokens + completion_tokens, cost_usd FROM llm_calls"
                            " ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def node_status(run_dir: Path) -> list[tuple[int, str]]:
    conn = sqlite3.connect(run_dir / "journal.sqlite")
    try:
        return conn.execute("SELECT id, status FROM nodes ORDER BY id").fetchall()
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("budget", ["budget.tokens=1", "budget.cost_usd=0.000001"])
def test_calls_of_a_killed_node_stay_counted_on_resume(tmp_path: Path, budget: str) -> None:
    run_dir = tmp_path / "run"
    sets = ["budget.steps=5", "budget.time=10m", "budget.exec_timeout=5m", "models.coder.timeout=20s", budget]
    with ScriptedServer(SCRIPT) as server:
        proc = launch(["specs/aira-greedy.yaml", "--task", "penguins", "--out", str(run_dir), "--workers", "1",
                       *[arg for item in sets for arg in ("--set", item)]], server.base_url)
        try:
            deadline = time.monotonic() + 120
            while not (run_dir / "journal.sqlite").exists() or not calls(run_dir):
                assert proc.poll() is None, proc.communicate()[1].decode()
                assert time.monotonic() < deadline, "the draft call was never journaled"
                time.sleep(0.1)
            time.sleep(0.5)  # the solution is now sleeping in the sandbox
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        before = calls(run_dir)
        assert node_status(run_dir) == [(0, "pending")]  # killed before its node finished
        assert [(node, kind) for _, node, kind, _, _ in before] == [(0, "draft")]
        spent_tokens, spent_cost = before[0][3], before[0][4]
        assert spent_tokens > 1 and spent_cost > 0.000001

        resumed = launch(["--resume", str(run_dir)], server.base_url)
        _, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err.decode()
    after = calls(run_dir)
    # the paid-for call stays, detached from the dropped node; nothing new was asked
    assert [(cid, node, kind) for cid, node, kind, _, _ in after] == [(before[0][0], None, "draft")]
    assert node_status(run_dir) == []
    run = json.loads((run_dir / "run.json").read_text())
    assert run["stop_reason"] == ("tokens" if "tokens" in budget else "cost"), run
    assert run["tokens"] == spent_tokens and run["cost_usd"] == pytest.approx(spent_cost, abs=1e-6)
