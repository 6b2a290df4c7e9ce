"""``aira-dsl export``: runs into the experiment trackers labs already use (MLflow, W&B).

A run leaves aira-dsl as one tracker run holding: the plan as parameters (flattened, template
sources reduced to their hashes: the full plan travels as an artifact), the run's identity as
tags (spec, task, seed, plan hash), one metric step per search node (step = node id: validation
score, fitness, hidden test score, buggy, execution time, LLM cost and tokens, best validation so
far), the final figures as summary metrics, and the best submission and its code (``best/``),
``plan.json`` and ``run.json`` as artifacts.

Neither tracker needs a server or the network: MLflow writes to a local store in ``dest``
(SQLite when the installed MLflow defaults to it, as MLflow 3 does, else its file store;
``tracking_uri`` points elsewhere on purpose), W&B runs in offline mode and writes
``dest/wandb/offline-run-*`` for a later ``wandb sync``. Both packages are optional extras
(``pip install 'aira-dsl[mlflow]'`` / ``'aira-dsl[wandb]'``); without one the export stops with
a :class:`ReportError` that says which to install.

Exporting the same run twice into one MLflow experiment is a no-op (runs carry an
``aira.key`` tag that is looked up first); W&B offline runs cannot be looked up before a sync,
so each W&B export is a new offline run.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_dsl.report.discover import RUN_FILE, find_runs
from aira_dsl.report.errors import ReportError
from aira_dsl.report.load import PLAN_FILE, load_run
from aira_dsl.report.model import RunData
from aira_dsl.report.selection import select_validation
from aira_dsl.report.summary import NO_TEST_ANSWERS, summarize_run

__all__ = ["TARGETS", "ExportedRun", "RunExport", "export_runs", "mlflow_store", "run_export"]

TARGETS = ("mlflow", "wandb")

_MAX_PARAM = 500
"""Characters kept of a parameter value (MLflow allows 6,000 today, 500 in older releases)."""

_SWEEP_FILE = "sweep.json"


@dataclass(frozen=True)
class ExportedRun:
    """Where one run went: the tracker's run id and where to find it."""

    run_dir: Path
    target: str
    run_id: str
    location: str
    """The MLflow tracking URI, or the W&B offline run folder."""
    skipped: bool = False
    """Already in that MLflow experiment (same ``aira.key``): nothing was written."""


@dataclass
class RunExport:
    """What a tracker receives for one run, independent of the tracker."""

    name: str
    key: str
    """Identity of the run (run id, plan hash, start time), for the no-duplicates lookup."""
    params: dict[str, str]
    config: dict[str, Any]
    tags: dict[str, str]
    steps: list[tuple[int, float, dict[str, float]]]
    """(node id, UNIX time the node finished, metrics) per node, in id order."""
    summary: dict[str, float]
    status: str
    start: float | None
    end: float | None
    artifacts: list[tuple[Path, str]] = field(default_factory=list)
    """(file, folder inside the tracker run): ``best/`` files, ``run/plan.json``, ``run/run.json``."""
    group: str | None = None


# -- what is exported ---------------------------------------------------------------------------

