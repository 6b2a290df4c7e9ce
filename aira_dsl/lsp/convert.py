"""aira-dsl diagnostics as LSP diagnostics: 0-based ranges in the client's units, related files.

aira-dsl positions are 1-based lines and columns counted in characters; LSP positions are
0-based and, by default, count UTF-16 code units, so every position goes through the
position codec pygls negotiated with the client. A finding located in another file (a base
spec, a template fragment) is shown in the checked document at the place that pulls that file
in (see :meth:`Analyzer._anchors <aira_dsl.lsp.analysis.Analyzer>`) with ``relatedInformation``
pointing at its real location, so a click takes the user there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from lsprotocol import types
from pygls.uris import from_fs_path
from pygls.workspace.position_codec import PositionCodec

from aira_dsl.diagnostics import Diagnostic, Severity
from aira_dsl.lsp.analysis import Analyzer, is_template, is_yaml
from aira_dsl.overlay import key_of

__all__ = ["TextLines", "document_diagnostics", "to_lsp"]

_SEVERITY = {Severity.ERROR: types.DiagnosticSeverity.Error, Severity.WARNING: types.DiagnosticSeverity.Warning,
             Severity.INFO: types.DiagnosticSeverity.Information}
_TOKEN = re.compile(r"[\w\-]+")


def uri_of(path: str) -> str:
    return from_fs_path(path) or f"file://{path}"


class TextLines:
    """A document's lines and the client's position units: conversions both ways."""

    def __init__(self, text: str, codec: PositionCodec):
        self.lines = text.replace("\r\n", "\n").split("\n")
        self.codec = codec

    def position(self, line: int, char: int) -> types.Position:
        line = max(0, min(line, len(self.lines) - 1))
        char = max(0, min(char, len(self.lines[line])))
        return self.codec.position_to_client_units(self.lines, types.Position(line=line, character=char))

    def range(self, line: int, start: int, end_line: int, end: int) -> types.Range:
        return types.Range(start=self.position(line, start), end=self.position(end_line, end))

    def server_position(self, position: types.Position) -> tuple[int, int]:
        """A client position as (line, character in code points)."""
        if not 0 <= position.line < len(self.lines):
            return (max(0, min(position.line, len(self.lines) - 1)), 0)
        found = self.codec.position_from_client_units(
            self.lines, types.Position(line=position.line, character=position.character))
        return (found.line, found.character)

    def span_of(self, diagnostic: Diagnostic) -> types.Range:
        """The range a finding covers: its span on its first line, else the token at its column,
        else the line's text."""
        if diagnostic.line is None:
            return self.range(0, 0, 0, len(self.lines[0]))
        line = max(0, min(diagnostic.line - 1, len(self.lines) - 1))
        text = self.lines[line]
        if diagnostic.col is None:
            return self.range(line, len(text) - len(text.lstrip()), line, len(text.rstrip()))
        start = max(0, min(diagnostic.col - 1, len(text)))
        end_line, end = line, start
        if diagnostic.end_line is not None and diagnostic.end_col is not None:
            end_line, end = diagnostic.end_line - 1, diagnostic.end_col - 1
            if end_line > line:  # a block's span: underline its first line only
                end_line, end = line, len(text.rstrip())
        if (end_line, end) <= (line, start):
            match = _TOKEN.match(text, start)
            end_line, end = line, match.end() if match else min(start + 1, len(text))
        return self.range(line, start, end_line, end)


def to_lsp(diagnostic: Diagnostic, where: types.Range, message: str | None = None,
           related: list[types.DiagnosticRelatedInformation] | None = None) -> types.Diagnostic:
    text = message or diagnostic.message
    if diagnostic.hint:
        text += f"\nhint: {diagnostic.hint}"
    return types.Diagnostic(range=where, message=text, severity=_SEVERITY[diagnostic.severity],
                            code=diagnostic.code, source="aira-dsl", related_information=related or None,
                            data={"hint": diagnostic.hint} if diagnostic.hint else None)


def document_diagnostics(analyzer: Analyzer, key: str, codec: PositionCodec,
                         text_of: Callable[[str], str | None] | None = None) -> list[types.Diagnostic]:
    """Everything to publish for open document ``key`` after its (or a dependency's) check."""
    read = text_of or analyzer.text
    lines = TextLines(read(key) or "", codec)
    if is_template(key):
        return [to_lsp(d, lines.span_of(d)) for d in analyzer.template_diagnostics(key)]
    result = analyzer.result(key)
    if result is None or not is_yaml(key):
        return []
    published: list[types.Diagnostic] = []
    others: dict[str, TextLines] = {}
    for diagnostic in result.diagnostics:
        file_key = key_of(diagnostic.file) if diagnostic.file else key
        if file_key == key:
            published.append(to_lsp(diagnostic, lines.span_of(diagnostic)))
            continue
        if file_key not in others:
            others[file_key] = TextLines(read(file_key) or "", codec)
        anchor = result.anchors.get(file_key)
        where = (lines.range(anchor[0] - 1, anchor[1] - 1, (anchor[2] or anchor[0]) - 1,
                             (anchor[3] or anchor[1] + 1) - 1) if anchor else lines.range(0, 0, 0, len(lines.lines[0])))
        shown = os.path.relpath(file_key, os.path.dirname(key))
        location = f"{shown}:{diagnostic.line}" if diagnostic.line else shown
        related = [types.DiagnosticRelatedInformation(
            location=types.Location(uri=uri_of(file_key), range=others[file_key].span_of(diagnostic)),
            message=diagnostic.message)]
        published.append(to_lsp(diagnostic, where, f"{location}: {diagnostic.message}", related))
    return published
