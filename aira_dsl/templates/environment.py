"""The sandboxed Jinja environment prompts are rendered in, and rendering with clean errors.

Prompt templates come from spec authors, and a plan may be run by someone else, so templates
are treated as untrusted: they render in Jinja's immutable sandbox (no access to Python
internals, no mutation of the context), undefined names fail loudly (``StrictUndefined``)
instead of rendering as empty text, and every failure becomes a :class:`Diagnostic` at the
template's own file and line rather than a traceback.
"""

from __future__ import annotations

import hashlib
import operator
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, TemplateNotFound
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from aira_dsl.diagnostics import Diagnostic, DiagnosticError
from aira_dsl.templates.filters import FILTERS
from aira_dsl.templates.store import FileStore, MemoryStore, TemplateStore, resolve_name, template_name

__all__ = ["MAX_REPEAT", "PromptEnvironment", "render_file", "render_from_sources", "render_source"]

MAX_REPEAT = 1_000_000
"""Largest string or list a template may build with ``*``, and the largest exponent ``**`` takes."""


class _StoreLoader(BaseLoader):
    """A Jinja loader over a :class:`TemplateStore`."""

    def __init__(self, store: TemplateStore):
        self.store = store

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
        source = self.store.get(template)
        if source is None:
            raise TemplateNotFound(template)
        return source.text, source.file, lambda: True


class PromptEnvironment(ImmutableSandboxedEnvironment):
    """The one Jinja configuration for prompts: sandboxed, strict, no autoescape.

    ``trim_blocks`` and ``lstrip_blocks`` are on, so a line holding only a ``{% ... %}`` tag
    leaves no blank line behind; ``keep_trailing_newline`` keeps a file's final newline.
    Include names are resolved by :func:`~aira_dsl.templates.store.resolve_name`.
    """

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, store: TemplateStore | None = None):
        self.store: TemplateStore = store if store is not None else MemoryStore({})
        super().__init__(
            loader=_StoreLoader(self.store),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.filters.update(FILTERS)

    def join_path(self, template: str, parent: str) -> str:
        return resolve_name(self.store, template, parent)

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        """Refuse repetitions and powers big enough to exhaust memory or CPU."""
        if operator_name == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(count, int) and \
                        len(seq) * count > MAX_REPEAT:
                    raise SecurityError(f"repetition would build {len(seq) * count} items "
                                        f"(limit {MAX_REPEAT})")
            return operator.mul(left, right)
        if isinstance(right, int) and isinstance(left, int) and abs(right) > 10_000:
            raise SecurityError(f"exponent {right} is too large (limit 10000)")
        return operator.pow(left, right)


def _template_frame(tb: TracebackType | None, files: Mapping[str, str]) -> tuple[str, int] | None:
    """The innermost traceback frame that belongs to a template: (display file, line)."""
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in files:
            found = (files[filename], tb.tb_lineno)
        tb = tb.tb_next
    return found


def render_error(exc: Exception, files: Mapping[str, str], line_offset: int = 0,
                 entry_file: str | None = None) -> Diagnostic:
    """Turn an exception raised while loading or rendering a template into a diagnostic.

    ``files`` maps the file names Jinja compiled templates under to the names to report;
    ``line_offset`` shifts lines reported in ``entry_file`` (an inline template inside YAML).
    """
    where = _template_frame(exc.__traceback__, files)
    if isinstance(exc, TemplateSyntaxError):
        file = files.get(exc.filename or "", exc.filename or exc.name or entry_file)
        where = (file or "<template>", exc.lineno)
        code, message, hint = "template-syntax", exc.message or str(exc), None
    elif isinstance(exc, TemplateNotFound):
        code, message = "template-missing-include", f"template {exc.name!r} not found"
        hint = "include names are looked up in the including template's folder, then in each prompts root"
    elif isinstance(exc, SecurityError):
        code, message = "template-security", f"refused by the template sandbox: {exc}"
        hint = "templates may only read the documented context variables and call safe methods"
    elif isinstance(exc, UndefinedError):
        code, message = "template-undefined", str(exc)
        hint = "run `aira-dsl validate` to check template variables; guard optional values with {% if %}"
    else:
        code, message = "template-render", f"{type(exc).__name__}: {exc}"
        hint = None
    file, line = where if where else (entry_file, None)
    if line is not None and file == entry_file:
        line += line_offset
    return Diagnostic(code, message, file=file, line=line, hint=hint)


def _render(env: PromptEnvironment, name: str, context: Mapping[str, Any],
            files: Callable[[], Mapping[str, str]], entry_file: str, line_offset: int = 0,
            source: str | None = None) -> str:
    try:
        template = env.get_template(name) if source is None else env.from_string(source)
        return template.render(dict(context))
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError, RecursionError,
            AttributeError) as exc:
        raise DiagnosticError(render_error(exc, files(), line_offset, entry_file)) from None


