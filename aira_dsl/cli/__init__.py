"""The ``aira-dsl`` command line: a thin layer that parses arguments and calls the library.

Subcommands live in their own modules and are imported only when invoked, so ``aira-dsl
validate`` does not pay for the runtime's imports. To add one, add
``name -> ("module:attr", "one-line help")`` to ``_COMMANDS``.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from typing import Any

import click

from aira_dsl import __version__

EXIT_INTERNAL = 3
"""A bug in aira-dsl (an exception nobody turned into a diagnostic)."""

_COMMANDS: dict[str, tuple[str, str] | str] = {
    "validate": ("aira_dsl.cli._validate:validate", "Check specs, plans, tasks, sandbox profiles and sweeps, offline."),
    "schema": ("aira_dsl.cli._validate:schema", "Print a JSON Schema (agent spec, task, profile, plan, sweep)."),
    "compile": ("aira_dsl.cli._compile:compile_command", "Check a spec and lower it to a plan (JSON)."),
    "render": ("aira_dsl.cli._compile:render_command", "Show the exact messages an operator sends."),
    "diff": ("aira_dsl.cli._compile:diff_command", "Semantic diff of two specs, plans or git revisions."),
    "run": ("aira_dsl.cli._run:run_command", "Run an agent on a task (LLM + sandbox + search)."),
    "demo": ("aira_dsl.cli._run:demo_command", "Run the whole pipeline offline with scripted answers."),
    "serve-scripted": ("aira_dsl.cli._serve:serve_scripted",
                       "Scripted OpenAI-compatible server (tests, demos)."),
    "grade": ("aira_dsl.cli._tasks:grade", "Check a submission and score it on a task's private answers."),
    "tasks": ("aira_dsl.cli._tasks:tasks", "Bundled offline tasks: list, prepare, show, preview."),
    "exec": ("aira_dsl.cli._exec:exec_command", "Run one script in a sandbox, as the runtime would."),
    "view": ("aira_dsl.cli._view:view", "A run's HTML viewer, a sweep's index of runs; --serve follows live runs."),
    "runs": ("aira_dsl.cli._report:runs", "List runs in a folder: spec, task, seed, status, scores, cost."),
    "report": ("aira_dsl.cli._report:report", "Aggregate runs: medal rates with bootstrap CIs, selection gap."),
    "export": ("aira_dsl.cli._report:export", "Export runs to MLflow or W&B (offline): params, metrics, artifacts."),
    "sweep": ("aira_dsl.cli._sweep:sweep", "Run grids of specs × tasks × seeds on local, SLURM or Ray."),
    "lsp": ("aira_dsl.cli._lsp:lsp_command", "Language server for editors: validate's checks as you type."),
}


def _target(name: str) -> str:
    entry = _COMMANDS[name]
    return entry if isinstance(entry, str) else entry[0]


def _help(ctx: click.Context, name: str) -> str:
    entry = _COMMANDS[name]
    if isinstance(entry, tuple):
        return entry[1]
    command = cli.get_command(ctx, name)  # no stored help: import it
    return command.get_short_help_str(60) if command else ""


class _LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _COMMANDS:
            module_name, attr = _target(cmd_name).split(":")
            command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _help(ctx, name)) for name in sorted(_COMMANDS)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aira-dsl")
def cli() -> None:
    """Declarative AI research agents: YAML specs, a checking compiler and a search runtime.

    \b
    Exit codes: 0 ok, 1 findings (errors in your inputs), 2 usage or environment error,
    3 internal error (a bug in aira-dsl: please report it).

    \b
    Examples:
      aira-dsl demo                                         the whole pipeline, offline
      aira-dsl validate specs/                              check every spec in a folder
      aira-dsl compile specs/aira-greedy.yaml -o plan.json  lower a spec to a plan
      aira-dsl run specs/aira-greedy.yaml --task penguins   run an agent (needs an endpoint)
      aira-dsl view runs/<run>                              look at a run in a browser
    """


_USER_ERRORS = (("aira_dsl.llm.errors", "LLMError"), ("aira_dsl.settings.model", "ModelConfigError"))
"""Exceptions that are the user's problem (an endpoint, a key), shown as a diagnostic."""


def _user_error(exc: Exception) -> Any:
    """``exc`` when it is one of :data:`_USER_ERRORS`, else None. An exception can only be an
    instance of a class whose module was imported, so this imports nothing: ``validate`` need
    not load the LLM client's modules to report its errors."""
    for module_name, class_name in _USER_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, class_name)):
            return exc
    return None


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    from aira_dsl.diagnostics import EXIT_USAGE, DiagnosticError, render

    try:
        return cli.main(args=argv, prog_name="aira-dsl", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except DiagnosticError as exc:
        sys.stderr.write(render(exc.diagnostics, "text", stream=sys.stderr))
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:
        known = _user_error(exc)
        if known is not None:  # unreachable endpoint, missing key, replay miss
            sys.stderr.write(render([known.to_diagnostic()], "text", stream=sys.stderr))
            sys.exit(EXIT_USAGE)
        if os.environ.get("AIRA_DSL_DEBUG"):
            traceback.print_exc()
        else:
            click.echo(f"aira-dsl: internal error: {exc.__class__.__name__}: {exc}\n"
                       "  hint: this is a bug in aira-dsl; rerun with AIRA_DSL_DEBUG=1 for the traceback "
                       "and report it", err=True)
        sys.exit(EXIT_INTERNAL)
