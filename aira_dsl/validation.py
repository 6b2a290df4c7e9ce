"""``validate`` over files and folders: recognise each YAML file's kind and run its checks.

Agent specs, task definitions (``task.yaml``), sandbox profiles (``runtimes/*.yaml``), sweep
files, compiled plans and prompt templates (``*.j2``) are all checked by one command. Kinds are
recognised by content (and a few file names), so users can point ``aira-dsl validate`` at any
folder of their repository. A file whose YAML does not parse is recognised by its top-level
keys, so a broken spec in a folder is reported rather than skipped.

A file named explicitly that is no aira-dsl document (a CI workflow, a compose file) gets one
error saying so; with ``skip_unknown`` (``--skip-unknown``, what the pre-commit hook passes, as
pre-commit hands over every YAML file that changed) it is skipped like such a file in a folder.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aira_dsl.diagnostics import Diagnostic, Severity
from aira_dsl.spec.yamlpos import load_yaml_file

__all__ = ["DocumentKind", "FileReport", "collect_files", "detect_kind", "register_kind", "spec_kind", "validate_paths"]

YAML_SUFFIXES = (".yaml", ".yml")
TEMPLATE_SUFFIXES = (".j2",)
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


_SPEC_SECTIONS = frozenset({"operators", "policy", "models", "extends", "abstract"})


def _is_spec(path: Path, data: object) -> bool:
    return isinstance(data, dict) and "version" in data and bool(_SPEC_SECTIONS & set(data))


def _spec_like(data: object) -> bool:
    """A mapping that is a spec with a mistake (no ``version``, the wrong one) rather than
    someone else's YAML: it has a section only specs have, or ``version: 1``."""
    return isinstance(data, dict) and (bool(_SPEC_SECTIONS & set(data)) or data.get("version") == 1)


_SPEC_FINDINGS: dict[str, list[Diagnostic]] | None = None
"""Findings per spec during one :func:`validate_paths` call (None outside one: a long-lived
caller must see edits): a spec named on the command line (pre-commit passes every changed
file) is also checked for each template it uses."""


def _check_spec(path: Path, display: str) -> list[Diagnostic]:
    from aira_dsl.compiler import check_spec

    memo = _SPEC_FINDINGS
    found = memo.get(display) if memo is not None else None
    if found is None:
        found = check_spec(display).diagnostics.sorted()
        if memo is not None:
            memo[display] = found
    return list(found)


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
        plan = load_plan(path, display)
    except DiagnosticError as exc:
        return list(exc.diagnostics)
    return _plan_sandbox_findings(path, display, plan.execution.sandbox)


def _plan_sandbox_findings(path: Path, display: str, sandbox: str) -> list[Diagnostic]:
    """A plan's sandbox profile as a run would find it: a warning when it runs node code with
    ``isolation: none`` (a plan edited and re-hashed to use ``local-unsafe`` hashes as valid as any
    other), an error when a profile path leaves the profile search path."""
    from aira_dsl.roots import OUTSIDE_CODE
    from aira_dsl.sandbox.profile import default_search_dirs, is_profile_path, profile_path_problem

    line, col = _json_key_position(path, "sandbox")

    def finding(code: str, message: str, severity: Severity, hint: str) -> Diagnostic:
        return Diagnostic(code, message, severity, file=display, line=line, col=col, hint=hint)

    dirs = default_search_dirs()
    if is_profile_path(sandbox):
        candidate = Path(sandbox).expanduser()
        problem = profile_path_problem(candidate, dirs)
        if problem is not None:  # the run refuses it; nothing of the file is read here either
            return [finding(OUTSIDE_CODE, f"sandbox profile '{sandbox}' is outside the profile search path: "
                            f"{problem}", Severity.ERROR, "recompile the spec with a profile name, e.g. local")]
        found = candidate if candidate.is_file() else None
    else:
        found = next((d / f"{sandbox}{suffix}" for d in dirs for suffix in (".yaml", ".yml")
                      if (d / f"{sandbox}{suffix}").is_file()), None)
    if found is None:
        return []
    data = load_yaml_file(found, env_mode="off").data
    if isinstance(data, dict) and data.get("backend") == "local" and data.get("isolation") == "none":
        return [finding("unisolated", f"the plan runs node code with the sandbox profile '{sandbox}', which has "
                        "isolation: none: unisolated, with this user's rights", Severity.WARNING,
                        "use it for trusted code only; compile with execution.sandbox: local for LLM-written code")]
    return []


