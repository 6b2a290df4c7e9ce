"""How a job's state is worked out from its records, its run and the scheduler (pure logic)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aira_dsl.sweep import SweepDir, status
from aira_dsl.sweep.executors.slurm_query import engine_state
from aira_dsl.sweep.grid import task_labels
from aira_dsl.sweep.model import ExecutorConfig, LocalSettings, SlurmSettings
from aira_dsl.sweep.refresh import reconcile
from aira_dsl.sweep.sweepdir import MANIFEST_FORMAT


def entry(state: str, executor: str = "slurm", engine_id: str | None = "12_3") -> dict[str, Any]:
    return {"state": state, "executor": executor, "engine_id": engine_id, "launch": 1}


def rec(state: str, reason: str | None = None) -> dict[str, Any]:
    return {"state": state, "reason": reason, "launch": 1, "steps": 2}


@pytest.mark.parametrize(("raw", "live", "state"), [
    ("PENDING", True, "queued"), ("REQUEUED", True, "queued"), ("RUNNING", True, "running"),
    ("COMPLETING", True, "running"), ("CANCELLED by 0", False, "failed"), ("TIMEOUT", False, "failed"),
    ("NODE_FAIL", False, "failed"), ("PREEMPTED", False, "preempted"), ("COMPLETED", False, None),
    ("GONE", False, "failed"), ("", False, "failed"),
])
def test_slurm_state_words(raw: str, live: bool, state: str | None) -> None:
    found = engine_state(raw)
    assert (found.live, found.state) == (live, state)


def test_a_recorded_finished_run_wins() -> None:
    assert reconcile(entry("running"), rec("finished"), {}, engine_state("RUNNING"), False)["state"] == "finished"


def test_live_scheduler_states() -> None:
    assert reconcile(entry("queued"), None, {}, engine_state("RUNNING"), False) == {"state": "running", "reason": None}
    assert reconcile(entry("running"), None, {}, engine_state("RUNNING"), False) == {}
    # a preempted job that SLURM requeued comes back to life
    assert reconcile(entry("preempted"), rec("interrupted", "preempted"), {}, engine_state("PENDING"),
                     False)["state"] == "queued"


def test_ended_scheduler_jobs() -> None:
    cancelled = reconcile(entry("running"), rec("interrupted"), {}, engine_state("CANCELLED"), False)
    assert cancelled["state"] == "failed" and "cancelled" in cancelled["reason"]
    gone = reconcile(entry("running"), rec("running"), {}, engine_state("GONE"), False)
    assert gone["state"] == "failed"
    preempted = reconcile(entry("running"), rec("interrupted", "preempted"), {}, engine_state("COMPLETED"), False)
    assert preempted["state"] == "preempted"
    crashed = reconcile(entry("running"), rec("failed", "the run was killed by SIGKILL"), {},
                        engine_state("COMPLETED"), False)
    assert crashed == {"state": "failed", "reason": "the run was killed by SIGKILL"}
    by_run = reconcile(entry("running"), None, {"status": "finished"}, engine_state("COMPLETED"), False)
    assert by_run["state"] == "finished"


def test_unconfirmed_submission_goes_back_to_pending() -> None:
    assert reconcile(entry("queued", engine_id=None), None, {}, None, True) == {}
    assert reconcile(entry("queued", engine_id=None), None, {}, None, False)["state"] == "pending"


def test_local_and_ray_jobs_need_their_controller() -> None:
    local = entry("running", "local", "local:123")
    assert reconcile(local, rec("running"), {}, None, True) == {}
    assert reconcile(entry("queued", "ray", "ray:ab"), rec("running"), {}, None, True) == {"state": "running"}
    assert reconcile(local, rec("running"), {}, None, False)["state"] == "failed"
    assert reconcile(local, rec("interrupted", "cancelled"), {}, None, False)["state"] == "cancelled"
    assert reconcile(entry("queued", "local", None), None, {}, None, False)["state"] == "pending"
    # finished and pending jobs never change
    assert reconcile(entry("finished", "local"), rec("failed"), {}, None, False) == {}
    assert reconcile(entry("pending", "local"), None, {}, None, False) == {}


def test_task_labels_are_unique() -> None:
    labels = task_labels(("penguins", "/a/my-task", "/b/my-task/task.yaml", "mlebench:leaf-classification"))
    assert list(labels.values()) == ["penguins", "my-task", "my-task-2", "leaf-classification"]


def test_executor_config_round_trip() -> None:
    config = ExecutorConfig("slurm", LocalSettings(3, 1, (0, 2)), SlurmSettings(partition="p", sbatch={"x": "y"}))
    assert ExecutorConfig.from_dict(config.to_dict()) == config
    assert config.with_kind("local").kind == "local" and config.with_kind(None) is config


def test_status_without_slurm_tools_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading a SLURM sweep from a machine that cannot see the cluster must not call jobs gone."""
    sd = SweepDir(tmp_path / "sweep")
    job = {"key": "a.penguins.s0", "variant": "a", "task": "penguins", "seed": 0, "run_dir": "runs/a.penguins.s0",
           "state": "running", "launch": 1, "executor": "slurm", "engine_id": "77_0", "attempts": 1, "reason": None}
    with sd.lock():
        sd.write({"format": MANIFEST_FORMAT, "name": "s", "executor": {"kind": "slurm"}, "order": [job["key"]],
                  "jobs": {job["key"]: job}, "launches": []})
    monkeypatch.setenv("PATH", str(tmp_path))  # no squeue, sacct or scontrol here
    data = status(sd.root)
    assert data["jobs"][0]["state"] == "running"
    assert data["notes"] and "SLURM cannot be asked" in data["notes"][0]
    assert json.loads(sd.manifest.read_text())["jobs"][job["key"]]["state"] == "running"