def _store_files(store: TemplateStore, extra: Mapping[str, str] | None = None) -> Callable[[], Mapping[str, str]]:
    """A lazy map from compiled file names to reported names for every template loaded so far."""

    def files() -> Mapping[str, str]:
        table = dict(extra or {})
        table.update({file: file for file in store.loaded_files()})
        return table

    return files


def render_file(path: Path, context: Mapping[str, Any], search_paths: Sequence[Path]) -> str:
    """Render the template at ``path`` with ``context``; includes resolve against ``search_paths``.

    Raises :class:`DiagnosticError` (codes ``template-syntax``, ``template-missing-include``,
    ``template-security``, ``template-undefined``, ``template-render``) on failure.
    """
    path = Path(path)
    name, roots = template_name(path, search_paths)
    store = FileStore(roots, pinned={name: path})
    if store.get(name) is None:
        raise DiagnosticError(Diagnostic("template-missing-include", f"cannot read template {path}",
                                         file=str(path)))
    return _render(PromptEnvironment(store), name, context, _store_files(store), str(path))


_CACHE_SIZE = 32
_cache: OrderedDict[str, PromptEnvironment] = OrderedDict()
_cache_lock = threading.Lock()


def _environment_for(sources: Mapping[str, str]) -> PromptEnvironment:
    """A (cached) environment over ``sources``: a run renders the same plan sources many times,
    and compiling the templates anew for every operator call would dominate rendering time."""
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(f"{len(name)}:{name}{len(sources[name])}:".encode())
        digest.update(sources[name].encode())
    key = digest.hexdigest()
    with _cache_lock:
        env = _cache.get(key)
        if env is not None:
            _cache.move_to_end(key)
            return env
        env = PromptEnvironment(MemoryStore(sources))
        _cache[key] = env
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return env


def render_from_sources(sources: Mapping[str, str], entry: str, context: Mapping[str, Any]) -> str:
    """Render template ``entry`` from embedded ``sources`` (as made by ``collect_sources``).

    Needs no files: this is how the runtime renders prompts from a plan alone. Produces the
    same text as :func:`render_file` on the files the sources were collected from. Compiled
    templates are cached per distinct set of sources.
    """
    if entry not in sources:
        raise DiagnosticError(Diagnostic("template-missing-include",
                                         f"entry template {entry!r} is not among the sources",
                                         hint=f"sources: {', '.join(sorted(sources)) or '(none)'}"))
    env = _environment_for(sources)
    return _render(env, entry, context, _store_files(env.store), entry)


def render_source(source: str, name: str, context: Mapping[str, Any], search_paths: Sequence[Path],
                  line_offset: int = 0) -> str:
    """Render an inline template (one written inside a spec); ``name`` is the file to report."""
    store = FileStore([Path(p) for p in search_paths])
    env = PromptEnvironment(store)
    return _render(env, name, context, _store_files(store, {"<template>": name}), name,
                   line_offset, source=source)
