"""Helpers for the sweep tests: the CLI as a real subprocess, sweep files, records, journals."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "sweeps"


def cli(args: list[str], env: dict[str, str] | None = None, timeout: float = 240,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``aira-dsl ARGS`` in a subprocess (the console script's code, as users run it)."""
    return subprocess.run([sys.executable, "-m", "aira_dsl", *args], capture_output=True, text=True,
                          env=env or dict(os.environ), timeout=timeout, cwd=cwd or REPO)


def popen(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "aira_dsl", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO, start_new_session=True)


def endpoint_env(base_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "test-key", "NO_COLOR": "1", **extra}


def derived_sweep(example: str, target: Path, change: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """A copy of an example sweep file that works from ``target`` (spec paths made absolute)."""
    data = yaml.safe_load((EXAMPLES / example).read_text(encoding="utf-8"))
    for entry in data["specs"]:
        entry["path"] = str((EXAMPLES / entry["path"]).resolve())
    if change is not None:
        change(data)
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


def manifest(sweep_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((sweep_dir / "sweep.json").read_text(encoding="utf-8"))
    return data


def status_json(sweep_dir: Path) -> dict[str, Any]:
    done = cli(["sweep", "status", str(sweep_dir), "--format", "json"])
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def attempts(sweep_dir: Path) -> list[dict[str, Any]]:
    """Every attempt of every job: start and end events merged (key, attempt, gpus, times)."""
    found: dict[tuple[str, int, int], dict[str, Any]] = {}
    for path in sorted(sweep_dir.glob("jobs/*/attempts.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            found.setdefault((event["key"], event["launch"], event["attempt"]), {}).update(event)
    return list(found.values())


def assert_disjoint_gpus(items: list[dict[str, Any]]) -> int:
    """No two attempts that overlapped in time held a common GPU; returns how many pairs overlapped."""
    overlapping = 0
    now = time.time()
    for i, a in enumerate(items):
        for b in items[i + 1:]:
            a_end, b_end = a.get("ended_at") or now, b.get("ended_at") or now
            if a["started_at"] < b_end and b["started_at"] < a_end:
                overlapping += 1
                shared = set(a.get("gpus") or []) & set(b.get("gpus") or [])
                assert not shared, f"{a['key']} and {b['key']} ran at the same time on GPU(s) {shared}"
    return overlapping


def done_nodes(run_dir: Path) -> dict[int, tuple[Any, ...]]:
    """Finished nodes of a run's journal: id -> (role, code) (empty when it has none yet)."""
    path = run_dir / "journal.sqlite"
    if not path.exists():
        return {}
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT id, role, code, metric FROM nodes WHERE status='done'").fetchall()
        return {r[0]: tuple(r[1:]) for r in rows}
    except sqlite3.Error:
        return {}
    finally:
        conn.close()


def wait_for_running_job(sweep_dir: Path, proc: subprocess.Popen[str], timeout: float = 120,
                         min_nodes: int = 1) -> dict[str, Any]:
    """The state.json of the first job whose run has ``min_nodes`` finished nodes and still runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the sweep ended before a job could be caught mid-run: {proc.stderr.read() if proc.stderr else ''}")
        for path in sorted(sweep_dir.glob("jobs/*/state.json")):
            try:
                state = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                continue
            if state.get("state") == "running" and state.get("run_pid") \
                    and len(done_nodes(sweep_dir / "runs" / state["key"])) >= min_nodes:
                return dict(state)
        time.sleep(0.02)
    raise AssertionError("no job reached a finished node in time")


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
