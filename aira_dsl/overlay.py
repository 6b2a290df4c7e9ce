"""Unsaved editor text that file reads see instead of the disk: the language server's seam.

An editor checks what the user is typing, not what was last saved. Rather than write temporary
files (which other tools would see, and whose paths would leak into diagnostics), the language
server installs an :class:`Overlay` of open documents for the duration of one check; the few
places that read spec-like files and templates (``spec.yamlpos.read_text_file`` and its cache
key, ``templates.store.FileStore``, the compiler's template-check cache) ask this module first.

An overlay also records every file a check consulted (:attr:`Overlay.touched`), read or only
looked up, so the server knows which checks an edit of a file can change: its dependency graph
comes for free and cannot drift from what the checks really read.

With no overlay installed (the command line), every function here costs one context-variable
lookup on top of the plain ``os`` call.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = ["Overlay", "file_identity", "is_file", "key_of", "overlay_text", "using"]


def key_of(path: str | os.PathLike[str]) -> str:
    """The key an overlay files a path under: absolute, symlinks resolved."""
    return os.path.realpath(os.fspath(path))


@dataclass
class Overlay:
    """Texts by :func:`key_of` path, and the paths consulted while it was installed."""

    texts: Mapping[str, str]
    touched: set[str] = field(default_factory=set)

    def lookup(self, path: str | os.PathLike[str]) -> str | None:
        key = key_of(path)
        self.touched.add(key)
        return self.texts.get(key)


_CURRENT: ContextVar[Overlay | None] = ContextVar("aira_dsl_overlay", default=None)


@contextmanager
def using(texts: Mapping[str, str]) -> Iterator[Overlay]:
    """Install an overlay of ``texts`` (keys made by :func:`key_of`) for the ``with`` block."""
    overlay = Overlay(texts)
    token = _CURRENT.set(overlay)
    try:
        yield overlay
    finally:
        _CURRENT.reset(token)


def overlay_text(path: str | os.PathLike[str]) -> str | None:
    """The editor's text for ``path`` when an overlay holds it, else None (read the disk)."""
    overlay = _CURRENT.get()
    return None if overlay is None else overlay.lookup(path)


def is_file(path: str | os.PathLike[str]) -> bool:
    """``os.path.isfile``, true also for a document open in the editor but not saved yet."""
    return overlay_text(path) is not None or os.path.isfile(path)


def file_identity(path: str | os.PathLike[str]) -> tuple[object, ...]:
    """What changes whenever the content of ``path`` may have: (size, mtime) on disk, or the
    overlay's text itself; ``OSError`` as ``os.stat`` raises it for a missing file.

    Caches keyed by this stay correct when the editor's text differs from the saved file.
    """
    text = overlay_text(path)
    if text is not None:
        return ("overlay", text)
    stat = os.stat(path)
    return (stat.st_size, stat.st_mtime_ns)
