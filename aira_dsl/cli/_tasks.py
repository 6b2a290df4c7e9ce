"""``aira-dsl grade`` and ``aira-dsl tasks {list,prepare,show,preview}``: thin wrappers over
:mod:`aira_dsl.tasks`. Exit codes: 0 ok (for ``grade``: a valid submission), 1 invalid
submission, 2 usage or task error (printed as a message and a hint, never a traceback).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from aira_dsl.diagnostics import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE

F = TypeVar("F", bound=Callable[..., Any])

_CACHE_HELP = "Where bundled tasks are prepared (default: $AIRA_DSL_CACHE or ~/.cache/aira-dsl/tasks)."
_MLEBENCH_HELP = "Directory holding MLE-bench prepared competitions (<DIR>/<id>/prepared/...)."


def _fail(message: str, hint: str | None, fmt: str = "text") -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps({"error": message, "hint": hint}, indent=2) + "\n")
    else:
        click.echo(message if message.startswith("error:") else f"error: {message}", err=True)
        if hint:
            click.echo(f"hint: {hint}", err=True)
    sys.exit(EXIT_USAGE)


def _guarded(function: F) -> F:
    """Turn TaskError into a clear message and exit code 2 (bugs go to the top-level handler)."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from aira_dsl.tasks import TaskError

        fmt = str(kwargs.get("fmt", "text"))
        try:
            return function(*args, **kwargs)
        except TaskError as exc:
            if fmt == "json":
                _fail(exc.message, exc.hint, fmt)
            _fail(exc.render(), None, fmt)
        except OSError as exc:  # an unreadable or unwritable path the library did not anticipate
            _fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), None, fmt)

    return wrapper  # type: ignore[return-value]


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _report_text(report: Any, task: Any) -> str:
    better = "lower" if report.is_lower_better else "higher"
    lines = [f"task:         {task.id} ({task.name})",
             f"submission:   {report.submission_path}",
             f"metric:       {report.metric} ({better} is better)"]
    if report.valid_submission:
        lines.append("valid:        yes")
        lines.append(f"score:        {_num(report.score)}")
    else:
        lines.append(f"valid:        no: {report.reason}")
    if report.threshold_kind is None:
        lines.append("medal:        - (this task has no thresholds)")
    else:
        cmp = "<=" if report.is_lower_better else ">="
        kind = {"reference": "reference thresholds, not Kaggle medals", "kaggle": "Kaggle leaderboard",
                "custom": "custom thresholds"}.get(report.threshold_kind, report.threshold_kind)
        lines.append(f"medal:        {report.medal or 'none'} ({kind})")
        lines.append(f"thresholds:   gold {cmp} {_num(report.gold_threshold)}, silver {cmp} "
                     f"{_num(report.silver_threshold)}, bronze {cmp} {_num(report.bronze_threshold)}, "
                     f"median {_num(report.median_threshold)}")
        lines.append(f"above median: {'yes' if report.above_median else 'no'}")
    lines.extend(f"note:         {note}" for note in report.notes)
    return "\n".join(lines) + "\n"


@click.command()
@click.option("--task", "task_ref", required=True, metavar="T",
              help="Bundled id (penguins), task dir, task.yaml, or mlebench:<competition-id>.")
@click.argument("submission", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people; json: the grade report with MLE-bench's fields.")
@click.option("--mlebench-data-dir", type=click.Path(path_type=Path), default=None, help=_MLEBENCH_HELP)
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None, help=_CACHE_HELP)
@_guarded
def grade(task_ref: str, submission: Path, fmt: str, mlebench_data_dir: Path | None,
          cache_dir: Path | None) -> None:
    """Check a submission and score it on the task's private answers.

    An invalid submission (missing ids, NaN, wrong columns, probabilities outside [0, 1]...) is
    never scored; the report says why it is invalid.

    \b
    Exit codes: 0 valid submission, 1 invalid submission, 2 error (bad task, bad arguments).

    \b
    Examples:
      aira-dsl grade --task penguins runs/<run>/best/submission.csv
      aira-dsl grade --task ./my-task/ submission.csv --format json
      aira-dsl grade --task mlebench:spaceship-titanic --mlebench-data-dir ~/mle-data sub.csv
    """
    from aira_dsl.tasks import grade_submission, resolve_task

    task = resolve_task(task_ref, mlebench_data_dir=mlebench_data_dir, cache_dir=cache_dir,
                        hidden_validation=False)
    report = grade_submission(task, submission)
    if fmt == "json":
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(_report_text(report, task))
    sys.exit(EXIT_OK if report.valid_submission else EXIT_FINDINGS)


@click.group()
def tasks() -> None:
    """Bundled offline tasks: list, prepare, show and preview them.

    \b
    Examples:
      aira-dsl tasks list
      aira-dsl tasks prepare                 # all bundled tasks into the cache
      aira-dsl tasks prepare penguins --force --cache-dir ./cache
      aira-dsl tasks show digits --format json
      aira-dsl tasks preview penguins --max-chars 2000
    """


