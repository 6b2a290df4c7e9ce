"""The Ray executor against a real local Ray head (started by the sweep, with 4 fake GPUs).

The sweep CLI, started by the test, is the Ray driver: it starts a private head declaring
``num_cpus``/``num_gpus``, runs one task per job, and stops the head at the end. A job's Ray
worker is killed with SIGKILL mid-run; the sweep records it as failed and ``sweep resume``
finishes it from its journal. Skipped with the reason when ray is not installed.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from runtime_support import script
from sweep_support import (
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
from tests_support import import_or_skip

from aira_dsl.llm.scripted import ScriptedServer

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_ray_example_killed_worker_resume_report_and_gpus(tmp_path: Path) -> None:
    import_or_skip("ray", "ray", "ray is not installed (pip install 'aira-dsl[ray]')")

    def fake_gpus(data: dict[str, Any]) -> None:  # the ray.yaml grid, one of 4 fake GPUs per job
        data["executor"]["ray"].update(gpus_per_job=1, num_gpus=4, num_cpus=4)

    sweep = derived_sweep("ray.yaml", tmp_path / "ray.yaml", fake_gpus)
    out = tmp_path / "ray"
    with ScriptedServer(script(latency=0.1)) as server:
        env = {k: v for k, v in endpoint_env(server.base_url).items() if k != "RAY_ADDRESS"}
        proc = popen(["sweep", str(sweep), "--out", str(out)], env)
        victim = wait_for_running_job(out, proc, timeout=180)
        key = victim["key"]
        kept = done_nodes(out / "runs" / key)
        os.kill(victim["pid"], signal.SIGKILL)  # the Ray worker running the job dies
        killed_at = time.time()  # its attempt can record no end: it ended here
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, err

        status = status_json(out)
        jobs = {j["key"]: j for j in status["jobs"]}
        assert jobs[key]["state"] == "failed", jobs[key]
        assert status["counts"]["finished"] == 7

        resumed = cli(["sweep", "resume", str(out)], env=env, timeout=300)
        assert resumed.returncode == 0, resumed.stderr
    status = status_json(out)
    assert status["done"] and status["counts"]["finished"] == 8
    after = done_nodes(out / "runs" / key)
    for node_id, row in kept.items():
        assert after[node_id] == row
    assert len(after) == 3

    items = attempts(out)
    for item in items:
        if item["key"] == key and item["attempt"] == 1:
            assert item.get("ended_at") is None
            item["ended_at"] = killed_at
    assert all(len(a["gpus"]) == 1 and a["cuda_visible_devices"] == str(a["gpus"][0]) for a in items)
    assert assert_disjoint_gpus(items) >= 1
    assert len(json.loads(cli(["runs", str(out), "--format", "json"]).stdout)) == 8
    report = cli(["report", str(out), "--by", "spec,task", "--format", "json", "--bootstrap", "0"])
    assert report.returncode == 0, report.stderr
