"""The user's private cache folder for data derived from text, kept between processes.

Parsed expression trees (:mod:`aira_dsl.expr.parser`), parsed template trees
(:mod:`aira_dsl.templates.environment`) and lark's parser tables live in
``$XDG_CACHE_HOME/aira-dsl`` (``~/.cache/aira-dsl``): a cold ``aira-dsl validate`` (a pre-commit
hook, an editor's save) then reads them instead of rebuilding them. Some of them are pickles,
so the folder is used only when it is the user's own (mode 0700, owned by this uid), never a
shared temporary folder; ``AIRA_DSL_NO_DERIVED_CACHE=1`` turns the tree caches off (lark's
tables, keyed by lark on the grammar itself, stay).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DISABLE_VAR", "cache_folder", "replace_cache_file"]

DISABLE_VAR = "AIRA_DSL_NO_DERIVED_CACHE"
"""Set (to anything) to neither read nor write the tree caches (the test suite does)."""


def cache_folder(*, tables: bool = False) -> Path | None:
    """The user's private aira-dsl cache folder (made 0700), or None when it cannot be used
    safely, or when the tree caches are turned off (``tables``: for lark's tables, which stay)."""
    if os.environ.get(DISABLE_VAR) and not tables:
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "aira-dsl")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if os.stat(folder).st_uid != os.getuid() or not os.access(folder, os.W_OK):
            return None
    except OSError:
        return None
    return Path(folder)


def replace_cache_file(file: Path, payload: bytes, stale_glob: str) -> bool:
    """Write ``payload`` as ``file`` atomically, readable by this user only (parallel processes
    may race; a failed write leaves no temporary file) and delete the files of other versions matching ``stale_glob``
    beside it. False when the folder could not be written: a cache is only an optimisation."""
    from aira_dsl.atomicfile import atomic_write

    try:
        atomic_write(file, payload, mode=0o600)  # pickles: this user's only
        for stale in file.parent.glob(stale_glob):
            if stale != file:
                stale.unlink(missing_ok=True)
    except OSError:
        return False
    return True
