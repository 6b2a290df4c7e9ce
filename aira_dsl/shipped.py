"""The specs, prompts and sandbox profiles that ship inside the package, and ``aira-dsl:`` references.

The repository keeps them where users look for them (``specs/``, ``prompts/``, ``runtimes/`` at
the root, the folders the product card names); ``aira_dsl/assets/`` holds symbolic links to
those folders, which setuptools follows when it builds a wheel, so an installed package (a
wheel, ``pip install .``, pre-commit's hook environment) carries real copies and a checkout
reads the very same files. Nothing else in the package may find them through ``__file__``
arithmetic: this module is the one place that knows where they are.

A spec, or a prompt path, outside any checkout reaches a shipped file by a package reference:
``extends: aira-dsl:specs/aira-greedy.yaml``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PACKAGE_PREFIX", "SHIPPED_DIR", "is_package_ref", "package_ref_of", "resolve_package_ref",
           "shipped_path"]

SHIPPED_DIR = Path(__file__).resolve().parent / "assets"
"""The package's asset folder (``specs/``, ``prompts/``, ``runtimes/`` below it)."""

PACKAGE_PREFIX = "aira-dsl:"
"""How a spec names a shipped file wherever it lives: ``aira-dsl:specs/aira-greedy.yaml``."""

_FOLDERS = ("specs", "prompts", "runtimes", "schema")


def shipped_path(*parts: str) -> Path:
    """A path inside the shipped assets, e.g. ``shipped_path("runtimes")``."""
    return SHIPPED_DIR.joinpath(*parts)


def is_package_ref(text: str) -> bool:
    """Whether ``text`` is an ``aira-dsl:`` reference (not a relative path)."""
    return text.startswith(PACKAGE_PREFIX)


def resolve_package_ref(text: str) -> Path | None:
    """The file an ``aira-dsl:FOLDER/...`` reference names, or None when the reference is not
    well formed (an unknown folder, an absolute path, or ``..`` leaving the assets)."""
    if not is_package_ref(text):
        return None
    relative = text[len(PACKAGE_PREFIX):].strip()
    parts = Path(relative).parts
    if not parts or Path(relative).is_absolute() or parts[0] not in _FOLDERS or ".." in parts:
        return None
    return SHIPPED_DIR.joinpath(*parts)


def package_ref_of(path: str | os.PathLike[str]) -> str | None:
    """``aira-dsl:<relative>`` for a file inside the shipped assets, else None.

    Used to name shipped bases in a plan without a machine-specific path (the real location
    of a wheel's files differs from one installation to the next).
    """
    real = Path(os.path.realpath(path))
    for folder in _FOLDERS:
        root = Path(os.path.realpath(SHIPPED_DIR / folder))
        if real == root or root in real.parents:
            return PACKAGE_PREFIX + (Path(folder) / real.relative_to(root)).as_posix()
    return None
