"""Where the files an input names may be: the allowed roots, defined once.

Specs, tasks, plans and sandbox profiles name other files: prompt templates, the base a spec
``extends``, a task's description, sample submission, answers and data folders, a profile given
by path. Those files' contents go into prompts sent to a model endpoint, into the sandbox and into
diagnostics printed on screen, so an input written by someone else (a spec from a repository, a
task folder downloaded from a colleague, a plan file) must not be able to name ``/etc/passwd``,
``~/.ssh/id_rsa`` or another task's answers. Every such path must therefore resolve, symbolic
links followed exactly as the later read would follow them, inside one of the *allowed roots*:

* the **project root** of the file that names the path: the nearest folder, at or above that
  file's folder, holding ``.git`` or ``pyproject.toml``. A file with no such folder above it (a
  scratch folder, a test's temporary folder) has **its own folder** as its project root: it
  reaches that folder and what is below it, nothing beside or above. The home folder and ``/``
  are never project roots, even with a marker (a dotfiles repository in ``~`` would otherwise
  put ``~/.ssh`` in reach of every spec below it); a file directly in either has none;
* the **package's own data**: the shipped specs, prompts and runtimes (also reachable from
  anywhere by an ``aira-dsl:`` reference, which is always allowed);
* every folder listed in :data:`ENV_VAR` (``AIRA_DSL_ALLOWED_ROOTS``, separated by ``os.pathsep``
  like ``PATH``): the escape hatch for shared prompt libraries or data kept outside the project.

The spec loader (``extends``), the compiler's prompt and sandbox-profile checks, task checks and
task loading, and the runtime's profile lookup all ask :func:`check_inside`, so the rule and its
message are the same everywhere.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

__all__ = [
    "ENV_VAR",
    "OUTSIDE_CODE",
    "PROJECT_MARKERS",
    "allowed_roots",
    "allowed_roots_of_folder",
    "check_inside",
    "env_roots",
    "is_inside",
    "outside_hint",
    "project_root",
    "realpath",
    "realpaths_fixed",
    "shipped_roots",
]

ENV_VAR = "AIRA_DSL_ALLOWED_ROOTS"
"""Extra allowed roots, ``os.pathsep``-separated (``/data/prompts:/srv/tasks``)."""
PROJECT_MARKERS = (".git", "pyproject.toml")
"""A folder holding one of these is a project root."""
OUTSIDE_CODE = "outside-allowed-roots"
"""The diagnostic code of every "this path leaves the allowed roots" finding."""


_FIXED: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("aira_dsl_realpaths", default=None)


@contextlib.contextmanager
def realpaths_fixed() -> Iterator[None]:
    """Within the block, each path's :func:`realpath` is worked out once.

    For a one-shot check of many files (``validate`` of a folder asks where every template of
    every spec resolves: a thousand ``realpath`` calls, a tenth of its CPU), during which the
    files do not move. Long-lived callers (the language server) never use it, so a link changed
    between two checks is always seen."""
    token = _FIXED.set(_FIXED.get() if _FIXED.get() is not None else {})
    try:
        yield
    finally:
        _FIXED.reset(token)


def realpath(path: str | os.PathLike[str]) -> str:
    """``os.path.realpath`` of the absolute path (memoised inside :func:`realpaths_fixed`)."""
    text = os.path.abspath(os.fspath(path))
    memo = _FIXED.get()
    if memo is None:
        return os.path.realpath(text)
    found = memo.get(text)
    if found is None:
        found = memo[text] = os.path.realpath(text)
    return found


def _real(path: str | os.PathLike[str]) -> Path:
    return Path(realpath(path))


def project_root(for_file: str | os.PathLike[str]) -> Path:
    """The project root of ``for_file`` (see the module docstring), symlinks resolved."""
    return _project_root_of(os.fspath(_real(Path(os.path.abspath(os.fspath(for_file))).parent)))


def _project_root_of(folder: str) -> Path:
    start = Path(folder)
    too_wide = _too_wide()
    for candidate in (start, *start.parents):
        if candidate in too_wide:  # a dotfiles repository in ~ (or a / holding pyproject.toml)
            break                  # must not put all of ~/.ssh within reach
        if any(os.path.lexists(candidate / marker) for marker in PROJECT_MARKERS):
            return candidate
    return start


def _too_wide() -> set[Path]:
    """Folders never taken as a project root: the file-system root and the home folder."""
    wide = {Path(os.path.abspath(os.sep))}
    home = os.path.expanduser("~")
    if home and home != "~":
        wide.add(_real(home))
    return wide


@functools.lru_cache(maxsize=1)
def shipped_roots() -> tuple[Path, ...]:
    """The package's data: its asset folder and the real folders its links point to (a checkout
    links ``aira_dsl/assets/prompts`` to the repository's ``prompts/``; a wheel holds copies)."""
    from aira_dsl.shipped import SHIPPED_DIR

    roots = [_real(SHIPPED_DIR), *(_real(SHIPPED_DIR / name) for name in ("specs", "prompts", "runtimes"))]
    return tuple(dict.fromkeys(roots))


