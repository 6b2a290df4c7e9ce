"""``aira-dsl exec`` as users and CI call it: real processes, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sandbox_support import REPO, skip_backend, skip_reason

from aira_dsl.sandbox import list_gpus


def aira(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aira_dsl", "exec", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120, check=False)


@pytest.fixture(autouse=True)
def _needs_local_isolation() -> None:
    reason = skip_reason("bwrap-cgroup") and skip_reason("unshare-cgroup")
    if reason:
        skip_backend("unshare-cgroup", reason)


def script(tmp_path: Path, code: str, name: str = "job.py") -> Path:
    path = tmp_path / name
    path.write_text(code)
    return path


def test_success_prints_output_then_summary(tmp_path: Path) -> None:
    data = tmp_path / "public"
    data.mkdir()
    (data / "train.csv").write_text("x\n")
    job = script(tmp_path, "import os, sys\nprint(os.listdir('data'), sys.argv[1:], os.environ['MODE'])\n"
                           "open('submission/submission.csv', 'w').write('id\\n')\n")
    done = aira(str(job), "--data", str(data), "--timeout", "30s", "--memory", "512m", "--env", "MODE=fast",
                "--", "--lr", "0.1")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "['train.csv'] ['--lr', '0.1'] fast\n"
    assert "exit 0" in done.stderr and "files: submission/submission.csv" in done.stderr


def test_failure_and_timeout_exit_1(tmp_path: Path) -> None:
    failing = aira(str(script(tmp_path, "raise SystemExit(4)\n")))
    assert failing.returncode == 1 and "exit 4" in failing.stderr
    slow = aira(str(script(tmp_path, "import time\ntime.sleep(30)\n", "slow.py")), "--timeout", "1s",
                "--format", "json")
    assert slow.returncode == 1
    payload = json.loads(slow.stdout)
    assert payload["timed_out"] is True and payload["ok"] is False
    assert payload["limits"]["wall_time"] == 1.0
    assert payload["sandbox"]["isolation"] in ("bubblewrap", "unshare")


def test_memory_limit_reported_in_json(tmp_path: Path) -> None:
    bomb = script(tmp_path, "x = []\nwhile True:\n    x.append(b'1' * (4 << 20))\n")
    done = aira(str(bomb), "--memory", "96m", "--timeout", "30s", "--format", "json")
    assert done.returncode == 1
    payload = json.loads(done.stdout)
    assert payload["oom_killed"] is True and payload["timed_out"] is False
    assert payload["limits"]["memory_bytes"] == 96 << 20


def test_keep_leaves_the_workspace(tmp_path: Path) -> None:
    job = script(tmp_path, "open('working/out.txt', 'w').write('hi')\n")
    done = aira(str(job), "--keep", "--workdir", str(tmp_path / "ws"), "--format", "json")
    assert done.returncode == 0, done.stderr
    kept = Path(json.loads(done.stdout)["workspace"])
    assert (kept / "working" / "out.txt").read_text() == "hi"
    gone = aira(str(job), "--workdir", str(tmp_path / "ws2"))
    assert gone.returncode == 0 and not any((tmp_path / "ws2").iterdir())


def test_usage_and_sandbox_errors_exit_2(tmp_path: Path) -> None:
    job = script(tmp_path, "print(1)\n")
    unknown = aira(str(job), "--sandbox", "no-such-profile")
    assert unknown.returncode == 2
    assert "no sandbox profile named 'no-such-profile'" in unknown.stderr and "hint:" in unknown.stderr
    as_json = aira(str(job), "--sandbox", "no-such-profile", "--format", "json")
    assert as_json.returncode == 2 and "no-such-profile" in json.loads(as_json.stdout)["error"]
    assert aira(str(job), "--memory", "lots").returncode == 2
    assert aira(str(job), "--timeout", "soon").returncode == 2
    assert aira(str(tmp_path / "missing.py")).returncode == 2
    if not list_gpus():
        no_gpu = aira(str(job), "--gpus", "1")
        assert no_gpu.returncode == 2 and "GPU" in no_gpu.stderr


def test_help_has_examples() -> None:
    done = subprocess.run([sys.executable, "-m", "aira_dsl", "exec", "--help"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0
    assert "Examples:" in done.stdout and "--sandbox" in done.stdout and "Exit codes" in done.stdout
