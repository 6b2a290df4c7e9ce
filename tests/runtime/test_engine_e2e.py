"""End-to-end runs of every shipped spec against the scripted server, with faults injected."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from pathlib import Path

import pytest
from runtime_support import journal_counts, script

from aira_dsl.compiler import load_plan_or_spec
from aira_dsl.llm.scripted import ScriptedServer
from aira_dsl.runtime.engine import Engine, RunOptions
from aira_dsl.tasks import grade_submission, resolve_task

REPO = Path(__file__).resolve().parents[2]
SPECS = ["aide-greedy", "aira-greedy", "aira-mcts", "aira-evo"]


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def run_engine(spec: str, out: Path, *, workers: int, steps: int = 8, faults: bool = True,
               extra: tuple[str, ...] = (), **options: object) -> tuple[object, ScriptedServer]:
    plan = load_plan_or_spec(REPO / "specs" / f"{spec}.yaml",
                             overrides=(f"budget.steps={steps}", "budget.exec_timeout=30s", "budget.time=5m",
                                        "models.coder.timeout=20s", "models.reviewer.timeout=20s", *extra))
    with ScriptedServer(script(faults=faults, latency=0.3 if workers > 1 else 0.0)) as server:
        engine = Engine(plan, RunOptions(task_ref="penguins", out=out, workers=workers, base_url=server.base_url,
                                         **options))  # type: ignore[arg-type]
        summary = asyncio.run(engine.run())
    return summary, server


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("spec", SPECS)
def test_shipped_spec_runs_end_to_end(spec: str, workers: int, tmp_path: Path) -> None:
    out = tmp_path / "run"
    summary, server = run_engine(spec, out, workers=workers)
    assert summary.status == "finished" and summary.stop_reason == "steps"  # type: ignore[attr-defined]
    assert summary.steps == 8  # type: ignore[attr-defined]
    counts = journal_counts(out)
    assert counts == {"done": 8, "pending": 0, "ids": 8, "executions": counts["executions"]}
    assert counts["executions"] >= 5  # nodes without code are not executed
    assert summary.best_node is not None  # type: ignore[attr-defined]
    best = out / "best" / "submission.csv"
    report = grade_submission(resolve_task("penguins"), best)
    assert report.valid_submission
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "finished" and run["steps"] == 8 and run["plan_hash"]
    conn = sqlite3.connect(out / "journal.sqlite")
    calls = conn.execute("SELECT COUNT(*), SUM(prompt_tokens) FROM llm_calls").fetchone()
    assert calls[0] >= 8 and calls[1] > 0  # every call accounted
    kinds = {k for (k,) in conn.execute("SELECT DISTINCT role FROM nodes")}
    assert "draft" in kinds and ("debug" in kinds or "improve" in kinds)
    no_code = conn.execute("SELECT COUNT(*) FROM nodes WHERE error LIKE 'no usable code%'").fetchone()[0]
    retried = conn.execute("SELECT COUNT(*) FROM llm_calls WHERE attempt > 1").fetchone()[0]
    assert retried >= 1 or no_code >= 1  # the answer without code was re-asked
    outcomes = [r.get("outcome") for r in server.requests]
    assert any("rate_limit" in str(o) for o in outcomes) and any("server_error" in str(o) for o in outcomes)
    if workers == 3:
        assert server.max_in_flight >= 2


@pytest.mark.slow
def test_budget_time_stops_the_run(tmp_path: Path) -> None:
    summary, _ = run_engine("aira-greedy", tmp_path / "run", workers=2, steps=500, faults=False,
                            extra=("budget.time=4s",))
    assert summary.stop_reason == "time"  # type: ignore[attr-defined]
    assert summary.elapsed < 30  # type: ignore[attr-defined]
    assert journal_counts(tmp_path / "run")["pending"] == 0


@pytest.mark.slow
def test_cost_budget_stops_the_run(tmp_path: Path) -> None:
    summary, _ = run_engine("aira-greedy", tmp_path / "run", workers=1, steps=500, faults=False,
                            extra=("budget.cost_usd=0.02",))
    assert summary.stop_reason == "cost"  # type: ignore[attr-defined]
    assert summary.steps < 20  # type: ignore[attr-defined]


@pytest.mark.slow
def test_record_then_replay_offline(tmp_path: Path) -> None:
    cache = tmp_path / "answers.sqlite"
    first, _ = run_engine("aira-greedy", tmp_path / "a", workers=1, steps=6, faults=False,
                          llm_cache="record", llm_cache_path=cache)
    plan = load_plan_or_spec(REPO / "specs" / "aira-greedy.yaml",
                             overrides=("budget.steps=6", "budget.exec_timeout=30s", "budget.time=5m",
                                        "models.coder.timeout=20s", "models.reviewer.timeout=20s"))
    # No server at all: every answer must come from the recording.
    engine = Engine(plan, RunOptions(task_ref="penguins", out=tmp_path / "b", workers=1,
                                     base_url="http://127.0.0.1:9/v1", llm_cache="replay", llm_cache_path=cache))
    second = asyncio.run(engine.run())
    assert second.status == "finished", second.stop_reason
    a = sqlite3.connect(tmp_path / "a" / "journal.sqlite")
    b = sqlite3.connect(tmp_path / "b" / "journal.sqlite")
    query = "SELECT id, role, buggy, metric, code FROM nodes ORDER BY id"
    assert a.execute(query).fetchall() == b.execute(query).fetchall()
    assert first.best_validation == second.best_validation  # type: ignore[attr-defined]


def test_run_without_endpoint_explains_how_to_configure(tmp_path: Path) -> None:
    from tests_support import run_cli  # type: ignore[import-not-found]

    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    result = run_cli("run", "specs/aira-greedy.yaml", "--task", "penguins", "--out", str(tmp_path / "r"),
                     env={**env, "OPENAI_API_KEY": ""})
    assert result.returncode == 2
    assert "OPENAI_API_KEY" in result.stderr and "aira-dsl demo" in result.stderr
    assert "Traceback" not in result.stderr
