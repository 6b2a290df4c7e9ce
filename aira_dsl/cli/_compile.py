"""``aira-dsl compile``, ``aira-dsl render`` and ``aira-dsl diff``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from aira_dsl.cli._models import load_env_file, model_options
from aira_dsl.diagnostics import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, Diagnostic, DiagnosticError, render
from aira_dsl.plan import Plan

SET_HELP = "Override a spec value, e.g. --set policy.num_drafts=3 (repeatable; values are YAML)."


def _fail(diagnostics: list[Diagnostic], code: int) -> NoReturn:
    sys.stderr.write(render(diagnostics, "text", stream=sys.stderr))
    sys.exit(code)


@click.command("compile")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the plan here (default: stdout).")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help=SET_HELP)
@model_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="Format of diagnostics.")
def compile_command(spec: Path, output: Path | None, overrides: tuple[str, ...], model_choices: tuple[str, ...],
                    model_settings: tuple[str, ...], env_file: Path | None, no_env_file: bool, fmt: str) -> None:
    """Check SPEC and lower it to a plan (the JSON the runtime executes).

    The plan holds every default, durations in seconds, resolved models (environment variable
    names only, never keys), each prompt template's full source with its sha256, and each
    expression as a typed AST, under a plan_hash. The same spec always gives the same bytes.

    \b
    Exit codes: 0 compiled, 1 the spec has errors, 2 usage or environment error.

    \b
    Examples:
      aira-dsl compile specs/aira-greedy.yaml -o plan.json
      aira-dsl compile specs/aira-greedy.yaml --set policy.num_drafts=3 --set budget.steps=50
      aira-dsl compile specs/aira-greedy.yaml --model coder=vllm/Qwen/Qwen2.5-Coder-32B-Instruct
    """
    from aira_dsl.compiler import compile_spec

    if not spec.is_file():
        raise click.UsageError(f"{spec}: no such file")
    load_env_file(env_file, no_env_file, spec)
    result = compile_spec(spec, overrides=overrides, models=model_choices, model_settings=model_settings)
    diagnostics = result.diagnostics.sorted()
    if diagnostics:
        sys.stderr.write(render(diagnostics, fmt, stream=sys.stderr))
    if result.plan is None:
        sys.exit(EXIT_FINDINGS)
    text = result.plan.to_json()
    if output is None:
        sys.stdout.write(text)
        click.echo(f"plan_hash: {result.plan.plan_hash}", err=True)
    else:
        try:
            result.plan.write(output)
        except OSError as exc:
            _fail([Diagnostic("unwritable-file", f"cannot write plan: {exc.strerror or exc}", file=str(output))],
                  EXIT_USAGE)
        click.echo(f"plan_hash: {result.plan.plan_hash}")
        click.echo(f"wrote {output}", err=True)
    sys.exit(EXIT_OK)


def _load(ref: str, overrides: tuple[str, ...] = (), models: tuple[str, ...] = (),
          model_settings: tuple[str, ...] = ()) -> Plan:
    from aira_dsl.compiler import load_plan_or_spec

    return load_plan_or_spec(ref, overrides=overrides, env_mode="warn", models=models,
                             model_settings=model_settings)


@contextmanager
def _resolved(ref: str) -> Iterator[str]:
    """A local path for a spec/plan reference, exporting git revisions (REV:path) on the way."""
    from aira_dsl.gitrev import export_revision, split_revision_ref

    if split_revision_ref(ref) is None:
        yield ref
        return
    path, tmp = export_revision(ref)
    with tmp:
        yield str(path)


def _read_context(path: Path) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DiagnosticError(Diagnostic("unreadable-file", f"cannot read context: {exc}", file=str(path))) from None
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DiagnosticError(Diagnostic("bad-context", f"not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                                         f"{exc}", file=str(path))) from None


@click.command()
@click.argument("spec")
@click.argument("operator")
@click.option("--context", "context_file", type=click.Path(path_type=Path),
              help="YAML or JSON context (default: the documented sample for the operator's kind).")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help=SET_HELP)
@model_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def render_command(spec: str, operator: str, context_file: Path | None, overrides: tuple[str, ...],
                   model_choices: tuple[str, ...], model_settings: tuple[str, ...], env_file: Path | None,
                   no_env_file: bool, fmt: str) -> None:
    """Show exactly the messages OPERATOR of SPEC (a spec or plan) sends to the model.

    Without --context, the shipped sample context of the operator's kind is used (see
    docs/templates.md; print one with `aira-dsl render SPEC OP --format json`). The spec's own
    `vars` replace the sample's.

    \b
    Examples:
      aira-dsl render specs/aira-greedy.yaml draft
      aira-dsl render plan.json analyze --format json
      aira-dsl render specs/aira-greedy.yaml improve --context my-context.yaml
    """
    from aira_dsl.prompting import build_messages
    from aira_dsl.spec.schema_check import did_you_mean
    from aira_dsl.templates import load_sample_context, validate_context

    load_env_file(env_file, no_env_file, spec)
    plan = _load(spec, overrides, model_choices, model_settings)
    op = plan.operators.get(operator)
    if op is None:
        guess = did_you_mean(operator, plan.operators)
        _fail([Diagnostic("unknown-operator", f"'{plan.name}' has no operator '{operator}'",
                          hint=(f"did you mean '{guess}'? " if guess else "")
                          + f"operators: {', '.join(plan.operators)}")], EXIT_USAGE)
    if context_file is None:
        context = load_sample_context(op.kind)
        context["vars"] = dict(plan.vars)
    else:
        context = _read_context(context_file)
        problems = validate_context(context, op.kind, list(plan.vars))
        if problems:
            _fail([Diagnostic("bad-context", p, file=str(context_file)) for p in problems], EXIT_FINDINGS)
    messages = build_messages(plan, op, context)
    if fmt == "json":
        sys.stdout.write(json.dumps({"operator": operator, "kind": op.kind, "model": plan.models[op.model].model,
                                     "messages": messages}, indent=2, ensure_ascii=False) + "\n")
        return
    for message in messages:
        click.echo(click.style(f"──── {message['role']} ────", bold=True), color=None)
        sys.stdout.write(message["content"] if message["content"].endswith("\n") else message["content"] + "\n")


def _show(value: Any) -> str:
    from aira_dsl.diffing import UNSET

    return UNSET if value == UNSET else json.dumps(value, ensure_ascii=False)


@click.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def diff_command(a: str, b: str, fmt: str) -> None:
    """Compare two agents semantically: parameters, models, budgets, fitness, prompts.

    A and B are spec files, plan files, or git revisions as REV:path (as in `git show`,
    the path is relative to the repository's top; REV:./path to the current folder).

    \b
    Exit codes: 0 same, 1 different, 2 error.

    \b
    Examples:
      aira-dsl diff specs/aira-greedy.yaml specs/aira-greedy-no-memory.yaml
      aira-dsl diff HEAD~1:specs/aira-greedy.yaml specs/aira-greedy.yaml
      aira-dsl diff plan.json specs/aira-mcts.yaml --format json
    """
    from aira_dsl.diffing import diff_plans

    with _resolved(a) as path_a, _resolved(b) as path_b:
        plan_a = _load(path_a)
        plan_b = _load(path_b)
    result = diff_plans(plan_a, plan_b, a, b)
    if fmt == "json":
        sys.stdout.write(json.dumps({"a": a, "b": b, **result.to_dict()}, indent=2, ensure_ascii=False) + "\n")
    elif result.same:
        click.echo(f"no semantic differences (plan hash {plan_a.plan_hash[:12]})")
    else:
        section = None
        for change in result.changes:
            if change.section != section:
                section = change.section
                click.echo(click.style(f"{section}:", bold=True))
            click.echo(f"  {change.path}: {_show(change.before)} -> {_show(change.after)}")
        for template in result.templates:
            click.echo(click.style(f"template {template.name} ({template.status}):", bold=True))
            sys.stdout.write(template.diff if template.diff.endswith("\n") else template.diff + "\n")
    sys.exit(EXIT_OK if result.same else EXIT_FINDINGS)


