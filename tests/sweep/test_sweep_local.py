"""The local executor end to end: examples/sweeps/quick.yaml as is, a killed job, resume, report, GPUs."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
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


@pytest.mark.slow
def test_quick_example_killed_job_resume_and_report(tmp_path: Path) -> None:
    out = tmp_path / "quick"
    with ScriptedServer(script(latency=0.1)) as server:
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


@pytest.mark.slow
def test_ctrl_c_then_resume_and_concurrent_jobs_never_share_a_gpu(tmp_path: Path) -> None:
    def small(data: dict[str, Any]) -> None:  # 4 jobs, 2 at a time, 1 of 3 (fake) GPUs each
        data["specs"][0]["variants"] = {"drafts-1": {"policy.num_drafts": 1}}
        data["tasks"], data["seeds"] = ["penguins"], 4
        data["run"]["budget"]["steps"] = 2
        data["executor"]["local"] = {"parallel": 2, "gpus_per_job": 1, "gpus": [0, 1, 2]}

    sweep = derived_sweep("quick.yaml", tmp_path / "small.yaml", small)
    out = tmp_path / "small"
    with ScriptedServer(script(latency=0.15)) as server:
        env = endpoint_env(server.base_url)
        proc = popen(["sweep", str(sweep), "--out", str(out)], env)
        wait_for_running_job(out, proc)
        os.kill(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal that runs the sweep
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 1 and "stopping the sweep" in err
        counts = status_json(out)["counts"]
        # two ran at once (stopped cleanly: cancelled, unless one had just finished); two never started
        assert counts["pending"] == 2 and counts["cancelled"] >= 1, counts
        assert counts["cancelled"] + counts["finished"] == 2, counts
        resumed = cli(["sweep", "resume", str(out)], env=env)
        assert resumed.returncode == 0, resumed.stderr
    assert status_json(out)["counts"]["finished"] == 4
    items = attempts(out)
    assert len(items) >= 4
    for item in items:
        assert len(item["gpus"]) == 1 and item["cuda_visible_devices"] == str(item["gpus"][0])
    assert assert_disjoint_gpus(items) >= 2  # jobs did overlap, each time on different GPUs
