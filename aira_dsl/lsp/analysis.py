"""The checking engine of the language server: ``validate``'s checks on unsaved text, incrementally.

An editor sends every keystroke; checking everything again each time would be wasteful and,
on a large workspace, slow. The :class:`Analyzer` therefore

- checks a document exactly as ``aira-dsl validate`` would, but with the editor's unsaved texts
  installed as an :mod:`aira_dsl.overlay`, so no temporary file is ever written;
- records, through the overlay, every file a check consulted (the document, its base specs,
  its templates and their fragments, even files looked for and not found): its dependencies;
- keeps each result with the identity (editor text, or size and mtime on disk) of each of
  those files, and reuses it while none changed; an edit of one file re-checks only the
  documents whose dependencies include it (a base spec's dependants, a template's users).

Parsed base specs and templates are reused across checks by the library's own content-keyed
caches. Nothing here imports pygls, so the engine can be benchmarked and tested in-process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aira_dsl import overlay
from aira_dsl.diagnostics import Diagnostic, DiagnosticError, Severity
from aira_dsl.overlay import key_of

if TYPE_CHECKING:
    from aira_dsl.compiler.context import CompileContext, TemplateRef
    from aira_dsl.validation import DocumentKind

__all__ = ["MAX_SCAN_FILES", "Analyzer", "CheckResult", "Recheck", "is_template", "is_yaml"]

log = logging.getLogger(__name__)

MAX_SCAN_FILES = 400
"""At most this many YAML files are read when looking for the specs that use a template."""
MAX_SCAN_FOLDERS = 2000
"""At most this many folders are walked for them (a workspace may be a home folder)."""
_SKIP = {"node_modules", "runs", "__pycache__", "venv", "build", "dist", "site-packages"}

Anchor = tuple[int, int, int | None, int | None]
"""A 1-based (line, col, end_line, end_col) position in the checked document."""


def is_yaml(path: str) -> bool:
    return path.endswith((".yaml", ".yml"))


def is_template(path: str) -> bool:
    return path.endswith(".j2")


@dataclass
class CheckResult:
    """One check of one YAML document, and what it depended on."""

    key: str
    path: str
    kind: str | None
    diagnostics: list[Diagnostic]
    identities: dict[str, tuple[object, ...]]
    """Every file the check consulted, with its identity at the time (see ``overlay.file_identity``)."""
    context: CompileContext | None = None
    """The compiler's context for an agent spec (merged document, typed spec, templates)."""
    anchors: dict[str, Anchor] = field(default_factory=dict)
    """Where, in this document, to show a problem found in another file (by that file's key)."""
    seconds: float = 0.0
    closures: dict[int, frozenset[str]] = field(default_factory=dict)
    """Files each prompt of ``context.templates`` reads (by index), filled on demand."""

    @property
    def deps(self) -> frozenset[str]:
        return frozenset(self.identities)


@dataclass
class Recheck:
    """What one edit caused: the checks run (or reused) and the open documents to publish."""

    checked: list[CheckResult]
    publish: list[str]
    seconds: float


