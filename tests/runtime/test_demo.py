"""The README's main job: `aira-dsl demo` runs the whole pipeline offline."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from tests_support import run_cli  # type: ignore[import-not-found]

from aira_dsl.tasks import grade_submission, resolve_task


@pytest.mark.slow
def test_demo_runs_offline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    start = time.monotonic()
    result = run_cli("demo", "--out", str(tmp_path / "demo"), env=env, timeout=300)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert "SCRIPTED" in result.stderr and "not a model's" in result.stderr
    assert "aira-dsl view" in result.stdout
    assert elapsed < 120
    run = json.loads((tmp_path / "demo" / "run.json").read_text())
    assert run["status"] == "finished" and run["steps"] == 10
    best = tmp_path / "demo" / "best" / "submission.csv"
    assert grade_submission(resolve_task("penguins"), best).valid_submission
    import sqlite3

    conn = sqlite3.connect(tmp_path / "demo" / "journal.sqlite")
    roles = {r for (r,) in conn.execute("SELECT role FROM nodes")}
    assert {"draft", "debug", "improve"} <= roles  # the deliberately buggy drafts were debugged
    assert conn.execute("SELECT COUNT(*) FROM nodes WHERE buggy = 1").fetchone()[0] >= 1
    assert conn.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] >= 5
