"""Go to definition: ``extends`` to the base spec, prompt paths to templates, operator and model
references to where they are defined (in this spec or a base), includes to the fragment.

References are resolved the way the compiler resolves them: prompt files from the compiler's
own list of the spec's templates (so shipped and base-relative prompts land on the right file),
operators and models from the spec merged with its bases (whose positions keep pointing at the
file that wrote each entry), includes by the renderer's lookup rule.
"""

from __future__ import annotations

import os
from pathlib import Path

from lsprotocol import types

from aira_dsl import overlay
from aira_dsl.lsp.analysis import Analyzer, is_template
from aira_dsl.lsp.convert import TextLines, uri_of
from aira_dsl.lsp.jinjacursor import include_at
from aira_dsl.lsp.targets import prompt_operator
from aira_dsl.lsp.yamlcursor import cursor_at
from aira_dsl.spec.yamlpos import Span

__all__ = ["definition"]

_FILE_START = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))


def _file(analyzer: Analyzer, path: str | os.PathLike[str]) -> types.Location | None:
    found = analyzer.exists(os.fspath(path))
    return types.Location(uri=uri_of(os.path.abspath(path)), range=_FILE_START) if found else None


def _span_location(analyzer: Analyzer, span: Span | None, codec_lines: TextLines) -> types.Location | None:
    if span is None or span.line < 1:
        return None
    lines = TextLines(analyzer.text(overlay.key_of(span.file)) or "", codec_lines.codec)
    return types.Location(uri=uri_of(os.path.abspath(span.file)),
                          range=lines.range(span.line - 1, span.col - 1, span.line - 1,
                                            span.end_col - 1 if span.end_line == span.line else span.col))


def _include(analyzer: Analyzer, key: str, name: str) -> types.Location | None:
    """The fragment ``{% include name %}`` in template ``key`` loads: its folder first, then the
    nearest ``prompts/`` roots (``templates.store.resolve_name``'s rule)."""
    from aira_dsl.compiler.checks import find_prompt_roots

    folder = Path(key).parent
    candidates = [folder / name, *(Path(root).resolve() / name for root in find_prompt_roots(Path(key)))]
    for users in analyzer.template_users(key):
        candidates.extend(Path(root).resolve() / name for root in users[1].search_paths)
    for candidate in candidates:
        found = _file(analyzer, candidate)
        if found is not None:
            return found
    return None


def definition(analyzer: Analyzer, key: str, lines: TextLines, line: int, char: int) -> list[types.Location]:
    """Where the reference at (``line``, ``char``) of document ``key`` is defined (may be empty)."""
    current = lines.lines[line] if 0 <= line < len(lines.lines) else ""
    if is_template(key):
        name = include_at(current, char)
        found = _include(analyzer, key, name) if name else None
        return [found] if found else []
    cursor = cursor_at("\n".join(lines.lines), line, char)
    if cursor.on_key or cursor.in_block or not cursor.value:
        return []
    path, value = cursor.path, cursor.value
    folder = Path(analyzer.path(key)).parent
    if path == ("extends",):
        found = _file(analyzer, os.path.normpath(folder / value))
        return [found] if found else []
    context = analyzer.context(key)
    if prompt_operator(path) is not None:
        for ref in context.templates if context is not None else []:
            if ref.spec_path == path and ref.path is not None:
                found = _file(analyzer, ref.path)
                return [found] if found else []
        found = _file(analyzer, os.path.normpath(folder / value)) if value.endswith(".j2") else None
        return [found] if found else []
    if context is None:
        return []
    if len(path) == 3 and path[:2] == ("policy", "use"):
        found = _span_location(analyzer, context.doc.key_spans.get(("operators", value)), lines)
        return [found] if found else []
    if len(path) == 3 and path[0] == "operators" and path[2] == "model":
        found = _span_location(analyzer, context.doc.key_spans.get(("models", value)), lines)
        return [found] if found else []
    return []
