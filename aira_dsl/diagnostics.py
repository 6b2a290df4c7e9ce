"""One diagnostic type for every stage, a collector, and three renderers.

Every check in aira-dsl (YAML loading, schema, expressions, templates, semantic passes, tasks,
profiles) reports problems as :class:`Diagnostic` values instead of raising at the first one,
so a user sees every problem of a file in one run. Positions are 1-based (line and column), as
editors and ``path:line:col`` links expect.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, TextIO

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_OK",
    "EXIT_USAGE",
    "Diagnostic",
    "DiagnosticError",
    "Diagnostics",
    "Severity",
    "json_text",
    "printable",
    "render",
    "render_github",
    "render_json",
    "render_text",
]

EXIT_OK = 0
"""Exit code: no errors (warnings allowed)."""
EXIT_FINDINGS = 1
"""Exit code: the inputs have errors (diagnostics were printed)."""
EXIT_USAGE = 2
"""Exit code: usage or environment error (bad arguments, missing files, unreachable services)."""


class Severity(StrEnum):
    """How bad a finding is; only ``error`` makes a command fail."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Diagnostic:
    """A problem found in an input, with where it is and how to fix it.

    ``code`` is a short stable slug (``unknown-key``, ``expr-type``...) users can grep for and
    tests can assert on; ``message`` says what is wrong, ``hint`` how to fix it.
    """

    code: str
    message: str
    severity: Severity = Severity.ERROR
    file: str | None = None
    line: int | None = None
    col: int | None = None
    end_line: int | None = None
    end_col: int | None = None
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def at(self, file: str | None, line: int | None, col: int | None,
           end_line: int | None = None, end_col: int | None = None) -> Diagnostic:
        """A copy positioned at ``file:line:col``."""
        return replace(self, file=file, line=line, col=col, end_line=end_line, end_col=end_col)

    def location(self) -> str:
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        return data

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file or "", self.line or 0, self.col or 0, self.code)


class DiagnosticError(Exception):
    """Raised where a stage cannot go on; carries the diagnostics that explain why."""

    def __init__(self, diagnostics: Iterable[Diagnostic] | Diagnostic):
        diags = [diagnostics] if isinstance(diagnostics, Diagnostic) else list(diagnostics)
        self.diagnostics = diags
        super().__init__("; ".join(f"{d.location()}: {d.message}" for d in diags))


@dataclass
class Diagnostics:
    """An ordered collection of diagnostics, filled by passes and read by renderers."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def error(self, code: str, message: str, **where: Any) -> None:
        self.items.append(Diagnostic(code, message, Severity.ERROR, **where))

    def warning(self, code: str, message: str, **where: Any) -> None:
        self.items.append(Diagnostic(code, message, Severity.WARNING, **where))

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.is_error]

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        # Stable de-duplication: the same finding reached through two paths is shown once.
        seen: set[Diagnostic] = set()
        unique = []
        for d in self.items:
            if d not in seen:
                seen.add(d)
                unique.append(d)
        return sorted(unique, key=Diagnostic.sort_key)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


# --------------------------------------------------------------------------------------------
# Rendering


def _use_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


_COLORS = {"error": "\033[1;31m", "warning": "\033[1;33m", "info": "\033[1;36m",
           "bold": "\033[1m", "dim": "\033[2m", "caret": "\033[1;32m", "reset": "\033[0m"}


def _source_line(diag: Diagnostic, sources: dict[str, str] | None) -> str | None:
    if diag.file is None or diag.line is None:
        return None
    text = sources.get(diag.file) if sources else None
    if text is None:
        try:
            with open(diag.file, encoding="utf-8", errors="replace") as handle:
                for number, line in enumerate(handle, start=1):
                    if number == diag.line:
                        return line.rstrip("\r\n")
        except OSError:
            return None
        return None
    lines = text.splitlines()
    return lines[diag.line - 1] if 0 < diag.line <= len(lines) else None


def render_text(diagnostics: Iterable[Diagnostic], sources: dict[str, str] | None = None,
                color: bool = False) -> str:
    """actionlint-style text: ``path:line:col: error: message [code]``, snippet, caret, hint."""

    def paint(name: str, text: str) -> str:
        return f"{_COLORS[name]}{text}{_COLORS['reset']}" if color else text

    out: list[str] = []
    for diag in diagnostics:
        sev = diag.severity.value
        where = f"{paint('bold', diag.location())}: " if diag.file else ""
        out.append(f"{where}{paint(sev, sev)}: {diag.message} {paint('dim', '[' + diag.code + ']')}")
        line = _source_line(diag, sources)
        if line is not None and diag.line is not None:
            gutter = f"{diag.line:>4} | "
            shown = line if len(line) <= 200 else line[:200] + "…"
            out.append(gutter + shown)
            if diag.col is not None and diag.col - 1 <= len(shown):
                width = 1
                if diag.end_line == diag.line and diag.end_col and diag.end_col > diag.col:
                    width = min(diag.end_col - diag.col, max(1, len(shown) - diag.col + 1))
                pad = "".join(c if c == "\t" else " " for c in shown[: diag.col - 1])
                out.append(" " * (len(gutter) - 2) + "| " + pad + paint("caret", "^" + "~" * (width - 1)))
        if diag.hint:
            out.append(f"  hint: {diag.hint}")
    return "\n".join(out) + ("\n" if out else "")


_SURROGATE = re.compile("[\ud800-\udfff]")


def json_text(data: Any) -> str:
    """``data`` as indented JSON text (newline-terminated) that is valid UTF-8 whatever it holds.

    File names on disk (a folder ``validate`` walks, files a sandboxed script made) may be bytes
    that are no UTF-8; Python holds them as lone surrogates (PEP 383), which written as they are
    make the output invalid UTF-8 or raise. Each becomes U+FFFD, the replacement character, so
    a tool reading ``--format json`` always gets JSON text."""
    return printable(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def printable(text: str) -> str:
    """``text`` with every lone surrogate (an undecodable byte of a file name) as U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    return json_text([d.to_dict() for d in diagnostics])


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(diagnostics: Iterable[Diagnostic]) -> str:
    """GitHub Actions workflow commands (``::error file=..,line=..::message``)."""
    out = []
    for diag in diagnostics:
        kind = {"error": "error", "warning": "warning", "info": "notice"}[diag.severity.value]
        props = []
        if diag.file:
            props.append(f"file={_gh_escape(diag.file, True)}")
        if diag.line is not None:
            props.append(f"line={diag.line}")
        if diag.col is not None:
            props.append(f"col={diag.col}")
        if diag.end_line is not None:
            props.append(f"endLine={diag.end_line}")
        if diag.end_col is not None:
            props.append(f"endColumn={diag.end_col}")
        props.append(f"title={_gh_escape(diag.code, True)}")
        message = diag.message + (f"\nhint: {diag.hint}" if diag.hint else "")
        out.append(f"::{kind} {','.join(props)}::{_gh_escape(message)}")
    return "\n".join(out) + ("\n" if out else "")


def render(diagnostics: Iterable[Diagnostic], fmt: str = "text", stream: TextIO | None = None,
           sources: dict[str, str] | None = None) -> str:
    """Render in ``text``, ``json`` or ``github`` format; colour only for a TTY without NO_COLOR."""
    stream = stream or sys.stderr
    diags = list(diagnostics)
    if fmt == "json":
        return render_json(diags)
    if fmt == "github":
        return render_github(diags)
    return render_text(diags, sources, color=_use_color(stream))
