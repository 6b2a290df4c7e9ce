"""``aira-dsl export``: runs written to MLflow's local store and W&B's offline files, read back by
each tracker's own means (MLflow's client API; W&B's run file decoded with W&B's protobufs).

The trackers are optional extras: these tests skip without them on a developer's machine and
fail in CI, where ``.ci/run`` installs them (``import_or_skip``).
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_support import N, make_run
from tests_support import import_or_skip, run_cli

from aira_dsl.report import ReportError
from aira_dsl.report.export import export_runs, run_export
from aira_dsl.report.load import load_run

NODES = [N(0, metric=0.80, test=0.78, medal="bronze", above_median=True, calls=[("draft", 100, 20, 0.01)]),
         N(1, (0,), "improve", metric=0.90, test=0.85, medal="silver", above_median=True,
           calls=[("improve", 200, 40, 0.02)]),
         N(2, (1,), "improve", buggy=True, calls=[("improve", 150, 30, 0.015)]),
         N(3, (1,), "improve", metric=0.85, test=0.90, medal="gold", above_median=True)]
"""Node 1 is the submitted one (best validation, 0.9); best-so-far validation: 0.8, 0.9, 0.9, 0.9."""


def _run(root: Path, name: str = "run-a", **kwargs: Any) -> Path:
    run_dir = make_run(root, name, NODES, spec="aira-greedy", task="penguins", seed=3, **kwargs)
    best = run_dir / "best"  # what the runtime leaves: the submitted node's submission, code, and record
    best.mkdir()
    (best / "submission.csv").write_text("id,species\n1,Adelie\n", encoding="utf-8")
    (best / "solution.py").write_text("print('best')\n", encoding="utf-8")
    (best / "node.json").write_text(json.dumps({"node": 1, "metric": 0.9}), encoding="utf-8")
    return run_dir


def _sweep(root: Path) -> Path:
    sweep = root / "sweep-06"
    (sweep / "aira-greedy").mkdir(parents=True)
    (sweep / "sweep.json").write_text("{}", encoding="utf-8")
    for seed in range(2):
        make_run(sweep / "aira-greedy", f"penguins-{seed}", NODES[:2], spec="aira-greedy", task="penguins", seed=seed)
    return sweep


def test_what_is_exported_comes_from_the_plan_and_the_journal(tmp_path: Path) -> None:
    e = run_export(load_run(_run(tmp_path)), group="g")
    assert e.params["plan.name"] == "aira-greedy" and e.params["run.task"] == "penguins"
    assert e.params["run.seed"] == "3" and e.tags["aira.sweep"] == "g" and e.tags["aira.medal"] == "silver"
    assert [step for step, _, _ in e.steps] == [0, 1, 2, 3]
    assert [m.get("validation") for _, _, m in e.steps] == [0.8, 0.9, None, 0.85]
    assert [m["best_validation"] for _, _, m in e.steps] == [0.8, 0.9, 0.9, 0.9]
    assert [m["buggy"] for _, _, m in e.steps] == [0.0, 0.0, 1.0, 0.0]
    assert e.summary["best_test"] == 0.85 and e.summary["steps"] == 4.0
    assert sorted((p.name, folder) for p, folder in e.artifacts) == [
        ("node.json", "best"), ("plan.json", "run"), ("run.json", "run"), ("solution.py", "best"),
        ("submission.csv", "best")]


def test_a_task_without_test_answers_exports_no_test_score(tmp_path: Path) -> None:
    e = run_export(load_run(_run(tmp_path, has_test_score=False)))
    assert all("test_score" not in m for _, _, m in e.steps) and "best_test" not in e.summary
    assert e.tags["aira.medal"] == "n/a (no test answers)" and e.params["run.has_test_score"] == "false"


@pytest.mark.slow  # MLflow creates its SQLite store through ~50 alembic migrations: seconds
def test_mlflow_export_read_back_with_mlflows_client(tmp_path: Path) -> None:
    import_or_skip("mlflow", "mlflow", "MLflow is not installed (pip install 'aira-dsl[mlflow]')")
    from mlflow.tracking import MlflowClient

    run_dir = _run(tmp_path / "runs")
    dest = tmp_path / "store"
    (exported,) = export_runs([run_dir], "mlflow", dest=dest, project="penguin-study")
    assert not exported.skipped and exported.location.startswith(("sqlite:///", "file:"))
    assert str(dest.resolve()) in exported.location
    client = MlflowClient(tracking_uri=exported.location)
    run = client.get_run(exported.run_id)
    assert client.get_experiment(run.info.experiment_id).name == "penguin-study"
    assert run.info.run_name == "run-a" and run.info.status == "FINISHED"
    assert run.data.params["plan.name"] == "aira-greedy" and run.data.params["run.seed"] == "3"
    assert run.data.params["plan.fitness.direction"] == "task"
    assert run.data.tags["aira.task"] == "penguins" and run.data.tags["aira.medal"] == "silver"
    history = client.get_metric_history(exported.run_id, "validation")
    assert sorted((m.step, m.value) for m in history) == [(0, 0.8), (1, 0.9), (3, 0.85)]
    assert sorted((m.step, m.value) for m in client.get_metric_history(exported.run_id, "cost_usd")) == [
        (0, 0.01), (1, 0.02), (2, 0.015), (3, 0.0)]
    assert run.data.metrics["final/best_test"] == 0.85 and run.data.metrics["final/any_medal"] == 1.0
    assert sorted(a.path for a in client.list_artifacts(exported.run_id, "best")) == [
        "best/node.json", "best/solution.py", "best/submission.csv"]
    local = Path(client.download_artifacts(exported.run_id, "best/submission.csv", str(tmp_path / "dl")))
    assert local.read_text() == "id,species\n1,Adelie\n"
    plan = Path(client.download_artifacts(exported.run_id, "run/plan.json", str(tmp_path / "dl2")))
    assert json.loads(plan.read_text())["name"] == "aira-greedy"
    # Nothing outside dest: artifacts do not land in the current folder.
    assert not (Path.cwd() / "mlruns").exists() or (Path.cwd() / "mlruns").resolve().is_relative_to(dest.resolve())
    # Exporting again into the same experiment writes nothing new.
    (again,) = export_runs([run_dir], "mlflow", dest=dest, project="penguin-study")
    assert again.skipped and again.run_id == exported.run_id
    assert len(client.search_runs([run.info.experiment_id])) == 1


@pytest.mark.slow
def test_mlflow_cli_exports_each_run_of_a_sweep(tmp_path: Path) -> None:
    import_or_skip("mlflow", "mlflow", "MLflow is not installed (pip install 'aira-dsl[mlflow]')")
    from mlflow.tracking import MlflowClient

    sweep = _sweep(tmp_path)
    result = run_cli("export", str(sweep), "--to", "mlflow", "--dest", str(tmp_path / "store"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("exported as mlflow run") == 2 and "mlflow ui --backend-store-uri" in result.stdout
    uri = result.stdout.rsplit("--backend-store-uri ", 1)[1].strip()
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("aira-dsl")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["penguins-0", "penguins-1"]
    assert {r.data.tags["aira.sweep"] for r in runs} == {"sweep-06"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store", "sweep-06"]  # nothing written elsewhere


def _wandb_records(path: Path) -> Iterator[Any]:
    """The records of a W&B run file (``run-<id>.wandb``), decoded with W&B's own protobuf messages.

    The file is W&B's LevelDB-style log: a 7-byte header (``:W&B``, magic, version), then 32 KiB
    blocks of chunks, each with a 7-byte header (CRC32, length, type: 1 full, 2 first, 3 middle,
    4 last) around a serialized ``wandb_internal_pb2.Record``.
    """
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B", data[:8]
    pos, block, buffer = 7, 32768, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # block trailer
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0 and length == 0:  # zero padding up to the next block
            pos += left
            continue
        payload, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        buffer = payload if kind in (1, 2) else buffer + payload
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(buffer)
            yield record


def _items(items: Any) -> dict[str, Any]:
    return {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in items}


def test_wandb_export_read_back_from_the_offline_run_files(tmp_path: Path) -> None:
    import_or_skip("wandb", "wandb", "W&B is not installed (pip install 'aira-dsl[wandb]')")
    run_dir = _run(tmp_path / "runs")
    dest = tmp_path / "exports"
    home = tmp_path / "home"  # W&B's own cache and settings: kept out of the real home folder
    env = {"HOME": str(home), "WANDB_CACHE_DIR": str(home / "cache"), "WANDB_CONFIG_DIR": str(home / "config")}
    result = run_cli("export", str(run_dir), "--to", "wandb", "--dest", str(dest), "--project", "penguin-study",
                     cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "exported as wandb run" in result.stdout and "wandb sync" in result.stdout
    (folder,) = (dest / "wandb").glob("offline-run-*")
    (run_file,) = folder.glob("run-*.wandb")
    records = list(_wandb_records(run_file))
    kinds = [r.WhichOneof("record_type") for r in records]

    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert (run.project, run.display_name) == ("penguin-study", "run-a")
    assert set(run.tags) == {"aira-greedy", "penguins"}
    config = _items(run.config.update)
    assert config["plan"]["name"] == "aira-greedy" and config["run"]["seed"] == 3
    assert "ast" not in json.dumps(config["plan"]["fitness"])  # expression trees are left out

    history = [_items(r.history.item) for r in records if r.WhichOneof("record_type") == "history"]
    assert [h["_step"] for h in history] == [0, 1, 2, 3]
    assert [h.get("validation") for h in history] == [0.8, 0.9, None, 0.85]
    assert [h["best_validation"] for h in history] == [0.8, 0.9, 0.9, 0.9]
    assert [h.get("test_score") for h in history] == [0.78, 0.85, None, 0.9]

    summary: dict[str, Any] = {}
    for r in records:
        if r.WhichOneof("record_type") == "summary":
            summary.update(_items(r.summary.update))
    assert summary["best_test"] == 0.85 and summary["medal"] == "silver" and summary["steps"] == 4

    artifacts = {r.artifact.type: r.artifact for r in records if r.WhichOneof("record_type") == "artifact"}
    assert set(artifacts) == {"aira-best", "aira-run"}
    best = {e.path: Path(e.local_path) for e in artifacts["aira-best"].manifest.contents}
    assert sorted(best) == ["best/node.json", "best/solution.py", "best/submission.csv"]
    # The staged copies `wandb sync` uploads later live under --dest and hold the run's files.
    assert best["best/submission.csv"].read_text() == "id,species\n1,Adelie\n"
    assert best["best/submission.csv"].resolve().is_relative_to(dest.resolve())
    assert kinds.count("exit") == 1 and next(r.exit.exit_code for r in records if r.HasField("exit")) == 0
    assert not (home / ".netrc").exists()


@pytest.mark.parametrize("target", ["mlflow", "wandb"])
def test_a_missing_extra_is_one_message_with_the_install_command(tmp_path: Path, target: str) -> None:
    run_dir = _run(tmp_path / "runs")
    # A tracker package that fails to import, first on the path: what a user without the extra sees.
    shadow = tmp_path / "shadow" / target
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(f"raise ImportError('No module named {target}')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(shadow.parent), os.environ.get("PYTHONPATH", "")])}
    result = run_cli("export", str(run_dir), "--to", target, "--dest", str(tmp_path / "out"), env=env)
    assert result.returncode == 2 and f"pip install 'aira-dsl[{target}]'" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 3
    assert not (tmp_path / "out").exists()


def test_bad_input_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_cli("export", str(tmp_path / "empty"), "--to", "mlflow")
    assert result.returncode == 2 and "no runs in this folder" in result.stderr and "Traceback" not in result.stderr
    assert run_cli("export", str(tmp_path), "--to", "neptune").returncode == 2  # click's choice check
    with pytest.raises(ReportError, match="cannot export to 'csv'"):
        export_runs([tmp_path], "csv")
    flag = run_cli("export", str(_run(tmp_path)), "--to", "wandb", "--tracking-uri", "http://x")
    assert flag.returncode == 2 and "--tracking-uri is for --to mlflow" in flag.stderr


@pytest.mark.slow  # two MLflow processes
def test_a_store_the_tracker_refuses_is_a_usage_error(tmp_path: Path) -> None:
    import_or_skip("mlflow", "mlflow", "MLflow is not installed (pip install 'aira-dsl[mlflow]')")
    run_dir = _run(tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    for uri in ("bogus-scheme://x", f"sqlite:///{tmp_path / 'a-file' / 'x.db'}"):
        result = run_cli("export", str(run_dir), "--to", "mlflow", "--tracking-uri", uri, cwd=tmp_path)
        assert result.returncode == 2, (uri, result.stderr)
        assert "error: mlflow could not record the runs" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "run-a"]


@pytest.mark.slow
def test_a_database_tracking_uri_keeps_artifacts_in_dest(tmp_path: Path) -> None:
    import_or_skip("mlflow", "mlflow", "MLflow is not installed (pip install 'aira-dsl[mlflow]')")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'elsewhere' / 'team.db'}"
    (tmp_path / "elsewhere").mkdir()
    result = run_cli("export", str(_run(tmp_path / "runs")), "--to", "mlflow", "--tracking-uri", uri,
                     "--dest", str(tmp_path / "files"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "files", "runs"]  # no ./mlruns
    (run,) = MlflowClient(tracking_uri=uri).search_runs(["1"])
    assert run.info.artifact_uri.startswith((tmp_path / "files" / "mlruns").as_uri())
