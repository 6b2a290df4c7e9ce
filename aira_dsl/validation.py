"""``validate`` over files and folders: recognise each YAML file's kind and run its checks.

Agent specs, task definitions (``task.yaml``), sandbox profiles (``runtimes/*.yaml``) and
sweep files are all checked by one command. Kinds are recognised by content (and a few file
names), so users can point ``aira-dsl validate`` at any folder of their repository.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aira_dsl.diagnostics import Diagnostic, Severity
from aira_dsl.spec.yamlpos import load_yaml_file

__all__ = ["DocumentKind", "FileReport", "collect_files", "detect_kind", "register_kind", "validate_paths"]

YAML_SUFFIXES = (".yaml", ".yml")
_SKIP_DIRS = {".git", "__pycache__", "node_modules", ".venv", "venv", ".tox", "runs", "__snapshots__"}


@dataclass(frozen=True)
class DocumentKind:
    """A kind of YAML document that ``validate`` knows how to check."""

    name: str
    detect: Callable[[Path, object], bool]
    """Given the path and the parsed data (or None), whether this file is of this kind."""
    check: Callable[[Path, str], list[Diagnostic]]
    """Given the path and its display name, every diagnostic for it."""


_KINDS: list[DocumentKind] = []


def register_kind(kind: DocumentKind) -> None:
    """Add a document kind; earlier registrations win when several match."""
    _KINDS[:] = [k for k in _KINDS if k.name != kind.name] + [kind]


def _is_spec(path: Path, data: object) -> bool:
    return isinstance(data, dict) and "version" in data and bool(
        {"operators", "policy", "models", "extends", "abstract"} & set(data))


def _check_spec(path: Path, display: str) -> list[Diagnostic]:
    from aira_dsl.compiler import check_spec

    return check_spec(display).diagnostics.sorted()


def _is_task(path: Path, data: object) -> bool:
    from aira_dsl.tasks import is_task_document

    return path.name in ("task.yaml", "task.yml") or is_task_document(data)


def _check_task(path: Path, display: str) -> list[Diagnostic]:
    from aira_dsl.tasks import check_task_dir

    return check_task_dir(Path(display))


def _is_profile(path: Path, data: object) -> bool:
    return isinstance(data, dict) and "backend" in data and "operators" not in data


def _check_profile(path: Path, display: str) -> list[Diagnostic]:
    from aira_dsl.sandbox import check_profile_file

    return check_profile_file(Path(display))


def _is_plan(path: Path, data: object) -> bool:
    return isinstance(data, dict) and "plan_version" in data and "plan_hash" in data


def _check_plan(path: Path, display: str) -> list[Diagnostic]:
    from aira_dsl.diagnostics import DiagnosticError
    from aira_dsl.plan import load_plan

    try:
        load_plan(path, display)
    except DiagnosticError as exc:
        return list(exc.diagnostics)
    return []


register_kind(DocumentKind("plan", _is_plan, _check_plan))
def _is_sweep(path: Path, data: object) -> bool:
    from aira_dsl.sweep.load import is_sweep_document

    return is_sweep_document(data)


def _check_sweep(path: Path, display: str) -> list[Diagnostic]:
    from aira_dsl.sweep import check_sweep_file

    return check_sweep_file(Path(display), display)


register_kind(DocumentKind("spec", _is_spec, _check_spec))
register_kind(DocumentKind("task", _is_task, _check_task))
register_kind(DocumentKind("sandbox-profile", _is_profile, _check_profile))
register_kind(DocumentKind("sweep", _is_sweep, _check_sweep))


def _kinds_available() -> list[DocumentKind]:
    return list(_KINDS)


def detect_kind(path: Path, explicit: bool) -> DocumentKind | None:
    """The kind of a YAML file; an explicitly named file that matches nothing is a spec."""
    if path.is_dir() and (path / "task.yaml").is_file():
        return next(k for k in _KINDS if k.name == "task")
    doc = load_yaml_file(path, env_mode="off")
    for kind in _kinds_available():
        if kind.detect(path, doc.data):
            return kind
    if explicit:
        return next(k for k in _KINDS if k.name == "spec")
    return None


@dataclass
class FileReport:
    path: str
    kind: str | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(d.severity is Severity.ERROR for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        return sum(d.severity is Severity.WARNING for d in self.diagnostics)


def collect_files(target: Path) -> list[Path]:
    """YAML files under a folder, sorted, skipping VCS, caches and run outputs."""
    found: list[Path] = []
    for root, dirs, files in os.walk(target):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        found.extend(Path(root, f) for f in sorted(files) if f.endswith(YAML_SUFFIXES)
                     and not f.startswith("."))
    return found


def validate_paths(targets: Iterable[Path]) -> tuple[list[FileReport], list[str]]:
    """Check every file; returns per-file reports and usage problems (missing paths, empty dirs)."""
    reports: list[FileReport] = []
    problems: list[str] = []
    for target in targets:
        if not target.exists():
            problems.append(f"{target}: no such file or directory")
            continue
        if target.is_dir() and (target / "task.yaml").is_file():
            reports.append(_check_one(target / "task.yaml", explicit=True))
            continue
        if target.is_dir():
            files = collect_files(target)
            checked = [r for r in (_check_one(f, explicit=False) for f in files) if r.kind is not None]
            if not checked:
                problems.append(f"{target}: no agent specs, tasks or sandbox profiles found "
                                "(looked for *.yaml and *.yml files)")
            reports.extend(checked)
            continue
        reports.append(_check_one(target, explicit=True))
    return reports, problems


def _check_one(path: Path, explicit: bool) -> FileReport:
    display = os.path.normpath(str(path))
    kind = detect_kind(path, explicit)
    if kind is None:
        return FileReport(display, None)
    return FileReport(display, kind.name, kind.check(path, display))
