"""The exception the sweep package raises for problems a user can fix.

A sweep file with errors carries its diagnostics (positioned in the YAML, exit 1); an
environment problem (a missing extra, an unreachable cluster, a folder that holds another
sweep) is one message and a hint (exit 2). Anything else escaping this package is a bug.
"""

from __future__ import annotations

from aira_dsl.diagnostics import EXIT_FINDINGS, EXIT_USAGE, Diagnostic

__all__ = ["SweepError"]


class SweepError(Exception):
    """A sweep cannot be loaded, launched or read, with what to do about it."""

    def __init__(self, message: str, hint: str | None = None, *, diagnostics: list[Diagnostic] | None = None,
                 exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.diagnostics = list(diagnostics or [])
        self.exit_code = exit_code if exit_code is not None else (EXIT_FINDINGS if self.diagnostics else EXIT_USAGE)

    def render(self) -> str:
        """``error: ...`` and ``hint: ...`` lines (diagnostics are rendered by the caller)."""
        lines = [f"error: {self.message}"]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)
