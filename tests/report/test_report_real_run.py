"""Reports on a run the real runtime wrote (``aira-dsl demo``: scripted server, local sandbox).

The figures the reports recompute from the journal must agree with what the runtime wrote to
``run.json`` (so must the DataFrames and an MLflow export); the viewer must load that run in
Chromium without errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests_support import import_or_skip, run_cli, skip_unless_provided

from aira_dsl.report import load_run, summarize_run, write_viewer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("demo") / "run"
    result = run_cli("demo", "--out", str(run_dir), "--steps", "6", timeout=240)
    if result.returncode != 0:
        pytest.fail(f"aira-dsl demo failed ({result.returncode}): {result.stderr[-3000:]}")
    return run_dir


def test_summary_agrees_with_run_json(demo_run: Path) -> None:
    info = json.loads((demo_run / "run.json").read_text())
    run = load_run(demo_run)
    summary = summarize_run(run)
    assert run.warnings == []
    assert (summary.status, summary.steps, summary.best_node) == (info["status"], info["steps"], info["best_node"])
    assert summary.best_validation == info["best_validation"] and summary.best_test == info["best_test"]
    assert summary.medal == info["medal"] and summary.above_median == info["above_median"]
    # run.json rounds the cost to 6 decimals
    assert summary.cost_usd == pytest.approx(info["cost_usd"], abs=1e-5) and summary.tokens == info["tokens"]
    assert summary.vv is not None and summary.vv.valid_submission
    graded = [n for n in run.nodes if n.valid]
    assert graded and all(n.grade is not None for n in graded)


def test_commands_on_the_real_run(demo_run: Path) -> None:
    listed = json.loads(run_cli("runs", str(demo_run.parent), "--format", "json").stdout)
    assert [r["run_id"] for r in listed] == [demo_run.name]
    report = run_cli("report", str(demo_run), "--format", "json", "--bootstrap", "50")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["groups"][0]["runs"] == 1
    view = run_cli("view", str(demo_run))
    assert view.returncode == 0 and (demo_run / "report.html").is_file()


def test_real_run_viewer_in_chromium(demo_run: Path, tmp_path: Path) -> None:
    from test_report_browser import CHROMIUM, selftest

    if CHROMIUM is None:
        skip_unless_provided("chromium", "headless Chromium is not installed (Debian: apt-get install chromium)")
    result = selftest(tmp_path, write_viewer(demo_run, tmp_path / "page.html"))
    info = json.loads((demo_run / "run.json").read_text())
    assert result["errors"] == [] and result["uncaught"] == [], result
    assert result["clicked"] == info["best_node"] and result["code_shown"] is True


def test_real_run_frames_agree_with_run_json(demo_run: Path) -> None:
    info = json.loads((demo_run / "run.json").read_text())
    frames = load_run(demo_run).to_pandas()
    submitted = frames.nodes.loc[frames.nodes["submitted"], "node_id"].tolist()
    assert submitted == [info["best_node"]] and int((frames.nodes["status"] == "done").sum()) == info["steps"]
    assert frames.calls["cost_usd"].sum() == pytest.approx(info["cost_usd"], abs=1e-5)
    assert (frames.calls["prompt_tokens"] + frames.calls["completion_tokens"]).sum() == info["tokens"]
    assert all(isinstance(m, list) and m and "content" in m[0] for m in frames.calls["messages"])
    assert set(frames.executions["node_id"]) <= set(frames.nodes["node_id"])


def test_real_run_exported_to_mlflow_reads_back(demo_run: Path, tmp_path: Path) -> None:
    import_or_skip("mlflow", "mlflow", "MLflow is not installed (pip install 'aira-dsl[mlflow]')")
    from mlflow.tracking import MlflowClient

    from aira_dsl.report.export import export_runs

    info = json.loads((demo_run / "run.json").read_text())
    (exported,) = export_runs([demo_run], "mlflow", dest=tmp_path)
    client = MlflowClient(tracking_uri=exported.location)
    run = client.get_run(exported.run_id)
    assert run.data.params["plan.name"] == info["spec"] and run.data.params["run.plan_hash"] == info["plan_hash"]
    assert run.data.metrics["final/best_validation"] == info["best_validation"]
    assert len(client.get_metric_history(exported.run_id, "cost_usd")) == info["steps"]
    assert {a.path for a in client.list_artifacts(exported.run_id, "best")} >= {"best/submission.csv",
                                                                               "best/solution.py"}
