"""``aira-dsl run`` and ``aira-dsl demo``."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from aira_dsl.cli._models import load_env_file, model_options
from aira_dsl.diagnostics import EXIT_FINDINGS, EXIT_OK, Diagnostic, DiagnosticError

SET_HELP = "Override a spec value, e.g. --set budget.steps=20 (repeatable)."


_NO_ENDPOINT_HINT = ("export OPENAI_API_KEY=... for OpenAI, or OPENAI_BASE_URL=http://host:port/v1 (and a key, any "
                     "text for servers that need none) for vLLM, SGLang, Ollama, llama.cpp or LM Studio; "
                     "`aira-dsl demo` runs the whole pipeline offline with scripted answers")


def _endpoint_problem(plan: Any, base_url: str | None) -> Diagnostic | None:
    """Why no model can be reached, before any work starts (None when it looks configured).

    A model whose key variable is unset could only fail each node, so the run is refused before
    its directory is made: with the general hint when no endpoint is named at all, else naming
    the model, its endpoint and the variable (a provider's, say).
    """
    for model in plan.models.values():
        if model.api_key_env is None or os.environ.get(model.api_key_env):
            continue
        if not (base_url or model.base_url or os.environ.get("OPENAI_BASE_URL")):
            return Diagnostic("no-endpoint", f"no model endpoint is configured for model '{model.name}' "
                              f"({model.model}): {model.api_key_env} is not set", hint=_NO_ENDPOINT_HINT)
        where = (base_url or model.endpoint).rstrip("/")
        return Diagnostic("no-endpoint", f"{model.api_key_env} is not set: model '{model.name}' ({model.model} at "
                          f"{where}) needs an API key",
                          hint=f"export {model.api_key_env}=<your key> or put it in a .env file (read from the "
                               f"working folder or the spec's project); api_key_env: null (-M {model.name}."
                               "api_key_env=null) for a server that checks no key")
    return None


def _refuse_live_run(rundir: Any) -> None:
    """Exit 2 at once when another live process owns the run directory (its lock is held)."""
    pid = rundir.holder()
    if pid is not None:
        holder = f"pid {pid}" if pid > 0 else "another process"
        raise DiagnosticError(Diagnostic(
            "run-in-use", f"run in use by {holder}: {rundir.root}",
            hint="wait for that run to finish, or stop it (Ctrl-C) first; one process at a time owns a run directory"))


def _print_summary(summary: Any, fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(summary.to_dict(), indent=2) + "\n")
        return
    medal = summary.medal or ("none" if summary.best_test is not None else "-")
    click.echo(f"run {summary.status} ({summary.stop_reason}) after {summary.steps} nodes, "
               f"{summary.elapsed:.1f}s, ${summary.cost_usd:.4f}, {summary.tokens} tokens")
    if summary.best_node is None:
        click.echo("no valid solution was found")
    else:
        click.echo(f"best validation score: {summary.best_validation} (node {summary.best_node}, "
                   f"{summary.task.get('metric')}, {summary.task.get('direction')})")
        click.echo(f"hidden test score:     {summary.best_test}   medal: {medal}")
        click.echo(f"best submission:       {summary.run_dir / 'best' / 'submission.csv'}")
    click.echo(f"run directory:         {summary.run_dir}")


def _execute(plan: Any, options: Any, *, resume: bool, fmt: str) -> Any:
    from aira_dsl.runtime.display import PlainDisplay, make_display
    from aira_dsl.runtime.engine import Engine, EngineError

    budget = {"steps": plan.budget.steps, "time": plan.budget.time}
    display = make_display(budget) if fmt == "text" else PlainDisplay()
    with display:
        engine = Engine(plan, options, on_node=display.node, on_message=display.message)
        try:
            return asyncio.run(engine.run(resume=resume))
        except EngineError as exc:
            raise DiagnosticError(Diagnostic("run-setup", str(exc), hint=exc.hint)) from None


@click.command("run")
@click.argument("spec", required=False)
@click.option("--task", "task_ref", help="Bundled task id, task folder, task.yaml, or mlebench:<id>.")
@click.option("--workers", type=click.IntRange(min=1), help="Parallel workers (default: the spec's).")
@click.option("--out", type=click.Path(path_type=Path), help="Run directory (default runs/<time>_<spec>_<task>_<id>/).")
@click.option("--seed", type=int, default=None, help="Seeds every random choice of the policy (default 0; a "
              "resumed run keeps its own).")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help=SET_HELP)
@model_options
@click.option("--llm-cache", type=click.Choice(["off", "record", "replay"]), default=None,
              help="Record model answers, or replay a recording offline (default off; a resumed run keeps "
                   "its own).")
@click.option("--llm-cache-path", type=click.Path(path_type=Path),
              help="The recording (default: RUN_DIR/llm-cache.sqlite).")
@click.option("--resume", "resume_dir", type=click.Path(path_type=Path), help="Continue the run in this directory.")
@click.option("--mlebench-data-dir", type=click.Path(path_type=Path), help="Where MLE-bench prepared data lives.")
@click.option("--hidden-validation", type=click.FloatRange(0.05, 0.5),
              help="Hold back this fraction of training rows as framework-owned validation data.")
@click.option("--base-url", help="Send every model's requests to this OpenAI-compatible endpoint.")
@click.option("--gpus", "gpu_list", metavar="IDS",
              help="GPU ids this run may use, e.g. 0,1 (default: every visible GPU); workers get disjoint sets "
                   "of execution.gpus_per_worker each.")
@click.option("--task-option", "task_option_pairs", multiple=True, metavar="KEY=VALUE",
              help="A task option (repeatable): submission.strict, competition_id, direction, validate_url "
                   "(see docs/tasks.md).")
@click.option("--competition-id", help="mlebench-public: the competition id (default: $COMPETITION_ID).")
@click.option("--direction", type=click.Choice(["maximize", "minimize"]),
              help="mlebench-public: which way the metric improves, when no MLE-bench leaderboard says it.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json prints the final summary as JSON (progress lines still go to stderr).")
def run_command(spec: str | None, task_ref: str | None, workers: int | None, out: Path | None, seed: int | None,
                overrides: tuple[str, ...], model_choices: tuple[str, ...], model_settings: tuple[str, ...],
                env_file: Path | None, no_env_file: bool, llm_cache: str | None, llm_cache_path: Path | None, resume_dir: Path | None,
                mlebench_data_dir: Path | None, hidden_validation: float | None, base_url: str | None,
                gpu_list: str | None, task_option_pairs: tuple[str, ...], competition_id: str | None,
                direction: str | None, fmt: str) -> None:
    """Run an agent (SPEC or compiled PLAN) on a task until its budget is spent.

    The run directory holds the plan, a SQLite journal of every node and model call, per-node
    code/output/submission files and best/submission.csv (replaced atomically whenever the best
    valid node changes). A killed run continues with --resume RUN_DIR, losing no finished node.

    Models are reached through their base_url, else $OPENAI_BASE_URL, with the key from the
    variable their api_key_env names (default OPENAI_API_KEY). --model NAME=PROVIDER/MODEL picks
    the model of the spec's entry NAME (providers: docs/llm.md); the choice is part of the plan
    and its hash. A .env file in the working folder (or the spec's project) is read first; set
    variables win.

    \b
    Examples:
      aira-dsl run specs/aira-greedy.yaml --task penguins --workers 2
      OPENAI_BASE_URL=http://127.0.0.1:8000/v1 aira-dsl run specs/aira-mcts.yaml --task diabetes
      aira-dsl run plan.json --task ./my-task --set budget.steps=50 --seed 3
      aira-dsl run specs/aira-greedy.yaml --task penguins --model coder=openrouter/openai/gpt-4o -M coder.temperature=0.5
      aira-dsl run specs/aira-greedy.yaml --task mlebench:spooky-author-identification --mlebench-data-dir <dir>
      aira-dsl run specs/aira-greedy.yaml --task mlebench-public:/home/data --competition-id <id>
      aira-dsl run --resume runs/<run>
    """
    from aira_dsl.compiler import load_plan_or_spec
    from aira_dsl.runtime.engine import EngineError
    from aira_dsl.runtime.options import RunOptions
    from aira_dsl.runtime.resume import prepare_resume
    from aira_dsl.runtime.rundir import RunDir, default_run_dir

    gpus = None
    if gpu_list is not None:
        try:
            gpus = [int(part) for part in gpu_list.split(",") if part.strip()]
        except ValueError:
            raise click.UsageError(f"--gpus takes comma-separated GPU ids, e.g. 0,1 (got {gpu_list!r})") from None
    task_options = _task_options(task_option_pairs, competition_id, direction)
    load_env_file(env_file, no_env_file, spec)
    if resume_dir is not None:
        _refuse_live_run(RunDir(resume_dir))
        if overrides or model_choices or model_settings:
            raise click.UsageError("--set, --model and -M cannot change a run being resumed (its plan is frozen)")
        if spec is not None:
            raise click.UsageError("--resume continues the run with its own plan: leave out SPEC")
        try:
            plan, options = prepare_resume(
                resume_dir, task_ref=task_ref, workers=workers, llm_cache=llm_cache,
                llm_cache_path=llm_cache_path, mlebench_data_dir=mlebench_data_dir,
                hidden_validation=hidden_validation, base_url=base_url, gpus=gpus,
                seed=seed, task_options=task_options or None)
        except EngineError as exc:
            raise DiagnosticError(Diagnostic("resume", str(exc), hint=exc.hint)) from None
    else:
        if spec is None:
            raise click.UsageError("give a SPEC (or a plan file), or --resume RUN_DIR")
        if not task_ref:
            raise click.UsageError("give the task to solve with --task (e.g. --task penguins; see `aira-dsl tasks list`)")
        plan = load_plan_or_spec(spec, overrides=overrides, env_mode="error", models=model_choices,
                                 model_settings=model_settings)
        out = out or default_run_dir(plan.name, Path(task_ref).name if os.sep in task_ref else task_ref)
        _refuse_live_run(RunDir(out))
        if RunDir(out).exists():
            raise click.UsageError(f"{out} already holds a run; use --resume {out} to continue it")
        options = RunOptions(task_ref=task_ref, out=out, seed=seed or 0, workers=workers, llm_cache=llm_cache or "off",
                             llm_cache_path=llm_cache_path, mlebench_data_dir=mlebench_data_dir,
                             hidden_validation=hidden_validation, base_url=base_url, gpus=gpus,
                             task_options=task_options)
    problem = _endpoint_problem(plan, options.base_url) if options.llm_cache != "replay" else None
    if problem is not None:
        raise DiagnosticError(problem)
    summary = _execute(plan, options, resume=resume_dir is not None, fmt=fmt)
    _print_summary(summary, fmt)
    sys.exit(EXIT_OK if summary.status != "failed" else EXIT_FINDINGS)


def _task_options(pairs: tuple[str, ...], competition_id: str | None, direction: str | None) -> dict[str, Any]:
    """``--task-option KEY=VALUE`` pairs plus the flags named after options (checked by the task layer)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--task-option takes KEY=VALUE, e.g. submission.strict=true (got {pair!r})")
        options[key.strip()] = value.strip()
    if competition_id is not None:
        options["competition_id"] = competition_id
    if direction is not None:
        options["direction"] = direction
    return options


@click.command("demo")
@click.option("--out", type=click.Path(path_type=Path), help="Run directory (default runs/<time>_demo_penguins_<id>/).")
@click.option("--task", "task_ref", default="penguins", show_default=True, help="Bundled task to run on.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--steps", type=click.IntRange(min=1), default=10, show_default=True, help="Nodes to create.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def demo_command(out: Path | None, task_ref: str, workers: int, steps: int, fmt: str) -> None:
    """Run the whole pipeline offline, with SCRIPTED answers instead of a model.

    Starts the scripted OpenAI-compatible server on 127.0.0.1 with a small set of hand-written
    answers (some deliberately buggy, so the debug path runs), and runs specs/demo.yaml (AIRA
    greedy) on a bundled task with two workers in the local sandbox. The answers are scripted,
    not a model's: the demo shows the machinery, not an agent's skill.

    \b
    Examples:
      aira-dsl demo
      aira-dsl demo --task penguins --steps 6 --format json
    """
    from importlib import resources

    from aira_dsl.compiler import load_plan_or_spec
    from aira_dsl.llm.scripted import ScriptedServer
    from aira_dsl.runtime.engine import RunOptions
    from aira_dsl.runtime.rundir import default_run_dir

    spec = _demo_spec()
    plan = load_plan_or_spec(spec, overrides=(f"budget.steps={steps}", f"execution.workers={workers}"))
    out = out or default_run_dir("demo", task_ref)
    click.echo("aira-dsl demo: the model answers below are SCRIPTED (hand-written, served by the scripted "
               "test server), not a model's.", err=True)
    script = resources.files("aira_dsl.runtime.demo").joinpath("answers.yaml").read_text(encoding="utf-8")
    import yaml

    os.environ.setdefault("OPENAI_API_KEY", "scripted-demo-key")
    with ScriptedServer(yaml.safe_load(script)) as server:
        options = RunOptions(task_ref=task_ref, out=out, seed=0, workers=workers, base_url=server.base_url)
        summary = _execute(plan, options, resume=False, fmt=fmt)
    _print_summary(summary, fmt)
    if fmt == "text":
        click.echo(f"look at the run with:  aira-dsl view {summary.run_dir}")
    sys.exit(EXIT_OK if summary.status == "finished" else EXIT_FINDINGS)


def _demo_spec() -> Path:
    """The shipped demo spec (package data, so a wheel has it too)."""
    from aira_dsl.shipped import shipped_path

    spec = shipped_path("specs", "demo.yaml")
    if not spec.is_file():
        raise DiagnosticError(Diagnostic("demo-missing", f"the shipped demo spec {spec} is missing",
                                         hint="reinstall aira-dsl (pip install --force-reinstall aira-dsl)"))
    return spec


