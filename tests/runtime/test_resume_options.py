"""Resume restores every run option from run.json and refuses changes that would alter the experiment."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aira_dsl.llm.scripted import ScriptedServer
from aira_dsl.runtime.engine import EngineError
from aira_dsl.runtime.options import OptionChangeError, RunOptions
from aira_dsl.runtime.resume import prepare_resume

REPO = Path(__file__).resolve().parents[2]
HIDDEN_AWARE = """import csv, shutil, time
time.sleep(0.4)
shutil.copy("./data/sample_submission.csv", "./submission/submission.csv")
rows = list(csv.DictReader(open("./data/hidden_val_features.csv")))
with open("./submission/hidden_val_predictions.csv", "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["id", "species"])
    for row in rows:
        writer.writerow([row["id"], "Adelie"])
"""
STEPS = 6


def test_options_round_trip_and_semantic_changes_are_refused(tmp_path: Path) -> None:
    options = RunOptions(task_ref="penguins", out=tmp_path, seed=3, workers=2, hidden_validation=0.2,
                         llm_cache="record", gpus=[0, 1], sandbox_dirs=[tmp_path / "runtimes"])
    again = RunOptions.from_record(options.to_record())
    assert again == options
    assert options.resumed(workers=4, base_url="http://127.0.0.1:9/v1").workers == 4
    assert options.resumed(hidden_validation=None).hidden_validation == 0.2  # None = as recorded
    with pytest.raises(OptionChangeError, match="--hidden-validation cannot change"):
        options.resumed(hidden_validation=0.3)
    with pytest.raises(OptionChangeError, match="--seed cannot change"):
        options.resumed(seed=4)
    with pytest.raises(OptionChangeError, match="--task cannot change"):
        options.resumed(task_ref="diabetes")


def test_prepare_resume_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="is not a run directory"):
        prepare_resume(tmp_path)


def _launch(args: list[str], base_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OPENAI_API_KEY": "test-key", "NO_COLOR": "1"}
    return subprocess.Popen([sys.executable, "-m", "aira_dsl", "run", *args, "--base-url", base_url], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _done(run_dir: Path) -> int:
    try:
        conn = sqlite3.connect(run_dir / "journal.sqlite")
        try:
            return int(conn.execute("SELECT COUNT(*) FROM nodes WHERE status='done'").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_hidden_validation_survives_a_kill_and_resume(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    script = {"latency": 0.1, "rules": [{"when": {"kind": ["draft", "improve", "debug", "crossover"]},
                                          "answers": [{"plan": "hidden-aware", "code": HIDDEN_AWARE}]}]}
    sets = ["--set", f"budget.steps={STEPS}", "--set", "budget.exec_timeout=30s", "--set", "fitness.metric=hidden.score",
            "--set", "fitness.buggy=exec.exit_code != 0 or metric == null or not submission.valid"]
    with ScriptedServer(script) as server:
        proc = _launch(["specs/aira-greedy.yaml", "--task", "penguins", "--out", str(run_dir), "--workers", "1",
                        "--hidden-validation", "0.2", *sets], server.base_url)
        deadline = time.monotonic() + 180
        while _done(run_dir) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[1].decode()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        killed_at = _done(run_dir)
        assert 2 <= killed_at < STEPS
        changed = _launch(["--resume", str(run_dir), "--hidden-validation", "0.3"], server.base_url)
        _, err = changed.communicate(timeout=120)
        assert changed.returncode == 2 and b"--hidden-validation cannot change" in err and b"Traceback" not in err
        resumed = _launch(["--resume", str(run_dir)], server.base_url)
        _, err = resumed.communicate(timeout=300)
        assert resumed.returncode == 0, err.decode()
    conn = sqlite3.connect(run_dir / "journal.sqlite")
    rows = conn.execute("SELECT n.id, n.buggy, n.metric, g.hidden_score FROM nodes n "
                        "LEFT JOIN grades g ON g.node_id = n.id ORDER BY n.id").fetchall()
    assert len(rows) == STEPS
    for node_id, buggy, metric, hidden in rows:
        assert hidden is not None and buggy == 0 and metric == pytest.approx(hidden), (node_id, rows)