def _plan_for_params(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan without what would drown the parameters: template sources and expression ASTs."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("ast", "span")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    out = strip({k: v for k, v in plan.items() if k != "templates"})
    templates = plan.get("templates")
    if isinstance(templates, dict):
        out["templates"] = {name: t.get("sha256") for name, t in templates.items() if isinstance(t, dict)}
    return dict(out)


def _flatten(value: Any, prefix: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _flatten(v, f"{prefix}.{k}")
    elif isinstance(value, (list, tuple)) and value and any(isinstance(v, (dict, list)) for v in value):
        for i, v in enumerate(value):
            yield from _flatten(v, f"{prefix}.{i}")
    else:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        yield prefix, text if len(text) <= _MAX_PARAM else text[:_MAX_PARAM - 1] + "…"


def _param_key(key: str) -> str:
    """A name MLflow accepts (letters, digits, ``_ - . / space``; no path tricks), at most 250 chars."""
    cleaned = re.sub(r"[^\w./\- ]", "_", key)
    cleaned = re.sub(r"/{2,}", "/", cleaned).strip("/")
    cleaned = "/".join("_" if part in (".", "..") else part for part in cleaned.split("/"))
    return cleaned[:250]


def _node_metrics(run: RunData, has_test: bool) -> list[tuple[int, float, dict[str, float]]]:
    steps: list[tuple[int, float, dict[str, float]]] = []
    best: tuple[float, float] | None = None  # (fitness, metric) of the best valid node so far
    for node in sorted(run.nodes, key=lambda n: n.id):
        r = node.record
        if r.status == "pending":
            continue
        metrics: dict[str, float] = {"buggy": float(node.kind != "valid"), "cost_usd": node.usage.cost_usd,
                                     "tokens": float(node.usage.tokens), "llm_calls": float(node.usage.calls)}
        if r.metric is not None:
            metrics["validation"] = r.metric
        if r.fitness is not None:
            metrics["fitness"] = r.fitness
        if r.exec_time is not None:
            metrics["exec_time"] = r.exec_time
        if node.grade is not None:
            metrics["valid_submission"] = float(node.grade.valid_submission)
            if node.grade.hidden_score is not None:
                metrics["hidden_validation"] = node.grade.hidden_score
            if has_test and node.grade.test_score is not None:
                metrics["test_score"] = node.grade.test_score
        if node.valid and r.fitness is not None and r.metric is not None and (best is None or r.fitness > best[0]):
            best = (r.fitness, r.metric)
        if best is not None:
            metrics["best_validation"] = best[1]
        steps.append((r.id, r.finished_at or r.created_at, metrics))
    return steps


def _best_files(run: RunData) -> list[tuple[Path, str]]:
    """The best submission and its code: ``best/`` as the runtime wrote it, else the chosen node's folder."""
    best = run.path / "best"
    if not best.is_dir():
        chosen = select_validation(run.nodes)
        best = run.path / "nodes" / f"{chosen.id:05d}" if chosen is not None else best
    files = sorted(p for p in best.iterdir() if p.is_file() and p.name != "output.txt") if best.is_dir() else []
    return [(p, "best") for p in files]


def run_export(run: RunData, *, group: str | None = None) -> RunExport:
    """Everything a tracker gets for ``run`` (see the module documentation)."""
    s = summarize_run(run)
    facts = {"spec": s.spec, "task": s.task, "task_ref": str(run.task.get("ref") or s.task),
             "seed": "-" if s.seed is None else str(s.seed), "plan_hash": s.plan_hash or "-",
             "direction": s.direction, "metric": s.metric or "-", "status": s.status, "run_id": s.run_id,
             "has_test_score": str(s.has_test_score).lower()}
    plan = _plan_for_params(run.plan or {})
    params = {_param_key(k): v for k, v in _flatten(plan, "plan")} if plan else {}
    params.update({_param_key(f"run.{k}"): v for k, v in facts.items()})
    key = hashlib.sha256(f"{s.run_id}\0{s.plan_hash}\0{s.created_at}".encode()).hexdigest()[:24]
    summary: dict[str, float] = {"steps": float(s.steps), "valid_nodes": float(s.valid_nodes),
                                 "cost_usd": s.cost_usd, "tokens": float(s.tokens)}
    if s.best_validation is not None:
        summary["best_validation"] = s.best_validation
    if s.has_test_score:
        if s.best_test is not None:
            summary["best_test"] = s.best_test
        if s.vv is not None:
            summary.update({"valid_submission": float(s.vv.valid_submission), "any_medal": float(s.vv.any_medal),
                            "above_median": float(s.vv.above_median), "gold": float(s.vv.gold)})
    tags = {f"aira.{k}": v for k, v in facts.items()}
    tags.update({"aira.key": key, "aira.run_dir": str(run.path.resolve()),
                 "aira.medal": (s.medal or "none") if s.has_test_score else NO_TEST_ANSWERS})
    if group:
        tags["aira.sweep"] = group
    artifacts = _best_files(run)
    artifacts += [(run.path / name, "run") for name in (PLAN_FILE, RUN_FILE) if (run.path / name).is_file()]
    end = run.info.get("finished_at")
    return RunExport(
        name=s.run_id, key=key, params=params,
        config={"plan": plan, "run": {**facts, "seed": s.seed}}, tags=tags, steps=_node_metrics(run, s.has_test_score),
        summary=summary, status=s.status, start=s.created_at,
        end=float(end) if isinstance(end, (int, float)) and not isinstance(end, bool) else None,
        artifacts=artifacts, group=group)


# -- the trackers -------------------------------------------------------------------------------

def _require(module: str, target: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ReportError(f"exporting to {target} needs the '{module}' package, which is not installed ({exc})",
                          f"pip install 'aira-dsl[{target}]'") from None


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the duration (the trackers read their folders from it)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Keep the trackers' INFO chatter (database creation, migrations) off the user's terminal."""
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def mlflow_store(dest: Path) -> tuple[str, str | None]:
    """(tracking URI, artifact location) of a local MLflow store in ``dest``, as the installed MLflow defaults.

    MLflow 3 defaults to SQLite (``mlflow.db``), older releases to the file store (``mlruns/``);
    either way the artifacts go to ``dest/mlruns`` so nothing lands in the current folder.
    """
    _require("mlflow", "mlflow")
    dest = dest.resolve()
    try:
        from mlflow.store.tracking import DEFAULT_TRACKING_URI as default
    except ImportError:  # MLflow 2: no such constant, the file store is the default
        default = "file:./mlruns"
    if str(default).startswith("sqlite"):
        return f"sqlite:///{dest / 'mlflow.db'}", (dest / "mlruns").as_uri()
    return (dest / "mlruns").as_uri(), None


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _mlflow_status(status: str) -> str:
    return {"finished": "FINISHED", "failed": "FAILED", "error": "FAILED"}.get(status, "KILLED")


def _to_mlflow(exports: Sequence[tuple[Path, RunExport]], *, dest: Path, project: str,
               tracking_uri: str | None) -> list[ExportedRun]:
    _require("mlflow", "mlflow")
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    if tracking_uri is None:
        uri, artifact_location = mlflow_store(dest)
        dest.mkdir(parents=True, exist_ok=True)
    else:
        # A database URI has no artifact root of its own: MLflow would use ./mlruns in the current
        # folder, so new experiments keep their artifacts in dest instead. Servers and file stores
        # decide for themselves.
        database = tracking_uri.split(":", 1)[0].split("+", 1)[0] in ("sqlite", "postgresql", "mysql", "mssql")
        uri, artifact_location = tracking_uri, (dest.resolve() / "mlruns").as_uri() if database else None
    out: list[ExportedRun] = []
    with _quiet("mlflow", "alembic"):
        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(project)
        experiment_id = (experiment.experiment_id if experiment is not None
                         else client.create_experiment(project, artifact_location=artifact_location))
        for run_dir, e in exports:
            found = client.search_runs([experiment_id], filter_string=f"tags.`aira.key` = '{e.key}'", max_results=1)
            if found:
                out.append(ExportedRun(run_dir, "mlflow", found[0].info.run_id, uri, skipped=True))
                continue
            start = int(1000 * e.start) if e.start is not None else None
            run = client.create_run(experiment_id, run_name=e.name, start_time=start, tags=e.tags)
            run_id = run.info.run_id
            params = [Param(k, v) for k, v in e.params.items()]
            metrics = [Metric(name, value, int(1000 * time), step) for step, time, values in e.steps
                       for name, value in values.items()]
            last = int(1000 * (e.end or (e.steps[-1][1] if e.steps else e.start or 0.0)))
            metrics += [Metric(f"final/{k}", v, last, 0) for k, v in e.summary.items()]
            for batch in _chunks(params, 100):
                client.log_batch(run_id, params=list(batch))
            for batch in _chunks(metrics, 1000):
                client.log_batch(run_id, metrics=list(batch))
            client.log_batch(run_id, tags=[RunTag("mlflow.note.content", f"aira-dsl run {e.name}: {e.tags['aira.spec']} "
                                                  f"on {e.tags['aira.task']} (seed {e.tags['aira.seed']})")])
            for path, folder in e.artifacts:
                client.log_artifact(run_id, str(path), folder)
            client.set_terminated(run_id, _mlflow_status(e.status),
                                  end_time=int(1000 * e.end) if e.end is not None else None)
            out.append(ExportedRun(run_dir, "mlflow", run_id, uri))
    return out


def _artifact_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)[:120] or "run"


def _to_wandb(exports: Sequence[tuple[Path, RunExport]], *, dest: Path, project: str) -> list[ExportedRun]:
    wandb = _require("wandb", "wandb")
    dest = dest.resolve()
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {"silent": True, "console": "off", "disable_code": True, "disable_git": True, "save_code": False,
              "x_disable_stats": True, "x_disable_meta": True, "x_save_requirements": False,
              "disable_job_creation": True}
    known = getattr(wandb.Settings, "model_fields", wanted)  # older releases: try them all
    settings = wandb.Settings(**{k: v for k, v in wanted.items() if k in known})
    out: list[ExportedRun] = []
    # WANDB_DATA_DIR holds the staged artifact files that `wandb sync` uploads later: keep it in dest.
    with _environment(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=str(dest),
                      WANDB_DATA_DIR=str(dest / "wandb-data")):
        for run_dir, e in exports:
            run = wandb.init(mode="offline", dir=str(dest), project=project, name=e.name, group=e.group,
                             job_type="aira-run", config=e.config,
                             tags=[t for t in (e.tags["aira.spec"], e.tags["aira.task"]) if t][:2],
                             notes=f"aira-dsl run {e.name}; aira.key {e.key}", settings=settings)
            try:
                for step, time, values in e.steps:
                    run.log({**values, "finished_at": time}, step=step)
                run.summary.update({**e.summary, "medal": e.tags["aira.medal"], "aira.key": e.key})
                _log_files(wandb, run, f"{e.name}-best", "aira-best", "the best submission and its code",
                           [(p, f) for p, f in e.artifacts if f == "best"])
                _log_files(wandb, run, f"{e.name}-run", "aira-run", "plan.json and run.json",
                           [(p, f) for p, f in e.artifacts if f != "best"])
                folder = str(getattr(run.settings, "sync_dir", None) or Path(run.dir).parent)
                run_id = str(run.id)
            finally:
                run.finish(exit_code=0 if e.status == "finished" else 1)
            out.append(ExportedRun(run_dir, "wandb", run_id, folder))
    return out


def _find(paths: Iterable[Path]) -> list[tuple[Path, str | None]]:
    """Every run at or below ``paths`` (once each), with its sweep's name when a path is a sweep folder."""
    seen: set[Path] = set()
    out: list[tuple[Path, str | None]] = []
    for path in paths:
        group = Path(path).resolve().name if (Path(path) / _SWEEP_FILE).is_file() else None
        for run_dir in find_runs([Path(path)]):
            if run_dir.resolve() not in seen:
                seen.add(run_dir.resolve())
                out.append((run_dir, group))
    return out


def export_runs(paths: Iterable[Path], to: str, *, dest: Path = Path("."), project: str = "aira-dsl",
                tracking_uri: str | None = None) -> list[ExportedRun]:
    """Export every run at or below ``paths`` to ``to`` (``mlflow`` or ``wandb``), offline, into ``dest``.

    ``project`` names the MLflow experiment or the W&B project; ``tracking_uri`` (MLflow only)
    replaces the local store in ``dest``. Raises :class:`ReportError` for an unknown target, a
    path that holds no run, or a missing extra (checked in that order, before anything is
    written).
    """
    if to not in TARGETS:
        raise ReportError(f"cannot export to '{to}'", f"--to takes one of: {', '.join(TARGETS)}")
    found = _find(paths)
    _require(to, to)  # before reading the runs: fail fast with the install hint
    exports = [(run_dir, run_export(load_run(run_dir), group=group)) for run_dir, group in found]
    tracker_error = _tracker_error(to)
    try:
        if to == "mlflow":
            return _to_mlflow(exports, dest=Path(dest), project=project, tracking_uri=tracking_uri)
        return _to_wandb(exports, dest=Path(dest), project=project)
    except (tracker_error, OSError) as exc:  # the tracker refused (bad URI, unwritable store): user-fixable
        raise ReportError(f"{to} could not record the runs: {exc}",
                          "check --dest (writable?) and, for MLflow, --tracking-uri") from None


def _tracker_error(to: str) -> type[Exception]:
    """The tracker's own exception class (MlflowException, wandb.Error), for turning into a ReportError."""
    module, name = ("mlflow.exceptions", "MlflowException") if to == "mlflow" else ("wandb.errors", "Error")
    found = getattr(importlib.import_module(module), name, None)
    return found if isinstance(found, type) and issubclass(found, Exception) else RuntimeError


def _log_files(wandb: Any, run: Any, name: str, kind: str, description: str, files: list[tuple[Path, str]]) -> None:
    """Log ``files`` (path, folder in the artifact) as one W&B artifact; nothing when empty."""
    if not files:
        return
    artifact = wandb.Artifact(_artifact_name(name), type=kind, description=description)
    for path, folder in files:
        artifact.add_file(str(path), name=f"{folder}/{path.name}")
    run.log_artifact(artifact)