@tasks.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None, help=_CACHE_HELP)
@_guarded
def list_command(fmt: str, cache_dir: Path | None) -> None:
    """List the bundled tasks (id, kind, metric, whether prepared).

    \b
    Examples:
      aira-dsl tasks list
      aira-dsl tasks list --format json
    """
    from aira_dsl.tasks import default_cache_dir, list_bundled
    from aira_dsl.tasks.bundled.prepare import is_prepared

    cache = cache_dir or default_cache_dir()
    rows: list[dict[str, Any]] = []
    for info in list_bundled():
        row: dict[str, Any] = dict(info.to_dict())
        row["prepared"] = is_prepared(cache / info.id)
        row["path"] = str(cache / info.id)
        rows.append(row)
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    width = max(len(r["id"]) for r in [*rows, {"id": "ID"}])
    kind_width = max(len(r["kind"]) for r in [*rows, {"kind": "KIND"}])
    metric_width = max(9, *(len(r["metric"]) for r in rows))
    click.echo(f"{'ID':<{width}}  {'KIND':<{kind_width}}  {'METRIC':<{metric_width}}  {'STATUS':<12}  NAME")
    for row in rows:
        prepared = "prepared" if row["prepared"] else "not prepared"
        click.echo(f"{row['id']:<{width}}  {row['kind']:<{kind_width}}  {row['metric']:<{metric_width}}  "
                   f"{prepared:<12}  {row['name']}")
    click.echo(f"\ncache: {cache}  (thresholds are reference thresholds, not Kaggle medals)", err=True)


@tasks.command("prepare")
@click.argument("ids", nargs=-1)
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None, help=_CACHE_HELP)
@click.option("--force", is_flag=True, help="Rebuild even when a prepared copy is up to date.")
@_guarded
def prepare_command(ids: tuple[str, ...], cache_dir: Path | None, force: bool) -> None:
    """Prepare bundled tasks (all when no IDS are given) deterministically into the cache.

    \b
    Examples:
      aira-dsl tasks prepare
      aira-dsl tasks prepare penguins digits --cache-dir ./cache --force
    """
    from aira_dsl.tasks import default_cache_dir, prepare_bundled

    cache = cache_dir or default_cache_dir()
    for path in prepare_bundled(list(ids), cache, force=force):  # checks every id before preparing any
        click.echo(f"{path.name}: {path}")


@tasks.command("show")
@click.argument("task_ref", metavar="TASK")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--mlebench-data-dir", type=click.Path(path_type=Path), default=None, help=_MLEBENCH_HELP)
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None, help=_CACHE_HELP)
@_guarded
def show_command(task_ref: str, fmt: str, mlebench_data_dir: Path | None, cache_dir: Path | None) -> None:
    """Show a task's metric, submission format, thresholds and paths.

    \b
    Examples:
      aira-dsl tasks show penguins
      aira-dsl tasks show ./my-task --format json
    """
    from aira_dsl.tasks import resolve_task

    task = resolve_task(task_ref, mlebench_data_dir=mlebench_data_dir, cache_dir=cache_dir)
    thresholds = task.thresholds
    info: dict[str, Any] = {
        "id": task.id, "name": task.name, "source": task.source, "metric": task.metric,
        "direction": task.direction, "public_dir": str(task.public_dir), "private_dir": str(task.private_dir),
        "submission": {"sample": str(task.submission.sample), "id_column": task.submission.id_column,
                       "target_columns": list(task.submission.target_columns)},
        "thresholds": None if thresholds is None else {
            "kind": thresholds.kind, "gold": thresholds.gold, "silver": thresholds.silver,
            "bronze": thresholds.bronze, "median": thresholds.median, "num_teams": thresholds.num_teams},
        "resources": {k: v for k, v in task.resources.__dict__.items() if v is not None},
        "hidden_validation": None if task.hidden_validation is None else {
            "fraction": task.hidden_validation.config.fraction, "rows": task.hidden_validation.num_rows},
        "notes": list(task.notes),
    }
    if fmt == "json":
        sys.stdout.write(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
        return
    for key, value in info.items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
        click.echo(f"{key + ':':<18}{shown}")


@tasks.command("preview")
@click.argument("task_ref", metavar="TASK")
@click.option("--max-chars", type=click.IntRange(min=100), default=6000, show_default=True,
              help="Upper bound on the preview's length.")
@click.option("--mlebench-data-dir", type=click.Path(path_type=Path), default=None, help=_MLEBENCH_HELP)
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None, help=_CACHE_HELP)
@_guarded
def preview_command(task_ref: str, max_chars: int, mlebench_data_dir: Path | None,
                    cache_dir: Path | None) -> None:
    """Print the data preview agents get in their prompts (file tree, CSV summaries).

    \b
    Examples:
      aira-dsl tasks preview digits
      aira-dsl tasks preview ./my-task --max-chars 2000
    """
    from aira_dsl.tasks import data_preview, resolve_task

    task = resolve_task(task_ref, mlebench_data_dir=mlebench_data_dir, cache_dir=cache_dir)
    click.echo(data_preview(task.public_dir, max_chars=max_chars))
