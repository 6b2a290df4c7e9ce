"""The local executor end to end: examples/sweeps/quick.yaml as is, a killed job, resume, report, GPUs."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from runtime_support import script
from sweep_support import (
    EXAMPLES,
    assert_disjoint_gpus,
    attempts,
    cli,
    derived_sweep,
    done_nodes,
    endpoint_env,
    popen,
    status_json,
    wait_for_running_job,
)

from aira_dsl.llm.scripted import ScriptedServer


def test_quick_example_killed_job_resume_and_report(tmp_path: Path) -> None:
    out = tmp_path / "quick"
    with ScriptedServer(script(latency=0.25)) as server:
        env = endpoint_env(server.base_url)
        proc = popen(["sweep", str(EXAMPLES / "quick.yaml"), "--out", str(out)], env)
        victim = wait_for_running_job(out, proc)
        key = victim["key"]
        os.kill(victim["run_pid"], signal.SIGKILL)  # the job's `aira-dsl run` dies mid-run
        kept = done_nodes(out / "runs" / key)
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 1, err  # one job did not finish

        status = status_json(out)
        states = {j["key"]: j for j in status["jobs"]}
        assert states[key]["state"] == "failed" and "SIGKILL" in states[key]["reason"]
        assert status["counts"]["finished"] == 7
        assert kept and done_nodes(out / "runs" / key).items() >= kept.items()

        resumed = cli(["sweep", "resume", str(out)], env=env)
        assert resumed.returncode == 0, resumed.stderr
        assert "relaunching 1 job(s)" in resumed.stderr
    status = status_json(out)
    assert status["done"] and status["counts"]["finished"] == 8
    after = done_nodes(out / "runs" / key)
    assert len(after) == 3
    for node_id, row in kept.items():  # the resumed run kept every node finished before the kill
        assert after[node_id] == row
    tries = [a for a in attempts(out) if a["key"] == key]
    assert [a["resumed"] for a in tries] == [False, True] and tries[-1]["outcome"] == "finished"

    report = cli(["report", str(out), "--by", "spec,task", "--format", "json", "--bootstrap", "0"])
    assert report.returncode == 0, report.stderr
    data: dict[str, Any] = json.loads(report.stdout)
    text = json.dumps(data)
    assert "aira-greedy-drafts-1" in text and "aira-greedy-drafts-2" in text
    runs = cli(["runs", str(out), "--format", "json"])
    assert len(json.loads(runs.stdout)) == 8


def test_concurrent_local_jobs_never_share_a_gpu(tmp_path: Path) -> None:
    def fake_gpus(data: dict[str, Any]) -> None:
        data["specs"][0]["variants"] = {"drafts-1": {"policy.num_drafts": 1}}
        data["tasks"] = ["penguins"]
        data["seeds"] = 5
        data["run"]["budget"]["steps"] = 2
        data["executor"]["local"] = {"parallel": 3, "gpus_per_job": 1, "gpus": [0, 1, 2]}

    sweep = derived_sweep("quick.yaml", tmp_path / "gpus.yaml", fake_gpus)
    out = tmp_path / "gpus"
    with ScriptedServer(script(latency=0.2)) as server:
        started = time.monotonic()
        done = cli(["sweep", str(sweep), "--out", str(out)], env=endpoint_env(server.base_url))
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 120
    items = attempts(out)
    assert len(items) == 5
    for item in items:
        assert len(item["gpus"]) == 1 and item["cuda_visible_devices"] == str(item["gpus"][0])
    assert assert_disjoint_gpus(items) >= 1  # jobs did overlap, on different GPUs
