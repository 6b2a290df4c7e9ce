"""Options shared by the commands that compile a spec: ``--model``, ``-M``, ``--env-file``, ``--no-env-file``.

``--model NAME=PROVIDER/MODEL`` and ``-M NAME.KEY=VALUE`` are handed to the compiler as sugar for
``--set models.NAME...`` (:mod:`aira_dsl.compiler.model_choice`). A ``.env`` file is read first,
so the keys and endpoints it holds are seen by the provider table and by the run, as inspect_ai
and most notebooks do: python-dotenv reads it, variables already set win, the file's path (never
a value) is printed once on stderr.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = ["load_env_file", "model_options"]

F = TypeVar("F", bound=Callable[..., Any])

MODEL_HELP = ("Choose model NAME of the spec, e.g. --model coder=openai/gpt-4o or coder=vllm/Qwen/Qwen2.5-7B-Instruct "
              "(repeatable; providers: docs/llm.md).")
SETTING_HELP = "Set one setting of model NAME, e.g. -M coder.temperature=0.2 (repeatable; values are YAML)."
ENV_FILE_HELP = ("Read environment variables from this file (default: ./.env, else the nearest .env from the "
                 "spec's folder up to its project root); variables already set win.")

_loaded: Path | None = None


def model_options(command: F) -> F:
    """Add ``--model``, ``-M``, ``--env-file`` and ``--no-env-file`` to a click command."""
    for option in reversed((
        click.option("--model", "model_choices", multiple=True, metavar="NAME=PROVIDER/MODEL", help=MODEL_HELP),
        click.option("-M", "model_settings", multiple=True, metavar="NAME.KEY=VALUE", help=SETTING_HELP),
        click.option("--env-file", type=click.Path(path_type=Path, dir_okay=False), help=ENV_FILE_HELP),
        click.option("--no-env-file", is_flag=True, help="Read no .env file."),
    )):
        command = option(command)
    return command


def load_env_file(env_file: Path | None, no_env_file: bool, spec: str | os.PathLike[str] | None) -> Path | None:
    """Read the ``.env`` file into ``os.environ`` (variables already set are kept); the file read.

    An explicit ``--env-file`` that cannot be read is a usage error (exit 2); an implicit
    ``.env`` is read only when it exists. Says "loaded .env from PATH" on stderr once a process.
    """
    global _loaded
    if env_file is not None and no_env_file:
        raise click.UsageError("--env-file and --no-env-file contradict each other: give one")
    if no_env_file:
        return None
    from aira_dsl.envfile import EnvFileError, apply_env_file, find_env_file

    path = env_file if env_file is not None else find_env_file(spec)
    if path is None:
        return None

    try:
        apply_env_file(path)
    except EnvFileError as exc:
        message = str(exc)
        raise click.UsageError(f"--env-file {message}" if message.endswith("no such file") else message) from None
    resolved = path.resolve()
    if _loaded != resolved:
        _loaded = resolved
        click.echo(f"aira-dsl: loaded .env from {resolved}", err=True)
    return resolved