def _json_key_position(path: Path, key: str) -> tuple[int | None, int | None]:
    """1-based (line, col) of the first ``"key":`` in a JSON file (plans are indented, one key a line)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for number, text in enumerate(handle, start=1):
                if f'"{key}":' in text:
                    return number, text.index(f'"{key}":') + 1
    except OSError:
        return None, None
    return None, None


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


_TOP_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:(?:[ \t]|$)", re.MULTILINE)


def _top_level_keys(text: str | None) -> dict[str, None] | None:
    """The keys written at the start of a line of YAML that does not parse (None: none found):
    enough for the detectors, which look at keys, to recognise a broken spec."""
    keys = dict.fromkeys(_TOP_KEY.findall(text or ""))
    return keys or None


def _data_for_detection(path: Path) -> object:
    # env_mode "warn", as the spec check loads the file: the document is then parsed once, not
    # once for detection and again for the check (detection only looks at keys).
    doc = load_yaml_file(path, env_mode="warn")
    if doc.data is None and any(d.code == "yaml-syntax" for d in doc.diagnostics):
        return _top_level_keys(doc.text)
    return doc.data


def detect_kind(path: Path, explicit: bool) -> DocumentKind | None:
    """The kind of a file; an explicitly named YAML file that matches nothing is a spec."""
    if path.is_dir() and (path / "task.yaml").is_file():
        return next(k for k in _KINDS if k.name == "task")
    if path.suffix in TEMPLATE_SUFFIXES:
        return TEMPLATE_KIND
    data = _data_for_detection(path)
    for kind in _kinds_available():
        if kind.detect(path, data):
            return kind
    return spec_kind() if explicit else None


def spec_kind() -> DocumentKind:
    """The agent-spec kind: what an explicitly named YAML file that matches nothing is taken for."""
    return next(k for k in _KINDS if k.name == "spec")


def _kinds_phrase() -> str:
    return ("agent specs (version: 1 with models, operators, policy), tasks (task.yaml: submission with a "
            "metric or grader), sandbox profiles (backend: local or docker), sweeps (specs and tasks), "
            "compiled plans (plan_version) and prompt templates (*.j2)")


def _foreign(display: str) -> Diagnostic:
    """The one finding for an explicitly named YAML file that is no aira-dsl document."""
    return Diagnostic("unknown-document", "not an aira-dsl document: missing required key 'version'",
                      file=display, line=1, col=1,
                      hint=f"validate recognises {_kinds_phrase()}; --skip-unknown skips other YAML files "
                           "(the pre-commit hook passes it)")


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


# --- prompt templates named on their own --------------------------------------------------------


def _check_template_file(path: Path, display: str) -> list[Diagnostic]:
    """A ``.j2`` file: Jinja syntax (with line and column), then, for each spec of its project
    that uses it (directly or through templates that include it), the check ``validate`` runs on
    that spec, keeping the findings in this file: its variables against the operator kinds and
    ``vars`` of the specs that use it. A template no spec uses is checked for syntax only."""
    from aira_dsl.spec.yamlpos import read_text_file
    from aira_dsl.templates.syntax import template_syntax_diagnostics

    text, problem = read_text_file(path, display)
    if problem is not None:
        return [problem]
    assert text is not None
    syntax = template_syntax_diagnostics(text, display)
    if syntax:
        return syntax
    target = os.path.realpath(path)
    found: list[Diagnostic] = []
    for spec in _specs_using(path):
        found.extend(d for d in _check_spec(Path(spec), spec) if d.file and os.path.realpath(d.file) == target)
    return list(dict.fromkeys(found))


_MAX_PROJECT_FILES = 4000


def _shown(path: Path) -> str:
    """``path`` relative to the working folder when it is below it (as users name files)."""
    try:
        return os.path.relpath(path) if Path.cwd().resolve() in path.resolve().parents else str(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def _specs_using(template: Path) -> list[str]:
    """Spec files of the template's project (:func:`aira_dsl.roots.project_root`: only specs
    there may use it) whose text names the template, or a template that includes it (by file
    name: a cheap filter; the findings are then matched by file)."""
    from aira_dsl.roots import project_root

    yaml_files, texts = _project_files(str(project_root(template)))
    names = {template.name}
    for _ in range(8):  # includers of includers, a few levels deep
        more = {t.name for t, text in texts.items() if t.name not in names and any(n in text for n in names)}
        if not more:
            break
        names |= more
    users = []
    for file in yaml_files:
        text = _read(file)
        if any(name in text for name in names) and _is_spec(file, load_yaml_file(file, env_mode="off").data):
            users.append(_shown(file))
    return users


@functools.lru_cache(maxsize=8)
def _project_files(root: str) -> tuple[list[Path], dict[Path, str]]:
    """The YAML files of a project and its templates with their text (walked once per
    :func:`validate_paths` call, however many templates a commit changes)."""
    yaml_files: list[Path] = []
    templates: list[Path] = []
    for walked_root, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(YAML_SUFFIXES):
                yaml_files.append(Path(walked_root, name))
            elif name.endswith(TEMPLATE_SUFFIXES):
                templates.append(Path(walked_root, name))
        if len(yaml_files) + len(templates) > _MAX_PROJECT_FILES:
            break
    return yaml_files, {t: _read(t) for t in templates}


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


TEMPLATE_KIND = DocumentKind("template", lambda path, data: path.suffix in TEMPLATE_SUFFIXES,
                             _check_template_file)
"""Not registered with the YAML kinds: recognised by its suffix in :func:`detect_kind`."""


def collect_files(target: Path) -> list[Path]:
    """YAML files under a folder, sorted, skipping VCS, caches and run outputs."""
    found: list[Path] = []
    for root, dirs, files in os.walk(target):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        found.extend(Path(root, f) for f in sorted(files) if f.endswith(YAML_SUFFIXES)
                     and not f.startswith("."))
    return found


def validate_paths(targets: Iterable[Path], *, skip_unknown: bool = False,
                   skipped: list[str] | None = None) -> tuple[list[FileReport], list[str]]:
    """Check every file; returns per-file reports and usage problems (missing paths, empty dirs).

    With ``skip_unknown`` a named file that is no aira-dsl document is skipped (its name goes
    to ``skipped`` when given) rather than reported."""
    from aira_dsl.roots import realpaths_fixed

    global _SPEC_FINDINGS
    _SPEC_FINDINGS = {}
    _project_files.cache_clear()
    try:
        with realpaths_fixed():  # one-shot: the files do not move while they are checked
            return _validate(targets, skip_unknown, skipped)
    finally:
        _SPEC_FINDINGS = None
        _project_files.cache_clear()


def _validate(targets: Iterable[Path], skip_unknown: bool,
              skipped: list[str] | None) -> tuple[list[FileReport], list[str]]:
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
        report = _check_one(target, explicit=True, skip_unknown=skip_unknown)
        if report.kind is None:
            if skipped is not None:
                skipped.append(report.path)
            continue
        reports.append(report)
    return reports, problems


def _check_one(path: Path, explicit: bool, skip_unknown: bool = False) -> FileReport:
    display = os.path.normpath(str(path))
    kind = detect_kind(path, explicit=False)
    if kind is None:
        if not explicit or skip_unknown:
            return FileReport(display, None)
        data = load_yaml_file(path, env_mode="off").data
        if isinstance(data, dict) and not _spec_like(data):
            return FileReport(display, "unknown", [_foreign(display)])
        kind = spec_kind()  # a spec with a mistake, or no YAML mapping at all
    return FileReport(display, kind.name, kind.check(path, display))
