"""``.env`` files: where one is found and how it is read (python-dotenv), defined once.

``run``, ``compile``, ``render``, ``sweep`` and ``validate`` read one before compiling (through
:mod:`aira_dsl.cli._models`, which adds the command-line messages), and the language server reads
the one of each workspace folder, so an editor and the command line see the same ``${env:NAME}``
values. Variables already set in the environment win; the file is never written, and its values
are never shown (only its path).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from aira_dsl.roots import PROJECT_MARKERS

__all__ = ["ENV_FILE", "EnvFileError", "apply_env_file", "find_env_file"]

ENV_FILE = ".env"
"""The file's name."""


class EnvFileError(Exception):
    """The file cannot be read (the message says why, never what it holds)."""


def find_env_file(near: str | os.PathLike[str] | None, *, here: bool = True) -> Path | None:
    """``./.env`` (when ``here``); else the nearest ``.env`` from ``near``'s folder up to its
    project root (the first folder holding ``.git`` or ``pyproject.toml``; only that folder
    without one), so a file used from elsewhere still finds its project's ``.env`` and no file
    outside the project is read."""
    if here and (Path.cwd() / ENV_FILE).is_file():
        return Path.cwd() / ENV_FILE
    if near is None:
        return None
    start = Path(near).resolve().parent
    chain = [start, *start.parents]
    root = next((d for d in chain if any((d / marker).exists() for marker in PROJECT_MARKERS)), None)
    for folder in chain[: chain.index(root) + 1] if root is not None else [start]:
        if (folder / ENV_FILE).is_file():
            return folder / ENV_FILE
    return None


def apply_env_file(path: Path) -> list[str]:
    """Set the variables of ``path`` that are not set yet; returns their names.

    Raises :class:`EnvFileError` when the file cannot be read (missing, unreadable, not UTF-8).
    """
    from dotenv import dotenv_values

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EnvFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc.__class__.__name__
        raise EnvFileError(f"cannot read {path}: {reason}") from None
    added = []
    for key, value in dotenv_values(stream=io.StringIO(text)).items():
        if value is not None and key not in os.environ:
            os.environ[key] = value
            added.append(key)
    return added