def env_roots(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The folders listed in ``AIRA_DSL_ALLOWED_ROOTS`` (relative ones against the working folder)."""
    text = (os.environ if environ is None else environ).get(ENV_VAR, "")
    return tuple(dict.fromkeys(_real(Path(part).expanduser()) for part in text.split(os.pathsep) if part.strip()))


def allowed_roots_of_folder(folder: str | os.PathLike[str]) -> tuple[Path, ...]:
    """The allowed roots for paths named by something in ``folder`` (the command line: the
    working folder)."""
    return _with_project(_project_root_of(os.fspath(_real(folder))))


def allowed_roots(for_file: str | os.PathLike[str]) -> tuple[Path, ...]:
    """The allowed roots for paths that ``for_file`` names: its project root, the package's
    data, and ``AIRA_DSL_ALLOWED_ROOTS``."""
    return _with_project(project_root(for_file))


def _with_project(project: Path) -> tuple[Path, ...]:
    # A file directly in ~ or / has no project root at all: its own folder would be everything.
    own = () if project in _too_wide() else (project,)
    return tuple(dict.fromkeys((*own, *shipped_roots(), *env_roots())))


def is_inside(path: str | os.PathLike[str], roots: Iterable[Path]) -> bool:
    """Whether ``path``, symlinks resolved, is one of ``roots`` or below one (roots are real,
    absolute paths; compared as text, which ``realpath`` normalises: validate asks this for
    every template a folder of specs includes)."""
    real = realpath(path)
    for root in roots:
        text = os.fspath(root)
        if real == text or real.startswith(text if text.endswith(os.sep) else text + os.sep):
            return True
    return False


def check_inside(path: str | os.PathLike[str], roots: Iterable[Path]) -> str | None:
    """None when ``path`` resolves inside ``roots``; else why not, naming where it leads (never
    what the file holds)."""
    roots = list(roots)
    if is_inside(path, roots):
        return None
    real = _real(path)
    shown = os.fspath(path)
    leads = f"it resolves to {real}" if os.fspath(real) != os.path.normpath(os.path.abspath(shown)) \
        else f"it is {real}"
    return f"{leads}, outside the allowed roots ({_describe(roots)})"


def _describe(roots: list[Path]) -> str:
    shipped = set(shipped_roots())
    named = [str(root) for root in roots if root not in shipped]
    return ", ".join([*named, "the shipped files"]) if shipped & set(roots) else ", ".join(named)


def outside_hint(what: str = "paths") -> str:
    """What to do about a path outside the allowed roots."""
    return (f"{what} must stay inside the project (the nearest folder above holding .git or pyproject.toml, "
            f"else the file's own folder) or the shipped files (aira-dsl:...); to allow another folder, "
            f"list it in {ENV_VAR} (separated by '{os.pathsep}')")
