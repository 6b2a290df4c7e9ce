"""Where sandbox profiles are looked up, and which profile paths a spec or plan may name.

A foundation module (it knows files, not sandboxes) so the compiler can check the profile a spec
names without importing the sandbox layer, and the sandbox loads profiles by the same rule.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from aira_dsl.shipped import shipped_path

__all__ = ["default_search_dirs", "is_profile_path", "profile_path_problem"]


def default_search_dirs() -> list[Path]:
    """``./runtimes`` of the working directory, then the ``runtimes/`` shipped next to the package."""
    shipped = shipped_path("runtimes")
    dirs = [Path.cwd() / "runtimes", shipped]
    return list(dict.fromkeys(d.resolve() for d in dirs))


def is_profile_path(name: str) -> bool:
    """Whether a sandbox value names a profile file by path rather than by name."""
    return "/" in name or name.endswith((".yaml", ".yml"))


def profile_path_problem(path: Path, search_dirs: Sequence[Path], for_file: Path | None = None) -> str | None:
    """None when a profile named by path lies on the profile search path: the search folders
    (``./runtimes``, the shipped ones) or the allowed roots (:mod:`aira_dsl.roots`) of ``for_file``
    (the spec naming it; default: the working folder). Else why not.

    A plan or spec is data that may come from elsewhere: naming ``../../../../etc/passwd`` as its
    profile must not make the host read (and print, in a diagnostic) an arbitrary file."""
    from aira_dsl.roots import allowed_roots, allowed_roots_of_folder, check_inside

    roots = allowed_roots(for_file) if for_file is not None else allowed_roots_of_folder(Path.cwd())
    real_dirs = [Path(os.path.realpath(d)) for d in search_dirs]
    return check_inside(path, [*real_dirs, *roots])
