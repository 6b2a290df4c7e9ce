"""``aira-dsl runs``, ``report`` and ``export``: thin wrappers over :mod:`aira_dsl.report`.

Exit codes: 0 ok; 1 nothing to show (``runs``: no run found; ``report``: no run with a finished
node); 2 usage or environment error (not a run directory, unreadable journal, unknown ``--by``
key or baseline, matplotlib missing for ``--plots``, mlflow or wandb missing for ``export``),
printed as a message and a hint, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from aira_dsl.diagnostics import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from aira_dsl.report.present import FORMATS

F = TypeVar("F", bound=Callable[..., Any])
_FORMATS = list(FORMATS)


def _guarded(function: F) -> F:
    """Turn ReportError into its message, hint and exit code 2 (bugs go to the top-level handler)."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from aira_dsl.report import ReportError

        try:
            return function(*args, **kwargs)
        except ReportError as exc:
            click.echo(exc.render(), err=True)
            sys.exit(EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


@click.command()
@click.argument("directory", type=click.Path(path_type=Path), default=".", required=False)
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="text", show_default=True,
              help="text table for people; json, csv or markdown for programs and notes.")
@_guarded
def runs(directory: Path, fmt: str) -> None:
    """List the runs at or below DIRECTORY (default: the current folder).

    One line per run: spec, plan hash, task, seed, status, steps, best validation score, its
    hidden test score and medal, and LLM cost. Figures come from each run's journal. A run on a
    task without test answers (mlebench-public) shows "n/a (no test answers)" for its test score.

    \b
    Exit codes: 0 listed, 1 no run found, 2 DIRECTORY missing.

    \b
    Examples:
      aira-dsl runs runs/
      aira-dsl runs sweeps/quick --format json
    """
    from aira_dsl.report.aggregate import list_runs
    from aira_dsl.report.present import render_runs

    summaries, skipped = list_runs(directory)
    summaries.sort(key=lambda r: (r.created_at or 0.0, r.path))
    for s in skipped:
        click.echo(f"warning: skipped {s.path}: {s.reason}", err=True)
    if not summaries and fmt != "json":
        click.echo(f"no runs under {directory}", err=True)
    else:
        sys.stdout.write(render_runs(summaries, fmt, root=directory))
    sys.exit(EXIT_OK if summaries else EXIT_FINDINGS)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--by", default=None, metavar="KEYS",
              help="Group runs by a comma-separated list of: spec, task, plan_hash "
                   "[default: spec; spec,task when a path is a sweep directory].")
@click.option("--baseline", default=None, metavar="SPEC",
              help="Add paired differences (each other agent minus SPEC, runs paired by task and seed) "
                   "with bootstrap CIs.")
@click.option("--wide", is_flag=True,
              help="Every outcome with its interval and the selection-gap table (default: one compact table).")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="text", show_default=True,
              help="text or markdown tables, csv (one row per group, fractions), or json (everything).")
