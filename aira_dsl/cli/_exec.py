"""``aira-dsl exec``: run one script in a sandbox exactly as the runtime would, and show the result."""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn

import click

from aira_dsl.diagnostics import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, json_text, printable


def _fail(fmt: str, message: str, hint: str | None) -> NoReturn:
    if fmt == "json":
        sys.stdout.write(json_text({"error": message, "hint": hint}))
    click.echo(f"aira-dsl exec: error: {message}", err=True)
    if hint:
        click.echo(f"  hint: {hint}", err=True)
    sys.exit(EXIT_USAGE)


def _summary(result: Any, limits: Any, workspace: Path | None) -> str:
    parts = [f"exit {result.exit_code}", f"{result.duration:.2f}s", f"isolation: {result.isolation}",
             f"limits: {result.limits_mode}"]
    lines = [" · ".join(parts)]
    if result.timed_out:
        lines.append(f"TIMED OUT after {limits.wall_time:g}s (killed)")
    if result.oom_killed:
        lines.append("KILLED: memory limit" + (f" ({limits.memory_bytes / 2**20:.0f} MiB)"
                                              if limits.memory_bytes else ""))
    if result.output_truncated:
        lines.append(f"output truncated: {result.output_total_bytes:,} bytes in total, head and tail kept")
    if result.files:
        shown = ", ".join(result.files[:10]) + (f" (+{len(result.files) - 10} more)" if len(result.files) > 10 else "")
        lines.append(f"files: {shown}")
    for warning in result.warnings:
        lines.append(f"warning: {warning}")
    if workspace is not None:
        lines.append(f"workspace kept at {workspace}")
    return "\n".join(lines)


@click.command("exec")
@click.argument("script", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("args", nargs=-1)
@click.option("--sandbox", "profile_name", default="local", show_default=True,
              help="Sandbox profile: a name from runtimes/ or a path to a profile file.")
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder bound read-only at ./data (a task's public data).")
@click.option("--timeout", help="Wall-clock limit, e.g. 30s, 10m, 4h (default: the profile's).")
@click.option("--memory", help="Memory limit, e.g. 512m, 2g (default: the profile's).")
@click.option("--cpus", type=click.FloatRange(min=0.01), help="CPU cores (default: the profile's).")
@click.option("--gpus", type=click.IntRange(min=0), default=0, show_default=True,
              help="Number of GPUs to assign (taken from the GPUs nvidia-smi lists).")
@click.option("--env", "env_items", multiple=True, metavar="NAME=VALUE",
              help="Extra environment variable for the script (repeatable; credentials are dropped).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to create the workspace (default: a temporary folder).")
@click.option("--keep", is_flag=True, help="Keep the workspace afterwards and print where it is.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: the script's output, then a summary on stderr; json: one object on stdout.")
def exec_command(script: Path, args: tuple[str, ...], profile_name: str, data_dir: Path | None,
                 timeout: str | None, memory: str | None, cpus: float | None, gpus: int,
                 env_items: tuple[str, ...], workdir: Path | None, keep: bool, fmt: str) -> None:
    """Run SCRIPT in a sandbox, as the runtime runs a node, and print what happened.

    The script is copied into a fresh workspace (./data read-only, ./working, ./submission) and
    run with the profile's isolation and limits; flags override the limits. Use it to reproduce
    a node, to check a machine's sandbox, or from scripts (--format json). Arguments after
    `--` are passed to the script.

    \b
    Exit codes: 0 the script succeeded; 1 it failed, timed out or hit the memory limit;
    2 usage error or the sandbox could not run (message and hint on stderr).

    --data is a task's public folder: `aira-dsl tasks prepare penguins` writes the bundled one
    under ~/.cache/aira-dsl/tasks ($AIRA_DSL_CACHE if set), and `aira-dsl tasks show penguins`
    prints where it is.

    \b
    Examples:
      aira-dsl exec solution.py --data ~/.cache/aira-dsl/tasks/penguins/public --timeout 30s --memory 2g
      aira-dsl exec train.py --sandbox docker-gpu --gpus 1 --format json
      aira-dsl exec probe.py --sandbox local-unsafe -- --verbose
    """
    from aira_dsl.sandbox import SandboxError, assign_gpus, create_sandbox, load_profile, parse_size
    from aira_dsl.spec.model import parse_duration

    overrides: dict[str, Any] = {}
    if timeout is not None:
        seconds = parse_duration(timeout)
        if not seconds:
            raise click.BadParameter(f"'{timeout}' is not a duration (e.g. 30s, 10m, 4h)", param_hint="--timeout")
        overrides["wall_time"] = seconds
    if memory is not None:
        size = parse_size(memory)
        if not size:
            raise click.BadParameter(f"'{memory}' is not a size (e.g. 512m, 2g)", param_hint="--memory")
        overrides["memory_bytes"] = size
    if cpus is not None:
        overrides["cpus"] = cpus
    env: dict[str, str] = {}
    for item in env_items:
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise click.BadParameter(f"'{item}' is not NAME=VALUE", param_hint="--env")
        env[name] = value

    root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="aira-exec-"))
    node_id = re.sub(r"[^A-Za-z0-9_.-]", "_", f"exec-{script.stem}")[:100]
    sandbox = None
    workspace = None
    try:
        profile = load_profile(profile_name)
        limits = profile.limits.override(**overrides)
        assigned = assign_gpus(1, gpus)[0] if gpus else []
        sandbox = create_sandbox(profile, workdir_root=root, gpus=assigned)
        workspace = sandbox.prepare(node_id, data_dir, {script.name: script.read_bytes()})
        argv = [script.name, *args] if args else script.name
        result = sandbox.run(workspace, ["python", *argv] if isinstance(argv, list) else argv, limits, env)
    except SandboxError as exc:
        _fail(fmt, exc.message, exc.hint)
    finally:
        if sandbox is not None and workspace is not None and not keep:
            sandbox.cleanup(workspace)
        if workdir is None and not keep:
            shutil.rmtree(root, ignore_errors=True)
    kept = workspace.root if keep and workspace is not None else None
    if fmt == "json":
        payload = {**result.to_dict(), "ok": result.ok, "limits": limits.to_dict(),
                   "sandbox": sandbox.describe(), "workspace": str(kept) if kept else None}
        sys.stdout.write(json_text(payload))
    else:
        sys.stdout.write(result.output)
        if result.output and not result.output.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()
        # file names the script made may be no UTF-8: shown with U+FFFD, as in the JSON
        click.echo(printable(_summary(result, limits, kept)), err=True)
    sys.exit(EXIT_OK if result.ok else EXIT_FINDINGS)
