"""A run killed with SIGKILL at random moments and resumed each time loses and duplicates nothing."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from runtime_support import launch, script

from aira_dsl.llm.scripted import ScriptedServer
from aira_dsl.tasks import grade_submission, resolve_task

STEPS = 12
SETTINGS = [f"budget.steps={STEPS}", "budget.exec_timeout=30s", "budget.time=10m", "models.coder.timeout=20s",
            "models.reviewer.timeout=20s"]


def done_nodes(run_dir: Path) -> dict[int, tuple[object, ...]]:
    if not (run_dir / "journal.sqlite").exists():
        return {}
    conn = sqlite3.connect(run_dir / "journal.sqlite")
    try:
        rows = conn.execute("SELECT id, role, parent_ids, buggy, metric, code FROM nodes WHERE status='done'")
        return {r[0]: tuple(r[1:]) for r in rows}
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()


@pytest.mark.slow
def test_sigkill_and_resume(tmp_path: Path) -> None:
    rng = random.Random(7)
    run_dir = tmp_path / "run"
    seen: dict[int, tuple[object, ...]] = {}
    sets = [arg for item in SETTINGS for arg in ("--set", item)]
    with ScriptedServer(script(latency=0.15)) as server:
        for attempt in range(6):
            if not (run_dir / "run.json").exists():  # killed before the run was set up: start again
                proc = launch(["specs/aira-greedy.yaml", "--task", "penguins", "--out", str(run_dir), "--workers", "2",
                               *sets], server.base_url)
            else:
                proc = launch(["--resume", str(run_dir)], server.base_url)
            if attempt < 3:
                # Kill at a random moment once this attempt has made progress (a kill during
                # start-up would test nothing), so completed and in-flight nodes both exist.
                target = len(done_nodes(run_dir)) + 1
                deadline = time.monotonic() + 120
                while len(done_nodes(run_dir)) < target and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.1)
                time.sleep(rng.uniform(0.0, 1.5))
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            else:
                _, err = proc.communicate(timeout=240)
                assert proc.returncode == 0, err.decode()
            now = done_nodes(run_dir)
            for node_id, row in seen.items():
                assert now.get(node_id) == row, f"completed node {node_id} changed or vanished after a kill"
            seen = now
            if attempt >= 3:
                break
    conn = sqlite3.connect(run_dir / "journal.sqlite")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ids = [r[0] for r in conn.execute("SELECT id FROM nodes ORDER BY id")]
    assert len(ids) == len(set(ids)) == STEPS
    assert conn.execute("SELECT COUNT(*) FROM nodes WHERE status != 'done'").fetchone()[0] == 0
    # every executed node has exactly one execution row
    executed = conn.execute("SELECT COUNT(*) FROM nodes WHERE code IS NOT NULL").fetchone()[0]
    assert conn.execute("SELECT COUNT(*) FROM executions").fetchone()[0] == executed
    resumes = conn.execute("SELECT COUNT(*) FROM events WHERE kind='resume'").fetchone()[0]
    assert resumes >= 1
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "finished" and run["steps"] == STEPS
    assert grade_submission(resolve_task("penguins"), run_dir / "best" / "submission.csv").valid_submission
    # no sandboxed process outlived the killed runs
    leftovers = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if str(run_dir).encode() in cmdline:
                leftovers.append(cmdline)
    assert leftovers == []


@pytest.mark.slow
def test_ctrl_c_stops_gracefully_and_resume_finishes(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    sets = [arg for item in SETTINGS for arg in ("--set", item)]
    with ScriptedServer(script(latency=0.3)) as server:
        proc = launch(["specs/aira-greedy.yaml", "--task", "penguins", "--out", str(run_dir), "--workers", "2", *sets],
                      server.base_url)
        deadline = time.monotonic() + 120
        while len(done_nodes(run_dir)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        assert b"Traceback" not in err
        run = json.loads((run_dir / "run.json").read_text())
        assert run["status"] == "interrupted" and run["stop_reason"] == "interrupted"
        stopped_at = len(done_nodes(run_dir))
        assert 2 <= stopped_at < STEPS
        conn = sqlite3.connect(run_dir / "journal.sqlite")
        assert conn.execute("SELECT COUNT(*) FROM nodes WHERE status='pending'").fetchone()[0] == 0
        conn.close()
        proc = launch(["--resume", str(run_dir)], server.base_url)
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err.decode()
    assert len(done_nodes(run_dir)) == STEPS
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"
