"""The one exception the tasks package raises for problems a user can fix.

Callers (the CLI, the runtime) catch :class:`TaskError` and print its message and hint on
one screen; the CLI maps it to exit code 2. Anything else escaping this package is a bug.
"""

from __future__ import annotations

from collections.abc import Iterable

from aira_dsl.diagnostics import Diagnostic

__all__ = ["TaskError"]


class TaskError(Exception):
    """A task cannot be loaded, prepared or graded, with a message that says why.

    ``hint`` says what to do about it; ``diagnostics`` carries positioned findings when the
    cause is a malformed ``task.yaml`` (so a caller can render them with snippets).
    """

    def __init__(self, message: str, hint: str | None = None,
                 diagnostics: Iterable[Diagnostic] = ()) -> None:
        self.message = message
        self.hint = hint
        self.diagnostics = list(diagnostics)
        super().__init__(message)

    def render(self) -> str:
        """The message, each positioned finding, then the hint: what the CLI prints."""
        lines = [f"error: {self.message}"]
        for diag in self.diagnostics:
            if diag.is_error:
                lines.append(f"  {diag.location()}: {diag.message} [{diag.code}]")
                if diag.hint:
                    lines.append(f"    hint: {diag.hint}")
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)
