"""The SLURM executor against a real cluster (CI: .ci/slurm.sh starts a single-node one).

Jobs are real sbatch array tasks run by slurmd; a job is cancelled with the real scancel, and a
preemption is SLURM's real pre-time-limit signal (USR2, sent with scancel --signal). Skipped,
with the reason, when no cluster answers (SLURM_CONF unset or slurmctld not running).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
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
    have,
    popen,
    status_json,
    wait_for_running_job,
)
from tests_support import skip_unless_provided

from aira_dsl.llm.scripted import ScriptedServer

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _cluster_problem() -> str | None:
    try:
        import submitit  # noqa: F401
    except ImportError:
        return "submitit is not installed (pip install 'aira-dsl[slurm]')"
    if not have("sinfo") or not have("sbatch"):
        return "the SLURM client tools are not installed (CI: .ci/slurm.sh start)"
    if not os.environ.get("SLURM_CONF"):
        return "SLURM_CONF is not set: no test cluster (start one with `.ci/slurm.sh start` and source its env)"
    try:
        done = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer: slurmctld is not running"
    if done.returncode != 0 or not any(s in done.stdout for s in ("idle", "mixed", "allocated")):
        return f"the SLURM cluster is not usable: {(done.stderr or done.stdout).strip()[:200]}"
    return None


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    problem = _cluster_problem()
    if problem:
        skip_unless_provided("slurm", problem)
    yield


def _squeue_ids() -> set[str]:
    done = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True, timeout=20, check=False)
    return set(done.stdout.split())


def test_slurm_example_scancel_resume_report_and_gpus(cluster: None, tmp_path: Path) -> None:
    out = tmp_path / "slurm"
    with ScriptedServer(script(latency=0.1)) as server:
        env = endpoint_env(server.base_url)
        proc = popen(["sweep", str(EXAMPLES / "slurm.yaml"), "--out", str(out), "--wait"], env)
        victim = wait_for_running_job(out, proc)
        key, job_id = victim["key"], victim["engine_id"]
        kept = done_nodes(out / "runs" / key)
        subprocess.run(["scancel", job_id], check=True, timeout=30)
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 1, err

        status = status_json(out)
        jobs = {j["key"]: j for j in status["jobs"]}
        assert jobs[key]["state"] == "failed" and "cancelled" in jobs[key]["reason"]
        assert jobs[key]["engine_id"] == job_id and status["counts"]["finished"] == 7
        assert not {j["engine_id"] for j in status["jobs"]} & _squeue_ids()  # nothing left behind

        resumed = cli(["sweep", "resume", str(out), "--wait"], env=env)
        assert resumed.returncode == 0, resumed.stderr
    status = status_json(out)
    assert status["done"] and status["counts"]["finished"] == 8
    after = done_nodes(out / "runs" / key)
    for node_id, row in kept.items():
        assert after[node_id] == row
    assert len(after) == 3

    items = attempts(out)
    assert all(len(a["gpus"]) == 1 and a["cuda_visible_devices"] == str(a["gpus"][0]) for a in items)
    assert assert_disjoint_gpus(items) >= 1  # 4 fake GPUs, jobs overlapped, never on one GPU
    report = cli(["report", str(out), "--by", "spec,task", "--format", "json", "--bootstrap", "0"])
    assert report.returncode == 0, report.stderr
    assert len(json.loads(cli(["runs", str(out), "--format", "json"]).stdout)) == 8


def test_preempted_job_requeues_and_continues_its_run(cluster: None, tmp_path: Path) -> None:
    def one_long_job(data: dict[str, Any]) -> None:
        data["specs"][0]["variants"] = {"drafts-1": {"policy.num_drafts": 1}}
        data["tasks"], data["seeds"] = ["penguins"], 1
        data["run"]["budget"]["steps"] = 4

    sweep = derived_sweep("slurm.yaml", tmp_path / "one.yaml", one_long_job)
    out = tmp_path / "preempt"
    with ScriptedServer(script(latency=0.3)) as server:
        env = endpoint_env(server.base_url)
        proc = popen(["sweep", str(sweep), "--out", str(out), "--wait"], env)
        victim = wait_for_running_job(out, proc)
        job_id = victim["engine_id"]
        # What SLURM sends before a job's time limit (submitit's --signal=USR2@delay).
        subprocess.run(["scancel", "--signal=USR2", job_id], check=False, timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            first = [a for a in attempts(out) if a["attempt"] == 1]
            if first and first[0].get("outcome"):
                break
            time.sleep(0.2)
        assert first[0]["outcome"] == "interrupted" and first[0]["reason"] == "preempted"
        # SLURM holds a requeued job for ~2 minutes (BeginTime); make it eligible sooner. Not at once:
        # slurmd refuses a job restarted within the second its old credential was revoked.
        while time.monotonic() < deadline and job_id not in _squeue_ids():
            time.sleep(0.2)
        time.sleep(3)
        subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=True, timeout=30)
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    tries = attempts(out)
    assert [(a["engine_id"], a["resumed"], a["outcome"]) for a in tries] == \
        [(job_id, False, "interrupted"), (job_id, True, "finished")]
    run = out / "runs" / victim["key"]
    assert len(done_nodes(run)) == 4
    assert json.loads((run / "run.json").read_text())["status"] == "finished"


def test_unreachable_cluster_is_clear(cluster: None, tmp_path: Path) -> None:
    conf = Path(os.environ["SLURM_CONF"]).read_text(encoding="utf-8")
    # The same cluster's configuration, pointing at a port where no slurmctld listens.
    lines = [line for line in conf.splitlines() if not line.startswith(("SlurmctldPort", "MessageTimeout"))]
    lines += ["SlurmctldPort=6999", "MessageTimeout=2"]
    (tmp_path / "slurm.conf").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = endpoint_env("http://127.0.0.1:9/v1", SLURM_CONF=str(tmp_path / "slurm.conf"))
    out = tmp_path / "out"
    done = cli(["sweep", str(EXAMPLES / "slurm.yaml"), "--out", str(out)], env=env, timeout=120)
    assert done.returncode == 2
    assert "SLURM is not reachable" in done.stderr and "slurmctld" in done.stderr
    assert not out.exists()