class Analyzer:
    """Open documents, their latest check results, and the dependency graph between files.

    Thread-safe: the server checks in a worker thread while requests read results.
    """

    def __init__(self, folders: Sequence[str] = ()):
        self.folders = [os.path.abspath(f) for f in folders]
        self.lock = threading.RLock()
        self._texts: dict[str, str] = {}
        self._paths: dict[str, str] = {}
        self._results: dict[str, CheckResult] = {}
        self._kinds: dict[str, DocumentKind | None] = {}
        self._scanned: set[str] = set()
        self._good: dict[str, CompileContext] = {}

    # ------------------------------------------------------------------ documents

    def open(self, path: str, text: str) -> str:
        """Start tracking an open document; returns its key."""
        key = key_of(path)
        with self.lock:
            self._paths[key] = os.path.abspath(path)
            self._texts[key] = text
            self._kinds.pop(key, None)  # a reopened file may have become another kind
        return key

    def update(self, key: str, text: str) -> None:
        with self.lock:
            self._texts[key] = text

    def close(self, key: str) -> list[str]:
        """Forget the unsaved text of a closed document; returns the checked documents that
        read it (they now read the saved file instead)."""
        with self.lock:
            self._texts.pop(key, None)
            return [k for k in self.dependants(key) if k != key]

    def is_open(self, key: str) -> bool:
        return key in self._texts

    def text(self, key: str) -> str | None:
        """The editor's text of an open document, else the saved file's (None if unreadable)."""
        text = self._texts.get(key)
        if text is not None:
            return text
        try:
            return Path(key).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def exists(self, path: str) -> bool:
        """Whether ``path`` is a file, on disk or (not saved yet) open in the editor."""
        return key_of(path) in self._texts or os.path.isfile(path)

    def path(self, key: str) -> str:
        return self._paths.get(key, key)

    def result(self, key: str) -> CheckResult | None:
        """The latest check of ``key`` (possibly one edit old), without checking."""
        return self._results.get(key)

    def open_keys(self) -> list[str]:
        return list(self._texts)

    # ------------------------------------------------------------------ dependencies

    def dependants(self, key: str) -> list[str]:
        """Checked documents (open or not) whose last check consulted ``key``."""
        return [k for k, r in list(self._results.items()) if key in r.identities]

    def _identity(self, key: str) -> tuple[object, ...]:
        text = self._texts.get(key)
        if text is not None:
            return ("overlay", text)
        try:
            stat = os.stat(key)
        except OSError:
            return ("missing",)
        return (stat.st_size, stat.st_mtime_ns)

    def _fresh(self, result: CheckResult) -> bool:
        return all(self._identity(dep) == identity for dep, identity in result.identities.items())

    # ------------------------------------------------------------------ checking

    def check(self, key: str) -> CheckResult:
        """The check of YAML document ``key``: the cached one while none of its files changed."""
        with self.lock:
            cached = self._results.get(key)
            if cached is not None and self._fresh(cached):
                return cached
            result = self._run(key)
            self._results[key] = result
            if result.context is not None and isinstance(result.context.doc.data, dict):
                self._good[key] = result.context
            return result

    def context(self, key: str) -> CompileContext | None:
        """The compiler context of the latest check of spec ``key`` that could read the file as a
        mapping: while a keystroke leaves the YAML broken, completion and definitions still
        know the operators and models."""
        return self._good.get(key)

    def recheck(self, key: str) -> Recheck:
        """Re-check what an edit of ``key`` can have changed, and say which open documents
        need their diagnostics published again."""
        start = time.perf_counter()
        with self.lock:
            targets = ([key] if is_yaml(key) else []) + [k for k in self.dependants(key) if k != key]
            before = {k: self._results[k].deps for k in targets if k in self._results}
            checked = [self.check(k) for k in targets]
            publish: list[str] = []
            touched_templates: set[str] = {key} if is_template(key) else set()
            for result in checked:
                if result.key in self._texts:
                    publish.append(result.key)
                touched_templates |= {d for d in result.deps | before.get(result.key, frozenset())
                                      if is_template(d)}
            publish += sorted(k for k in touched_templates if k in self._texts and k not in publish)
            return Recheck(checked, publish, time.perf_counter() - start)

    def _kind_of(self, key: str, path: str) -> DocumentKind | None:
        from aira_dsl.validation import detect_kind, spec_kind

        if key in self._kinds and self._kinds[key] is not None:
            return self._kinds[key]
        kind = detect_kind(Path(path), explicit=False)
        if kind is None and _looks_like_spec(path, self._texts.get(key)):
            kind = spec_kind()  # a file nothing else matches: a spec
        self._kinds[key] = kind
        return kind

    def _run(self, key: str) -> CheckResult:
        path = self.path(key)
        start = time.perf_counter()
        kind_name: str | None = None
        context: CompileContext | None = None
        diagnostics: list[Diagnostic] = []
        anchors: dict[str, Anchor] = {}
        with overlay.using(self._texts) as current:
            current.lookup(path)
            try:
                if is_yaml(path):
                    kind = self._kind_of(key, path)
                    kind_name = kind.name if kind is not None else None
                    if kind_name == "spec":
                        from aira_dsl.compiler import check_spec

                        context = check_spec(path)
                        diagnostics = context.diagnostics.sorted()
                    elif kind is not None:
                        diagnostics = list(kind.check(Path(path), path))
                    anchors = self._anchors(key, context, diagnostics)
            except Exception as exc:  # a bug in one check must not take the editor's server down
                log.error("checking %s failed: %s: %s", path, type(exc).__name__, exc,
                          exc_info=bool(os.environ.get("AIRA_DSL_DEBUG")))
                diagnostics = [Diagnostic(
                    "internal-error", f"aira-dsl could not check this file: {type(exc).__name__}: {exc}",
                    file=path, line=1, col=1,
                    hint="this is a bug in aira-dsl; run `aira-dsl validate` on the file with "
                         "AIRA_DSL_DEBUG=1 for the traceback and report it")]
            touched = set(current.touched)
        identities = {dep: self._identity(dep) for dep in touched}
        return CheckResult(key, path, kind_name, diagnostics, identities, context, anchors,
                           time.perf_counter() - start)

    # ------------------------------------------------------------------ cross-file findings

    def _anchors(self, key: str, context: CompileContext | None,
                 diagnostics: Iterable[Diagnostic]) -> dict[str, Anchor]:
        """For each other file a finding is in, where to show it in this document: the prompt
        that pulls the template in, else the ``extends`` line, else a mention of the file name."""
        foreign = {key_of(d.file) for d in diagnostics if d.file and key_of(d.file) != key}
        anchors: dict[str, Anchor] = {}
        text = self._texts.get(key)
        for other in sorted(foreign):
            anchor = None
            if context is not None:
                for ref in context.templates:
                    if other in _closure(ref):
                        anchor = _span_in(context, ref.spec_path, key)
                        if anchor is not None:
                            break
                if anchor is None and len(context.loaded.chain) > 1:
                    anchor = _span_in(context, ("extends",), key)
            if anchor is None and text is not None:
                anchor = _mention(text, os.path.basename(other))
            if anchor is not None:
                anchors[other] = anchor
        return anchors

    def closure(self, result: CheckResult, index: int) -> frozenset[str]:
        """The files prompt ``index`` of ``result``'s spec reads (the template and its fragments)."""
        with self.lock:
            found = result.closures.get(index)
            if found is None:
                assert result.context is not None
                with overlay.using(self._texts):
                    found = _closure(result.context.templates[index])
                result.closures[index] = found
            return found

    def template_users(self, key: str) -> list[tuple[CheckResult, TemplateRef, str]]:
        """Every (spec check, prompt, operator kind) whose prompt reads template ``key``."""
        users = []
        with self.lock:
            for result in list(self._results.values()):
                context = result.context
                if key not in result.identities or context is None or context.spec is None:
                    continue
                for index, ref in enumerate(context.templates):
                    operator = context.spec.operators.get(ref.operator)
                    if operator is not None and key in self.closure(result, index):
                        users.append((result, ref, operator.kind))
        return users

    def template_diagnostics(self, key: str) -> list[Diagnostic]:
        """Findings located in template ``key``, from every checked spec that uses it (each
        once); when none has any, its syntax alone (it may have no user known yet)."""
        with self.lock:
            users = [r for r in self._results.values() if key in r.identities]
            found = [d for r in users for d in r.diagnostics if d.file and key_of(d.file) == key]
            if not found:
                return _template_syntax(key, self.text(key) or "")
        return sorted(dict.fromkeys(found), key=Diagnostic.sort_key)

    # ------------------------------------------------------------------ discovery

    def discover_users(self, key: str) -> list[str]:
        """Check, in the background, the specs of the workspace around template ``key`` so its
        users are known before any of them is opened. Each folder is scanned once."""
        folders = [f for f in self.folders if key.startswith(key_of(f) + os.sep)] or self.folders
        if not folders:
            folders = [_project_folder(key)]
        found: list[str] = []
        budget = MAX_SCAN_FILES
        for folder in folders:
            if folder in self._scanned:
                continue
            self._scanned.add(folder)
            for file in _yaml_files(folder):
                budget -= 1
                if budget < 0:
                    return found
                other = key_of(file)
                if other in self._results:
                    continue
                try:
                    head = file.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                if "operators" not in head and "extends" not in head:
                    continue  # not an agent spec: nothing there reads templates
                self._paths.setdefault(other, str(file))
                result = self.check(other)  # takes the lock per file: requests get in between
                if key in result.identities:
                    found.append(other)
        return found


