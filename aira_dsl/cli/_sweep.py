"""``aira-dsl sweep``: launch a grid of runs, follow it, resume it (thin wrappers over aira_dsl.sweep).

``aira-dsl sweep SWEEP`` is short for ``aira-dsl sweep launch SWEEP``: a group whose first
argument is not one of its subcommands is taken as a sweep file.

Exit codes: 0 ok (every launched job finished; for SLURM without --wait: submitted);
1 the sweep file has errors, or some job did not finish; 2 usage or environment error (missing
extra, cluster not reachable, a folder that holds another sweep, no model endpoint).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from aira_dsl.cli._models import load_env_file, model_options
from aira_dsl.diagnostics import EXIT_OK

F = TypeVar("F", bound=Callable[..., Any])

EXECUTORS = click.Choice(["local", "slurm", "ray"])


def _guarded(function: F) -> F:
    """SweepError → its diagnostics or message and hint, and its exit code (never a traceback)."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from aira_dsl.diagnostics import render
        from aira_dsl.sweep.errors import SweepError

        try:
            return function(*args, **kwargs)
        except SweepError as exc:
            if exc.diagnostics:
                sys.stderr.write(render(exc.diagnostics, "text", stream=sys.stderr))
            click.echo(exc.render(), err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


def _say(text: str) -> None:
    click.echo(text, err=True)


def _summary(result: Any) -> None:
    counts = ", ".join(f"{n} {state}" for state, n in sorted(result.counts.items()))
    total = sum(result.counts.values())
    click.echo(f"sweep directory: {result.sweep_dir}")
    click.echo(f"jobs: {total} ({counts})")
    if not result.attached and result.launched:
        click.echo(f"follow it with:  aira-dsl sweep status {result.sweep_dir}")
    click.echo(f"aggregate with:  aira-dsl report {result.sweep_dir} --by spec,task")


class _SweepGroup(click.Group):
    """A group whose first argument may be a sweep file (then: the ``launch`` subcommand)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["launch", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "SWEEP [--dry-run] [--out DIR] [--executor KIND]  |  COMMAND ARGS")


@click.group("sweep", cls=_SweepGroup, context_settings={"help_option_names": ["-h", "--help"]})
def sweep() -> None:
    """Run a grid of agent spec variants × tasks × seeds on local, SLURM or Ray.

    `aira-dsl sweep SWEEP` compiles every spec variant once (jobs run the frozen plans), expands
    the grid into jobs, each an `aira-dsl run` with its own run directory under the sweep
    directory, and launches them; the manifest DIR/sweep.json records every job's state and
    engine id. A sweep file is checked by `aira-dsl validate` too (format: docs/sweeps.md).

    \b
    Exit codes: 0 ok, 1 errors in the sweep file or jobs that did not finish,
    2 usage or environment error (missing extra, cluster not reachable, DIR holds another sweep).

    \b
    Examples:
      aira-dsl sweep examples/sweeps/quick.yaml --dry-run
      aira-dsl sweep examples/sweeps/quick.yaml --out sweeps/quick
      aira-dsl sweep examples/sweeps/slurm.yaml --executor slurm --wait
      aira-dsl sweep status sweeps/quick --format json
      aira-dsl sweep resume sweeps/quick
      aira-dsl report sweeps/quick --by spec,task
    """


@sweep.command("launch")
@click.argument("sweep_file", metavar="SWEEP", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Sweep directory (default sweeps/<name>).")
@click.option("--dry-run", is_flag=True, help="Print the grid and the resources asked for; write and launch nothing.")
@click.option("--executor", "executor_kind", type=EXECUTORS, help="Override the sweep file's executor kind.")
@click.option("--wait", is_flag=True, help="SLURM: wait until every job has ended (local and Ray always wait).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: the dry run's grid, or the final job states, as JSON.")
@model_options
@_guarded
def launch_command(sweep_file: Path, out: Path | None, dry_run: bool, executor_kind: str | None, wait: bool,
                   fmt: str, model_choices: tuple[str, ...], model_settings: tuple[str, ...],
                   env_file: Path | None, no_env_file: bool) -> None:
    """Launch the grid of SWEEP (this is what `aira-dsl sweep SWEEP` runs).

    Everything is checked before anything is written: the sweep file, every variant (compiled),
    every task, the model endpoint ($OPENAI_BASE_URL / API keys, which jobs inherit) and the
    executor. If DIR already holds this same sweep, the unfinished jobs are continued; a DIR
    that holds another sweep, or this sweep compiled to other plans, is refused.

    --model NAME=PROVIDER/MODEL and -M NAME.KEY=VALUE apply to every variant (each must have
    model NAME) and are frozen in its plan, so `sweep resume` keeps them. A .env file (./.env,
    else the nearest one from the sweep file's folder up to its project root) is read first;
    the jobs inherit its variables.

    \b
    Examples:
      aira-dsl sweep launch examples/sweeps/quick.yaml --dry-run --format json
      aira-dsl sweep launch examples/sweeps/quick.yaml --dry-run --model coder=vllm/Qwen/Qwen2.5-Coder-7B-Instruct
      aira-dsl sweep launch examples/sweeps/ray.yaml --out sweeps/ray --executor local
    """
    from aira_dsl.sweep import controller, render, status

    load_env_file(env_file, no_env_file, sweep_file)
    if dry_run:
        prepared = controller.prepare(sweep_file, executor_kind, models=model_choices, model_settings=model_settings)
        data = render.dry_run_data(prepared, out or controller.default_out(prepared.sweep))
        sys.stdout.write(render.render_dry_run(data, fmt))
        sys.exit(EXIT_OK)
    result = controller.launch(sweep_file, out, executor_kind=executor_kind, wait=wait, say=_say,
                               models=model_choices, model_settings=model_settings)
    if fmt == "json":
        sys.stdout.write(render.render_status(status(result.sweep_dir), "json"))
    else:
        _summary(result)
    sys.exit(result.exit_code)


@sweep.command("status")
@click.argument("sweep_dir", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "text", "json"]), default="table", show_default=True,
              help="table (text) for people, json for programs.")
@_guarded
def status_command(sweep_dir: Path, fmt: str) -> None:
    """Show every job's state: pending, queued, running, finished, failed, cancelled, preempted.

    States are brought up to date first from the jobs' own records, their runs, and the
    scheduler (SLURM: squeue, then sacct or scontrol); jobs killed outside aira-dsl show as
    failed with the reason. Exit code 0 whenever the sweep could be read, 2 if DIR is not a
    sweep directory.

    \b
    Examples:
      aira-dsl sweep status sweeps/quick
      aira-dsl sweep status sweeps/quick --format json | jq .counts
    """
    from aira_dsl.sweep import render, status

    sys.stdout.write(render.render_status(status(sweep_dir), "json" if fmt == "json" else "text"))
    sys.exit(EXIT_OK)


@sweep.command("resume")
@click.argument("sweep_dir", metavar="DIR", type=click.Path(path_type=Path))
@click.argument("sweep_file", metavar="[SWEEP]", required=False, type=click.Path(path_type=Path))
@click.option("--executor", "executor_kind", type=EXECUTORS, help="Relaunch on another executor kind.")
@click.option("--wait", is_flag=True, help="SLURM: wait until every relaunched job has ended.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_guarded
def resume_command(sweep_dir: Path, sweep_file: Path | None, executor_kind: str | None, wait: bool,
                   fmt: str) -> None:
    """Relaunch what is not finished: failed, cancelled, preempted and never-started jobs.

    Finished jobs are skipped, and so are jobs still queued or running. A job whose run had
    started continues it with `aira-dsl run --resume`, losing no finished node. It uses the
    sweep's frozen plans and grid; naming SWEEP checks that DIR really is a sweep of that file
    (a directory from another sweep file is refused).

    \b
    Examples:
      aira-dsl sweep resume sweeps/quick
      aira-dsl sweep resume sweeps/big examples/sweeps/slurm.yaml --wait
      aira-dsl sweep resume sweeps/big --executor local
    """
    from aira_dsl.sweep import controller, render, status

    result = controller.resume(sweep_dir, executor_kind=executor_kind, sweep_file=sweep_file, wait=wait, say=_say)
    if fmt == "json":
        sys.stdout.write(render.render_status(status(result.sweep_dir), "json"))
    else:
        _summary(result)
    sys.exit(result.exit_code)
