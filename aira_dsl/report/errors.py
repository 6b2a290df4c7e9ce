"""The one exception the report package raises for problems a user can fix.

A directory that is not a run, an unreadable journal, an unknown ``--by`` key or a missing
plotting library are user or environment errors: the CLI prints the message and the hint on
one screen and exits 2. Anything else escaping this package is a bug.
"""

from __future__ import annotations

__all__ = ["ReportError"]


class ReportError(Exception):
    """A run cannot be read or a report cannot be made, with a message that says why."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message)

    def render(self) -> str:
        """What the CLI prints: ``error: ...`` then ``hint: ...``."""
        lines = [f"error: {self.message}"]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)