def _looks_like_spec(path: str, text: str | None) -> bool:
    """A YAML file nothing recognises yet (being written, or broken mid-edit) is checked as a
    spec when it sits in a ``specs`` folder or names the agent schema."""
    return "specs" in Path(path).parts or (text is not None and "agent.schema.json" in text)


def _yaml_files(folder: str) -> Iterator[Path]:
    """YAML files under ``folder``, nearest first, skipping hidden folders, environments and run
    outputs, and stopping after :data:`MAX_SCAN_FOLDERS` folders."""
    for walked, (root, dirs, files) in enumerate(os.walk(folder)):
        if walked >= MAX_SCAN_FOLDERS:
            return
        dirs[:] = sorted(d for d in dirs if d not in _SKIP and not d.startswith("."))
        yield from (Path(root, f) for f in sorted(files) if is_yaml(f) and not f.startswith("."))


def _project_folder(key: str) -> str:
    """The folder to scan for a template's users: the nearest ancestor with a ``specs``
    folder (or a repository root), else the template's own folder."""
    folder = Path(key).parent
    for candidate in [folder, *folder.parents][:6]:
        if (candidate / "specs").is_dir() or (candidate / ".git").exists():
            return str(candidate)
    return str(folder)


def _closure(ref: TemplateRef) -> frozenset[str]:
    from aira_dsl.templates import collect_inline_sources, collect_sources, template_name
    from aira_dsl.templates.store import FileStore

    keys: set[str] = set()
    try:
        if ref.path is not None:
            keys.add(key_of(ref.path))
            names = collect_sources(ref.path, ref.search_paths)
            entry, roots = template_name(ref.path, ref.search_paths)
            store = FileStore(roots, pinned={entry: ref.path})
        else:
            names = collect_inline_sources(ref.inline or "", "inline.j2", ref.search_paths)
            store = FileStore(ref.search_paths)
    except (DiagnosticError, OSError, RecursionError):
        return frozenset(keys)
    for name in names:
        file = store.path_of(name)
        if file is not None:
            keys.add(key_of(file))
    return frozenset(keys)


def _span_in(context: CompileContext, spec_path: tuple[str | int, ...], key: str) -> Anchor | None:
    span = context.doc.span(spec_path)
    if span is None or span.line < 1 or key_of(span.file) != key:
        return None
    return (span.line, span.col, span.end_line, span.end_col)


def _mention(text: str, name: str) -> Anchor | None:
    if not name:
        return None
    for number, line in enumerate(text.splitlines(), start=1):
        col = line.find(name)
        if col >= 0:
            return (number, col + 1, number, col + 1 + len(name))
    return None


def _template_syntax(key: str, text: str) -> list[Diagnostic]:
    """A template no checked spec uses can still be parsed: its syntax errors are certain."""
    from jinja2.exceptions import TemplateSyntaxError

    from aira_dsl.templates import PromptEnvironment

    try:
        PromptEnvironment().parse(text, os.path.basename(key), key)
    except TemplateSyntaxError as exc:
        return [Diagnostic("template-syntax", exc.message or "syntax error", Severity.ERROR, file=key,
                           line=exc.lineno)]
    except RecursionError:
        return [Diagnostic("template-syntax", "template is nested too deeply to check", file=key, line=1)]
    return []
