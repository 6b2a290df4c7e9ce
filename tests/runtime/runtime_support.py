"""Scripted answers and helpers for end-to-end runtime tests (fast, trivial solutions)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

GOOD = """import csv, json, shutil
shutil.copy("./data/sample_submission.csv", "./submission/submission.csv")
print("validation accuracy: 0.5")
json.dump({"cv_score": 0.5}, open("./working/metrics.json", "w"))
"""
BETTER = """import csv, json
rows = list(csv.DictReader(open("./data/sample_submission.csv")))
with open("./submission/submission.csv", "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
print("validation accuracy: 0.7")
json.dump({"cv_score": 0.7}, open("./working/metrics.json", "w"))
"""
BUGGY = """raise RuntimeError("deliberate failure in a scripted draft")
"""


def script(*, faults: bool = False, review_metric: float = 0.6, latency: float = 0.0) -> dict[str, Any]:
    """Rules for every operator kind; drafts cycle good / buggy / no code."""
    draft_faults = [{"fault": "rate_limit", "retry_after": 0.05, "times": 1},
                    {"fault": "server_error", "times": 1}] if faults else []
    return {
        "latency": latency,
        "rules": [
            {"name": "review-crash", "when": {"kind": "analyze", "match": r"Traceback \(most recent call last\)"},
             "answers": [{"review": {"is_bug": True, "summary": "it crashed", "metric": None}}]},
            {"name": "review", "when": {"kind": "analyze"},
             "answers": [{"review": {"is_bug": False, "summary": "ran fine", "metric": review_metric}}]},
            {"name": "draft", "when": {"kind": "draft"}, "faults": draft_faults,
             "answers": [{"plan": "copy the sample", "code": GOOD},
                         {"plan": "crash on purpose", "code": BUGGY},
                         {"text": "I would rather explain than write code."},
                         {"plan": "copy the sample", "code": GOOD}]},
            {"name": "debug", "when": {"kind": "debug"}, "answers": [{"plan": "fixed", "code": GOOD}]},
            {"name": "improve", "when": {"kind": ["improve", "crossover"]},
             "answers": [{"plan": "better", "code": BETTER}]},
        ],
    }


def api_env() -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": "test-key"}


def journal_counts(run_dir: Path) -> dict[str, int]:
    import sqlite3

    conn = sqlite3.connect(run_dir / "journal.sqlite")
    try:
        return {
            "done": conn.execute("SELECT COUNT(*) FROM nodes WHERE status='done'").fetchone()[0],
            "pending": conn.execute("SELECT COUNT(*) FROM nodes WHERE status='pending'").fetchone()[0],
            "ids": conn.execute("SELECT COUNT(DISTINCT id) FROM nodes").fetchone()[0],
            "executions": conn.execute("SELECT COUNT(*) FROM executions").fetchone()[0],
        }
    finally:
        conn.close()


def launch(args: list[str], base_url: str) -> subprocess.Popen[bytes]:
    """``aira-dsl run ARGS`` as its own process group (so a test can SIGKILL the whole run)."""
    env = {**os.environ, "OPENAI_API_KEY": "test-key", "NO_COLOR": "1"}
    return subprocess.Popen([sys.executable, "-m", "aira_dsl", "run", *args, "--base-url", base_url],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
