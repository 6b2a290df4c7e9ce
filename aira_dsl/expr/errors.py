"""Errors of the expression language, positioned by character offsets into the source.

Expressions live inside YAML scalars, so this package knows nothing about files or lines: every
problem carries 0-based ``start``/``end`` offsets into the expression's own text, and the spec
layer maps them to ``file:line:col``. Keeping one error type for parse, check and limit
problems lets callers collect them all the same way.
"""

from __future__ import annotations

from typing import Any

from aira_dsl.diagnostics import Diagnostic, Severity

__all__ = [
    "ExprError",
    "ExprRuntimeError",
    "ExprSyntaxError",
]


class ExprError(Exception):
    """A problem in an expression's text: what, where (offsets), and how to fix it.

    ``code`` is a stable slug (``expr-syntax``, ``expr-unknown-name``, ``expr-type``,
    ``expr-arity``, ``expr-limit``, ``expr-result-type``, ``expr-redundant``); ``start`` and
    ``end`` are 0-based character offsets into the expression source (``end`` exclusive;
    ``start == end`` marks a point, e.g. the end of the input).
    """

    def __init__(self, code: str, message: str, start: int, end: int, hint: str | None = None,
                 severity: Severity = Severity.ERROR) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.start = start
        self.end = max(end, start)
        self.hint = hint
        self.severity = Severity(severity)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def _key(self) -> tuple[str, str, int, int, str | None, str]:
        return (self.code, self.message, self.start, self.end, self.hint, self.severity.value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExprError):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
                f"start={self.start}, end={self.end}, hint={self.hint!r}, "
                f"severity={self.severity.value!r})")

    def __str__(self) -> str:
        text = f"[{self.start}:{self.end}] {self.code}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form (for ``--format json`` output and tests)."""
        return {"code": self.code, "message": self.message, "start": self.start, "end": self.end,
                "hint": self.hint, "severity": self.severity.value}

    def to_diagnostic(self, *, file: str | None = None, line: int | None = None,
                      col: int | None = None, end_line: int | None = None,
                      end_col: int | None = None) -> Diagnostic:
        """This error as a :class:`Diagnostic`, at a position the caller has mapped."""
        return Diagnostic(code=self.code, message=self.message, severity=self.severity,
                          file=file, line=line, col=col, end_line=end_line, end_col=end_col,
                          hint=self.hint)


class ExprSyntaxError(ExprError):
    """Raised by :func:`aira_dsl.expr.parse` for text that is not an expression (or too big)."""


class ExprRuntimeError(Exception):
    """Raised by :func:`aira_dsl.expr.evaluate` when a value cannot be computed.

    Only what no checker can rule out lands here: a context value of the wrong type or missing,
    an arithmetic overflow, an AST nested beyond what the evaluator walks. Domain errors that a
    user can reasonably hit (division by zero, ``log`` of a non-positive number) give ``null``
    instead, as documented in docs/expressions.md.
    """

    def __init__(self, message: str, start: int = 0, end: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end