@click.option("--plots", "plots_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              metavar="DIR", help="Also write PNG plots into DIR (needs: pip install 'aira-dsl[plots]').")
@click.option("--bootstrap", "n_boot", type=click.IntRange(0, 1_000_000), default=1000, show_default=True,
              help="Bootstrap replicates for the 95% intervals (0: point estimates only).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--top-k", "top_k", type=click.IntRange(1), default=3, show_default=True,
              help="Short list for the top-k selection: best test score among the k best by validation.")
@click.option("--min-runs", "min_runs", type=click.IntRange(1), default=None, metavar="N",
              help="Fewest runs (or pairs) per task for an interval; below it: n/a and a warning  [default: 5].")
@_guarded
def report(paths: tuple[Path, ...], by: str | None, baseline: str | None, wide: bool, fmt: str,
           plots_dir: Path | None, n_boot: int, seed: int, top_k: int, min_runs: int | None) -> None:
    """Aggregate runs over seeds and tasks: medal rates with CIs, scores, cost, paired differences.

    PATHS are run folders or folders holding runs at any depth (a sweep). One line per group:
    the share of valid submissions, the any-medal rate with its stratified-bootstrap 95%
    interval (runs resampled within each task), the above-median rate, the selection gap (V/T
    minus V/V medal rate), the mean hidden test score of the submitted node and the mean LLM
    cost per run. --wide shows every outcome with its interval and the selection-gap table.
    With --baseline SPEC, every other agent's runs are paired with SPEC's by (task, seed) and
    the mean paired differences get intervals too. A task with fewer than --min-runs runs (or
    pairs) gets "n/a" instead of an interval, with a warning.

    \b
    Exit codes: 0 ok, 1 nothing to report (no run with a finished node),
    2 a path is not a run nor holds one, bad option or baseline, matplotlib missing for --plots.

    \b
    Examples:
      aira-dsl report runs/
      aira-dsl report sweeps/quick --baseline aira-greedy-drafts-1
      aira-dsl report runs/ --by spec,task --format markdown --wide
      aira-dsl report runs/ --plots figures/ --bootstrap 5000 --top-k 5
    """
    from aira_dsl.report.aggregate import build_report, collect_runs, parse_group_keys
    from aira_dsl.report.present import render_report
    from aira_dsl.report.stats import MIN_RUNS

    if by is None:  # a sweep is a grid of variants x tasks: report it that way
        by = "spec,task" if any((p / "sweep.json").is_file() for p in paths) else "spec"
    keys = parse_group_keys(by)
    if plots_dir is not None:
        from aira_dsl.report.plots import require_matplotlib

        require_matplotlib()  # fail before the work, not after
    summaries, skipped = collect_runs(paths, top_k=top_k)
    result = build_report(summaries, by=keys, n_boot=n_boot, seed=seed, top_k=top_k, skipped=skipped,
                          min_runs=MIN_RUNS if min_runs is None else min_runs, baseline=baseline)
    sys.stdout.write(render_report(result, fmt, wide=wide))
    if fmt in ("csv", "json"):  # text and markdown carry their warnings in the output itself
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
    if plots_dir is not None and summaries:
        from aira_dsl.report.plots import write_plots

        for path in write_plots(result, plots_dir):
            click.echo(f"wrote {path}", err=True)
    if not any(s.steps for s in summaries):
        click.echo("error: nothing to report: no run has a finished node", err=True)
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_OK)


@click.command("export")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--to", "target", type=click.Choice(["mlflow", "wandb"]), required=True,
              help="The tracker: MLflow (local store) or Weights & Biases (offline mode).")
@click.option("--dest", type=click.Path(path_type=Path, file_okay=False), default=Path("."), show_default=True,
              help="Where the tracker's files go: mlflow.db and mlruns/ (MLflow), wandb/offline-run-* (W&B).")
@click.option("--project", default="aira-dsl", show_default=True,
              help="The MLflow experiment or the W&B project.")
@click.option("--tracking-uri", default=None, metavar="URI",
              help="MLflow only: log to this tracking URI (a server, a database) instead of the store in --dest.")
@_guarded
def export(paths: tuple[Path, ...], target: str, dest: Path, project: str, tracking_uri: str | None) -> None:
    """Export runs to MLflow or W&B, offline: no server, no network, no account.

    PATHS are run folders or folders holding runs (a sweep: each run is exported, grouped under
    the sweep's name). Each run becomes a tracker run with the plan as parameters, one metric
    step per search node (validation, fitness, test score, buggy, cost, tokens, best so far),
    the final figures, and the best submission with its code, plan.json and run.json as
    artifacts. MLflow writes a local store (SQLite or files, whichever the installed MLflow
    defaults to) in --dest; a run already in the experiment is skipped. W&B writes offline runs
    under --dest/wandb for `wandb sync`.

    \b
    Needs the tracker's package: pip install 'aira-dsl[mlflow]' or 'aira-dsl[wandb]'.
    Exit codes: 0 exported, 2 a path holds no run, bad option, or the tracker is not installed.

    \b
    Examples:
      aira-dsl export runs/<run> --to mlflow
      aira-dsl export sweeps/quick --to wandb --dest exports/ --project my-sweep
    """
    from aira_dsl.report.export import export_runs

    if tracking_uri is not None and target != "mlflow":
        click.echo("error: --tracking-uri is for --to mlflow\nhint: W&B runs are written offline under --dest",
                   err=True)
        sys.exit(EXIT_USAGE)
    exported = export_runs(paths, target, dest=dest, project=project, tracking_uri=tracking_uri)
    for e in exported:
        what = "already exported as" if e.skipped else "exported as"
        click.echo(f"{e.run_dir}: {what} {target} run {e.run_id}")
    if target == "mlflow" and exported:
        click.echo(f"look at them with: mlflow ui --backend-store-uri {exported[0].location}")
    elif exported:
        click.echo(f"offline runs in {Path(exported[0].location).parent}; upload with: wandb sync "
                   f"{Path(exported[0].location).parent}/offline-run-*")
    sys.exit(EXIT_OK)
