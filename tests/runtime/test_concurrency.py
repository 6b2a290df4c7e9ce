"""The engine's own thread pool: with 8 workers, 8 executions really run at once (on 2 cores).

asyncio's default pool has min(32, cores + 4) threads, so sandbox calls of 8 workers on this
2-core machine ran at most 6 at a time; the engine now sizes its pool to its workers.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from aira_dsl.compiler import load_plan_or_spec
from aira_dsl.llm.scripted import ScriptedServer
from aira_dsl.runtime.engine import Engine, RunOptions

REPO = Path(__file__).resolve().parents[2]
SLEEPER = """import shutil, time
print("start", time.time(), flush=True)
time.sleep(6)
shutil.copy("./data/sample_submission.csv", "./submission/submission.csv")
print("end", time.time())
"""
WORKERS = 8


@pytest.mark.slow
def test_eight_workers_run_eight_executions_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    plan = load_plan_or_spec(REPO / "specs" / "aira-greedy.yaml", overrides=(
        f"budget.steps={WORKERS}", f"policy.num_drafts={WORKERS}", "budget.exec_timeout=60s",
        'fitness.metric="1"', "fitness.buggy=not submission.valid"))
    script = {"latency": 0.2, "rules": [{"when": {"kind": "draft"}, "answers": [{"plan": "sleep", "code": SLEEPER}]}]}
    with ScriptedServer(script) as server:
        engine = Engine(plan, RunOptions(task_ref="penguins", out=tmp_path / "run", workers=WORKERS,
                                         base_url=server.base_url))
        summary = asyncio.run(engine.run())
    assert summary.status == "finished" and summary.steps == WORKERS
    intervals = []
    for node in sorted((tmp_path / "run" / "nodes").iterdir()):
        output = (node / "output.txt").read_text()
        start = float(re.search(r"start (\S+)", output).group(1))  # type: ignore[union-attr]
        end = float(re.search(r"end (\S+)", output).group(1))  # type: ignore[union-attr]
        intervals.append((start, end))
    assert len(intervals) == WORKERS
    latest_start = max(s for s, _ in intervals)
    earliest_end = min(e for _, e in intervals)
    assert latest_start < earliest_end, f"not all {WORKERS} executions overlapped: {intervals}"
