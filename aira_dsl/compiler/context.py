"""State shared by the compiler passes: the positioned document, the typed spec, findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from aira_dsl.diagnostics import Diagnostic, Diagnostics, Severity
from aira_dsl.spec.loader import LoadedSpec
from aira_dsl.spec.model import AgentSpec
from aira_dsl.spec.yamlpos import Path, YamlDocument

__all__ = ["CompileContext", "TemplateRef"]


@dataclass(frozen=True)
class TemplateRef:
    """A resolved prompt part: a template file, or inline text positioned in the spec."""

    operator: str
    role: str  # "system" | "user"
    path: FsPath | None
    inline: str | None
    spec_path: Path  # where in the spec it was written
    search_paths: list[FsPath] = field(default_factory=list)
    """Roots that includes resolve against (the nearest ``prompts/`` folder)."""


@dataclass
class CompileContext:
    """What the passes read and fill, in order: loaded → spec → checked parts → plan."""

    loaded: LoadedSpec
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    spec: AgentSpec | None = None
    expressions: dict[Path, Any] = field(default_factory=dict)
    """Checked expression ASTs by the spec path that wrote them."""
    templates: list[TemplateRef] = field(default_factory=list)
    stop: bool = False
    """Set by a pass after which further checks would only cascade."""
    removed: set[Path] = field(default_factory=set)
    """Spec paths the JSON Schema refused, taken out before the semantic passes ran
    (:mod:`aira_dsl.compiler.repair`): passes skip relations involving them."""

    def refused(self, *prefix: str | int) -> bool:
        """Whether the schema refused something at, under or above ``prefix``."""
        from aira_dsl.compiler.repair import touches

        return bool(self.removed) and touches(self.removed, *prefix)

    @property
    def doc(self) -> YamlDocument:
        return self.loaded.document

    def error(self, code: str, message: str, path: Path = (), hint: str | None = None,
              on_key: bool = False) -> None:
        self.diagnostics.add(self.doc.diagnostic(code, message, path, hint=hint, on_key=on_key))

    def warning(self, code: str, message: str, path: Path = (), hint: str | None = None,
                on_key: bool = False) -> None:
        self.diagnostics.add(self.doc.diagnostic(code, message, path, hint=hint,
                                                 severity=Severity.WARNING, on_key=on_key))

    def add(self, diagnostic: Diagnostic) -> None:
        self.diagnostics.add(diagnostic)

    def file_of(self, path: Path) -> str:
        """The file that wrote the value at ``path`` (a base spec for inherited values)."""
        span = self.doc.span(path)
        return span.file if span else self.loaded.path
