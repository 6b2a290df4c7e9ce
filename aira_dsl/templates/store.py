"""Where template names point: files under search roots, or an in-memory mapping from a plan.

Templates refer to each other by relative names (``{% include "_memory.j2" %}``). The same
lookup rule must hold when the compiler reads files and when the runtime renders from the
sources embedded in a plan, or a plan would render differently from the files it came from.
This module owns that rule: a name is looked up first in the including template's folder, then
as given, against each root in order. Names are POSIX-style, relative, without ``..``.
"""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aira_dsl.overlay import is_file, overlay_text
from aira_dsl.roots import realpath

__all__ = [
    "FileStore",
    "MemoryStore",
    "TemplateSource",
    "TemplateStore",
    "is_valid_name",
    "resolve_name",
    "template_name",
]


@dataclass(frozen=True)
class TemplateSource:
    """A template's text, its stable name and the file (or name) diagnostics should show."""

    name: str
    text: str
    file: str


def is_valid_name(name: str) -> bool:
    """Whether ``name`` is a relative POSIX path without ``..``, empty parts or backslashes."""
    if not name or name.startswith("/") or "\\" in name or "\x00" in name:
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


class TemplateStore(ABC):
    """Looks templates up by stable name."""

    @abstractmethod
    def get(self, name: str) -> TemplateSource | None:
        """The template called ``name``, or ``None`` when there is none."""

    @abstractmethod
    def searched(self, name: str) -> list[str]:
        """Where ``name`` was looked for, for "not found" hints."""

    @abstractmethod
    def loaded_files(self) -> list[str]:
        """The ``file`` of every template handed out so far (to map tracebacks back to files)."""

    def exists(self, name: str) -> bool:
        return self.get(name) is not None


def resolve_name(store: TemplateStore, name: str, parent: str | None) -> str:
    """The stable name ``name`` refers to when used inside template ``parent``.

    The including template's folder wins over the roots, so a variant folder can override a
    shared fragment by placing a file of the same name next to its templates.
    """
    if parent and is_valid_name(name):
        folder = posixpath.dirname(parent)
        if folder:
            candidate = f"{folder}/{name}"
            if store.exists(candidate):
                return candidate
    return name


class FileStore(TemplateStore):
    """Templates read from files under ``roots``; ``pinned`` maps names to files outside them."""

    def __init__(self, roots: Sequence[Path], pinned: Mapping[str, Path] | None = None):
        self.roots = [Path(root) for root in roots]
        self.pinned = dict(pinned or {})
        self._cache: dict[str, TemplateSource | None] = {}

    def path_of(self, name: str) -> Path | None:
        """The file ``name`` resolves to, or ``None``."""
        if name in self.pinned:
            return self.pinned[name]
        if not is_valid_name(name):
            return None
        for root in self.roots:
            candidate = root.joinpath(*name.split("/"))
            if is_file(candidate):
                return candidate
        return None

    def get(self, name: str) -> TemplateSource | None:
        if name not in self._cache:
            path = self.path_of(name)
            source = None
            if path is not None:
                try:
                    text = overlay_text(path)  # an editor's unsaved text wins over the disk
                    source = TemplateSource(name, text if text is not None else path.read_text(encoding="utf-8"),
                                            str(path))
                except (OSError, UnicodeDecodeError):
                    source = None
            self._cache[name] = source
        return self._cache[name]

    def loaded_files(self) -> list[str]:
        return [source.file for source in self._cache.values() if source is not None]

    def searched(self, name: str) -> list[str]:
        if not is_valid_name(name):
            return []
        return [str(root.joinpath(*name.split("/"))) for root in self.roots]


class MemoryStore(TemplateStore):
    """Templates held in a mapping (a plan's embedded sources); file names are the stable names."""

    def __init__(self, sources: Mapping[str, str]):
        self.sources = dict(sources)

    def get(self, name: str) -> TemplateSource | None:
        text = self.sources.get(name)
        return None if text is None else TemplateSource(name, text, name)

    def loaded_files(self) -> list[str]:
        return list(self.sources)

    def searched(self, name: str) -> list[str]:
        return [f"{name} (among {len(self.sources)} embedded sources)"]


def template_name(path: Path, search_paths: Sequence[Path]) -> tuple[str, list[Path]]:
    """The stable name of the template at ``path`` and the roots to resolve its includes against.

    A template under a search path is named relative to the first one that holds it
    (``aira/draft.j2``). One outside every search path (a spec's private prompt) is named by its
    file name, and its folder becomes the first root so its sibling fragments are found first.
    """
    resolved = Path(realpath(path))
    for root in search_paths:
        try:
            relative = resolved.relative_to(realpath(root))
        except ValueError:
            continue
        return relative.as_posix(), [Path(r) for r in search_paths]
    return path.name, [path.parent, *(Path(r) for r in search_paths)]
