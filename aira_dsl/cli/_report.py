"""``aira-dsl view``, ``aira-dsl runs`` and ``aira-dsl report``: thin wrappers over :mod:`aira_dsl.report`.

Exit codes: 0 ok; 1 nothing to show (``runs``: no run found; ``report``: no run with a finished
node); 2 usage or environment error (not a run directory, unreadable journal, unknown ``--by``
key, matplotlib missing for ``--plots``), printed as a message and a hint, never a traceback.
"""

from __future__ import annotations

import sys
import webbrowser
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from aira_dsl.diagnostics import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE

F = TypeVar("F", bound=Callable[..., Any])

_FORMATS = ["text", "markdown", "csv", "json"]


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
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Where to write the page (default: RUN_DIR/report.html).")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default web browser.")
@_guarded
def view(run_dir: Path, output: Path | None, open_browser: bool) -> None:
    """Write a run's viewer: one self-contained HTML file (works offline).

    The page shows the search graph (nodes coloured buggy / valid / best, edges labelled by
    operator), each node's plan, code, output, review, validation and hidden test score, tokens
    and cost, best-score plots over steps and time, and a per-operator table. Unfinished runs and
    runs with no valid node render too, with a banner saying so.

    \b
    Exit codes: 0 written, 2 not a run directory, unreadable journal or unwritable output.

    \b
    Examples:
      aira-dsl view runs/aira-greedy-penguins-s0
      aira-dsl view runs/aira-greedy-penguins-s0 -o /tmp/run.html --open
    """
    from aira_dsl.report import write_viewer

    path = write_viewer(run_dir, output)
    click.echo(str(path))
    if open_browser and not webbrowser.open(path.resolve().as_uri()):
        click.echo(f"warning: no web browser could be started; open {path} yourself", err=True)
    sys.exit(EXIT_OK)


@click.command()
@click.argument("directory", type=click.Path(path_type=Path), default=".", required=False)
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="text", show_default=True,
              help="text table for people; json, csv or markdown for programs and notes.")
@_guarded
def runs(directory: Path, fmt: str) -> None:
    """List the runs at or below DIRECTORY (default: the current folder).

    One line per run: spec, plan hash, task, seed, status, steps, best validation score, its
    hidden test score and medal, and LLM cost. Figures come from each run's journal.

    \b
    Exit codes: 0 listed, 1 no run found, 2 DIRECTORY missing.

    \b
    Examples:
      aira-dsl runs runs/
      aira-dsl runs sweeps/2025-06 --format json
    """
    from aira_dsl.report.aggregate import list_runs
    from aira_dsl.report.render import render_runs

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
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="text", show_default=True,
              help="text or markdown tables, csv (one row per group, fractions), or json (everything).")
@click.option("--plots", "plots_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              metavar="DIR", help="Also write PNG plots into DIR (needs: pip install 'aira-dsl[plots]').")
@click.option("--bootstrap", "n_boot", type=click.IntRange(0, 1_000_000), default=1000, show_default=True,
              help="Bootstrap replicates for the 95% intervals (0: point estimates only).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--top-k", "top_k", type=click.IntRange(1), default=3, show_default=True,
              help="Short list for the top-k selection: best test score among the k best by validation.")
@_guarded
def report(paths: tuple[Path, ...], by: str | None, fmt: str, plots_dir: Path | None, n_boot: int, seed: int,
           top_k: int) -> None:
    """Aggregate runs over seeds and tasks: medal rates with CIs and the selection gap.

    PATHS are run folders or folders holding runs at any depth (a sweep). For each group: the
    valid-submission, above-median, any-medal, silver-or-better and gold rates of the node the
    agent submits (V/V), as means over tasks with stratified-bootstrap 95% intervals (runs
    resampled within each task); and the selection gap: the any-medal rate had the final node
    been chosen by hidden test score (V/T), their paired difference, and the test-best node
    among the top-k by validation.

    \b
    Exit codes: 0 ok, 1 nothing to report (no run with a finished node),
    2 a path is not a run nor holds one, bad option, matplotlib missing for --plots.

    \b
    Examples:
      aira-dsl report runs/
      aira-dsl report runs/ --by spec,task --format markdown
      aira-dsl report sweep/ --plots figures/ --bootstrap 5000 --top-k 5
    """
    from aira_dsl.report.aggregate import build_report, collect_runs, parse_group_keys
    from aira_dsl.report.render import render_report

    if by is None:  # a sweep is a grid of variants x tasks: report it that way
        by = "spec,task" if any((p / "sweep.json").is_file() for p in paths) else "spec"
    keys = parse_group_keys(by)
    if plots_dir is not None:
        from aira_dsl.report.plots import require_matplotlib

        require_matplotlib()  # fail before the work, not after
    summaries, skipped = collect_runs(paths, top_k=top_k)
    result = build_report(summaries, by=keys, n_boot=n_boot, seed=seed, top_k=top_k, skipped=skipped)
    sys.stdout.write(render_report(result, fmt))
    if plots_dir is not None and summaries:
        from aira_dsl.report.plots import write_plots

        for path in write_plots(result, plots_dir):
            click.echo(f"wrote {path}", err=True)
    if not any(s.steps for s in summaries):
        click.echo("error: nothing to report: no run has a finished node", err=True)
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_OK)
