"""``aira-dsl validate`` and ``aira-dsl schema``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from aira_dsl.cli._models import ENV_FILE_HELP, load_env_file
from aira_dsl.diagnostics import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, Severity, json_text, printable, render

FORMATS = click.Choice(["text", "json", "github"])


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True,
              help="text for people, json for tools, github for workflow annotations.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1).")
@click.option("-q", "--quiet", is_flag=True, help="Print only problems, no summary line.")
@click.option("--skip-unknown", is_flag=True,
              help="Skip named files that are no aira-dsl document (a CI workflow, a compose file) instead "
                   "of reporting them, as files found in a folder are; the pre-commit hook passes this.")
@click.option("--env-file", type=click.Path(path_type=Path, dir_okay=False), help=ENV_FILE_HELP)
@click.option("--no-env-file", is_flag=True, help="Read no .env file.")
def validate(paths: tuple[Path, ...], fmt: str, strict: bool, quiet: bool, skip_unknown: bool,
             env_file: Path | None, no_env_file: bool) -> None:
    """Check agent specs, tasks, sandbox profiles, sweeps, plans and prompt templates, offline.

    PATHS are files or folders; folders are searched for *.yaml / *.yml files, whose kind
    (agent spec, task.yaml, runtimes/ profile, sweep, plan) is recognised by their content.
    A prompt template (*.j2) is checked for Jinja syntax and, through the specs of its project
    that use it, for the variables of their operators' kinds. Every check that `compile` runs
    is run here, with no API key and no container. A .env file is read first, as `run` reads it
    (./.env, else the nearest one from the first path's folder up to its project root), so
    ${env:NAME} values kept there are not reported unset.

    \b
    Exit codes: 0 clean (warnings allowed), 1 findings, 2 usage or environment error.

    \b
    Examples:
      aira-dsl validate specs/
      aira-dsl validate specs/aira-greedy.yaml --format json
      aira-dsl validate prompts/aira/draft.j2
      aira-dsl validate --skip-unknown $(git ls-files '*.yaml' '*.yml' '*.j2')   # as the pre-commit hook
      aira-dsl validate . --format github     # annotations in GitHub Actions
    """
    from aira_dsl.validation import validate_paths

    if not paths:
        raise click.UsageError("give at least one spec file or folder, e.g. `aira-dsl validate specs/`")
    load_env_file(env_file, no_env_file, paths[0] / "_" if paths[0].is_dir() else paths[0])
    skipped: list[str] = []
    reports, problems = validate_paths(paths, skip_unknown=skip_unknown, skipped=skipped)
    # A base spec's problems are found once per spec extending it: show each once.
    diagnostics = list(dict.fromkeys(d for r in reports for d in r.diagnostics))
    out = sys.stdout
    if fmt == "json":
        payload = {"files": [{"path": r.path, "kind": r.kind, "errors": r.errors, "warnings": r.warnings}
                             for r in reports],
                   "diagnostics": [d.to_dict() for d in diagnostics],
                   "usage_errors": problems,
                   "skipped": skipped}
        out.write(json_text(payload))  # valid UTF-8 even for file names that are not
    else:
        text = render(diagnostics, fmt, stream=out)
        if text:
            out.write(printable(text))
            out.flush()  # before the summary on stderr: pre-commit and CI logs show both in one stream
        for problem in problems:
            click.echo(printable(f"aira-dsl validate: {problem}"), err=True)
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = sum(d.severity is Severity.WARNING for d in diagnostics)
    if fmt == "text" and not quiet and (reports or skipped):
        note = (f" (skipped {len(skipped)} file{'s' * (len(skipped) != 1)} that {'are' if len(skipped) != 1 else 'is'} "
                "no aira-dsl document)") if skipped else ""
        click.echo(f"checked {len(reports)} file{'s' * (len(reports) != 1)}: "
                   f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}{note}",
                   err=True)
    if problems:
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_FINDINGS if errors or (strict and warnings) else EXIT_OK)


@click.command()
@click.option("--kind", type=click.Choice(["agent", "task", "sandbox-profile", "plan", "sweep"]), default="agent",
              show_default=True, help="Which schema to print.")
def schema(kind: str) -> None:
    """Print a JSON Schema (2020-12); editors use it for completion and hover docs.

    \b
    Put this line at the top of a spec to get them in VS Code / any yaml-language-server editor:
      # yaml-language-server: $schema=../schema/agent.schema.json

    \b
    Examples:
      aira-dsl schema > agent.schema.json
      aira-dsl schema --kind task
    """
    from importlib import resources

    name = {"agent": "agent.schema.json", "task": "task.schema.json",
            "sandbox-profile": "sandbox-profile.schema.json", "plan": "plan.schema.json",
            "sweep": "sweep.schema.json"}[kind]
    try:
        text = resources.files("aira_dsl.schemas").joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        click.echo(f"aira-dsl schema: the {kind} schema is not available in this version", err=True)
        sys.exit(EXIT_USAGE)
    sys.stdout.write(text)
