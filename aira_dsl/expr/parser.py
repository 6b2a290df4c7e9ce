"""Text to AST: the entry point, with the trees of text parsed before kept between processes.

:func:`parse` returns the untyped AST of an expression. The parsing itself is lark's LALR
parser (:mod:`.lalr`), whose import and tables cost about 40 ms of CPU per process: most of
what a cold ``aira-dsl validate`` of a folder of specs (a pre-commit hook, an editor's save)
spends on expressions, which are few and repeated. So the tree of every text parsed before is
kept in the user's cache folder (:mod:`aira_dsl.usercache`) as JSON, in the form
plans store (:mod:`.serialize`, read back through its validation and size limits), in a file
named by a checksum of the grammar and of every module that shapes a tree: a change to any of
them starts a new file. Text that does not parse is never cached (its message comes from the
parser), and nothing is cached when the folder is not the user's own. Within a process trees
are cached by text too (they are immutable).
"""

from __future__ import annotations

import atexit
import functools
import json
import zlib
from pathlib import Path
from typing import Any

from aira_dsl.expr.ast import Expr
from aira_dsl.expr.errors import ExprSyntaxError
from aira_dsl.usercache import cache_folder, replace_cache_file

__all__ = ["GRAMMAR_PATH", "parse"]

GRAMMAR_PATH = Path(__file__).with_name("grammar.lark")

_TREE_SOURCES = ("expr/grammar.lark", "expr/lalr.py", "expr/ast.py", "expr/serialize.py", "expr/limits.py",
                 "expr/types.py", "settings/fields.py")
"""Files whose content decides the tree of a text (durations are read by settings/fields.py)."""
_MAX_ENTRIES = 1024
_FORMAT = 1


class _TreeStore:
    """Trees by text, loaded from the cache file on first use and written back at exit."""

    def __init__(self) -> None:
        self.file: Path | None = None
        self.entries: dict[str, Any] | None = None
        self.added: dict[str, Any] = {}

    def _open(self) -> dict[str, Any]:
        if self.entries is None:
            self.entries = {}
            folder = cache_folder()
            if folder is not None:
                self.file = folder / f"expr-trees-{_stamp():08x}.json"
                self.entries = _read(self.file)
                atexit.register(self.save)
        return self.entries

    def get(self, source: str) -> Expr | None:
        data = self._open().get(source)
        if data is None:
            return None
        from aira_dsl.expr.serialize import from_json

        try:
            return from_json(data)
        except (ValueError, TypeError, KeyError, RecursionError):
            return None  # a damaged entry: parse the text again

    def put(self, source: str, expr: Expr) -> None:
        entries = self._open()
        if self.file is None or len(self.added) >= _MAX_ENTRIES:
            return
        from aira_dsl.expr.serialize import to_json

        entries[source] = self.added[source] = to_json(expr)

    def save(self) -> None:
        """Merge this process's new trees into the file (atomically: parallel hooks may race),
        keeping the newest :data:`_MAX_ENTRIES` (the file is read by every process)."""
        if self.file is None or not self.added:
            return
        old = _read(self.file)
        merged = {**{k: v for k, v in old.items() if k not in self.added}, **self.added}
        if len(merged) > _MAX_ENTRIES:
            merged = dict(list(merged.items())[-_MAX_ENTRIES:])
        payload = json.dumps({"format": _FORMAT, "trees": merged}, ensure_ascii=False, separators=(",", ":"))
        if replace_cache_file(self.file, payload.encode("utf-8"), "expr-trees-*.json"):
            self.added = {}


def _read(file: Path) -> dict[str, Any]:
    try:
        with file.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    trees = data.get("trees") if isinstance(data, dict) and data.get("format") == _FORMAT else None
    return trees if isinstance(trees, dict) else {}


@functools.cache
def _stamp() -> int:
    """A checksum of the grammar and the code that builds trees (CRC-32: it tells versions apart,
    it does not defend against anyone; the folder's permissions do that)."""
    package = Path(__file__).resolve().parents[1]
    checksum = _FORMAT
    for name in _TREE_SOURCES:
        try:
            checksum = zlib.crc32((package / name).read_bytes(), checksum)
        except OSError:
            checksum = zlib.crc32(name.encode(), checksum)
    return checksum


_STORE = _TreeStore()


def parse(source: str) -> Expr:
    """Parse expression text into an untyped AST.

    Raises :class:`ExprSyntaxError` (codes ``expr-syntax`` or ``expr-limit``) with offsets
    into ``source``; never any other exception for string input.
    """
    if not isinstance(source, str):
        raise ExprSyntaxError("expr-syntax", f"an expression must be text, not {type(source).__name__}",
                              0, 0)
    return _parse_cached(source)


@functools.lru_cache(maxsize=4096)
def _parse_cached(source: str) -> Expr:
    expr = _STORE.get(source)
    if expr is None:
        from aira_dsl.expr.lalr import parse_text  # lark: only for text not parsed before

        expr = parse_text(source)
        _STORE.put(source, expr)
    return expr
