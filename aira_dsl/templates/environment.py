"""The sandboxed Jinja environment prompts are rendered in, and rendering with clean errors.

Prompt templates come from spec authors, and a plan may be run by someone else, so templates
are treated as untrusted: they render in Jinja's immutable sandbox (no access to Python
internals, no mutation of the context), undefined names fail loudly (``StrictUndefined``)
instead of rendering as empty text, and every failure becomes a :class:`Diagnostic` at the
template's own file and line rather than a traceback.

They are bounded too (:mod:`aira_dsl.templates.limits`): the public render functions run the
render in a renderer process that is interrupted at the time limit and killed if it does not
stop (:mod:`aira_dsl.templates.renderer`), and inside the sandbox filters, format strings,
ranges, repetitions, powers, loops and the output itself are capped
(:mod:`aira_dsl.templates.bounded`). The ``*_local`` functions render in this process; only
the renderer calls them.
"""

from __future__ import annotations

import hashlib
import operator
import threading
import types
from collections import OrderedDict
from collections.abc import Callable, Generator, Mapping, Sequence
from functools import update_wrapper
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, TemplateNotFound, nodes
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from markupsafe import Markup

from aira_dsl.diagnostics import Diagnostic, DiagnosticError
from aira_dsl.templates.bounded import (
    bound_filters,
    bounded_loop,
    bounded_range,
    check_format_spec,
    check_percent_format,
    check_power,
    check_repeat,
    instrument_loops,
    rendering,
)
from aira_dsl.templates.filters import FILTERS
from aira_dsl.templates.limits import (
    DEFAULT_LIMITS,
    LIMIT_CODE,
    LIMIT_HINT,
    MAX_REPEAT,
    RenderLimits,
    TemplateLimitError,
)
from aira_dsl.templates.store import FileStore, MemoryStore, TemplateStore, resolve_name, template_name

__all__ = ["MAX_REPEAT", "PromptEnvironment", "parsed_tree", "render_file", "render_from_sources", "render_source"]


class _StoreLoader(BaseLoader):
    """A Jinja loader over a :class:`TemplateStore`."""

    def __init__(self, store: TemplateStore):
        self.store = store

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
        source = self.store.get(template)
        if source is None:
            raise TemplateNotFound(template)
        return source.text, source.file, lambda: True


_TREES: dict[tuple[str, str | None], nodes.Template | TemplateSyntaxError] = {}
_TREES_MAX = 512


def parsed_tree(env: PromptEnvironment, source: str, name: str | None, file: str | None) -> nodes.Template:
    """``env.parse``, memoised by (text, name), for readers that never change the tree (the
    checker, the include collector): a folder of specs shares a handful of templates, and each
    used to be parsed by both. Trees also come from, and go to, the user's cache folder
    (:class:`_DiskTrees`). Raises ``TemplateSyntaxError`` as ``parse`` does (the same error for
    the same text; ``file`` only names the template in it)."""
    key = (source, name)
    found = _TREES.get(key)
    if found is None:
        found = _DISK_TREES.get(source, name, env)
        if found is None:
            try:
                found = env.parse(source, name, file)
            except TemplateSyntaxError as exc:
                found = exc
            else:
                _DISK_TREES.put(source, name, found)
        if len(_TREES) >= _TREES_MAX:
            _TREES.clear()
        _TREES[key] = found
    if isinstance(found, TemplateSyntaxError):
        raise TemplateSyntaxError(found.message or "syntax error", found.lineno, name, file)
    return found


class _DiskTrees:
    """Parsed template trees kept between processes (:mod:`aira_dsl.usercache`).

    Parsing the shipped prompts costs about 18 ms of a cold ``validate``; unpickling their
    trees about 3. One pickle file, named by a checksum of Jinja's version, Python's and this
    module (the lexer settings), maps a digest of (name, text) to the tree, saved with its
    ``environment`` links cut (they are set again on load). Syntax errors are not kept."""

    MAX = 256

    def __init__(self) -> None:
        self.file: Path | None = None
        self.trees: dict[str, nodes.Template] | None = None
        self.added: dict[str, nodes.Template] = {}

    def _open(self) -> dict[str, nodes.Template]:
        if self.trees is None:
            self.trees = {}
            from aira_dsl.usercache import cache_folder

            folder = cache_folder()
            if folder is not None:
                self.file = folder / f"jinja-trees-{_tree_stamp():08x}.pickle"
                self.trees = _read_trees(self.file)
                import atexit

                atexit.register(self.save)
        return self.trees

    @staticmethod
    def _key(source: str, name: str | None) -> str:
        return hashlib.blake2b(f"{name}\0{source}".encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()

    def get(self, source: str, name: str | None, env: PromptEnvironment) -> nodes.Template | None:
        tree = self._open().get(self._key(source, name))
        if tree is None:
            return None
        tree.set_environment(env)
        return tree

    def put(self, source: str, name: str | None, tree: nodes.Template) -> None:
        trees = self._open()
        if self.file is not None and len(self.added) < self.MAX:
            key = self._key(source, name)
            trees[key] = self.added[key] = tree

    def save(self) -> None:
        """Merge this process's new trees into the file (atomically), keeping the newest."""
        if self.file is None or not self.added:
            return
        import pickle

        from aira_dsl.usercache import replace_cache_file

        merged = {**{k: v for k, v in _read_trees(self.file).items() if k not in self.added}, **self.added}
        merged = dict(list(merged.items())[-self.MAX:])
        environments = {}
        for key, tree in merged.items():  # the environment (filters, loader...) is not saved
            environments[key] = getattr(tree, "environment", None)
            tree.set_environment(None)  # type: ignore[arg-type]  # cut before pickling, restored below
        try:
            payload = pickle.dumps(merged, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, RecursionError):
            return
        finally:
            for key, tree in merged.items():
                environment = environments[key]
                if isinstance(environment, PromptEnvironment):
                    tree.set_environment(environment)
        if replace_cache_file(self.file, payload, "jinja-trees-*.pickle"):
            self.added = {}


def _read_trees(file: Path) -> dict[str, nodes.Template]:
    import pickle

    try:
        with file.open("rb") as handle:
            data = pickle.load(handle)
    except Exception:  # a missing, damaged or foreign file: start afresh
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, nodes.Template)}


def _tree_stamp() -> int:
    import sys
    import zlib

    import jinja2

    checksum = zlib.crc32(f"{jinja2.__version__} {sys.version_info[:2]}".encode())
    try:
        return zlib.crc32(Path(__file__).read_bytes(), checksum)
    except OSError:
        return checksum


_DISK_TREES = _DiskTrees()


class PromptEnvironment(ImmutableSandboxedEnvironment):
    """The one Jinja configuration for prompts: sandboxed, strict, no autoescape.

    ``trim_blocks`` and ``lstrip_blocks`` are on, so a line holding only a ``{% ... %}`` tag
    leaves no blank line behind; ``keep_trailing_newline`` keeps a file's final newline.
    Include names are resolved by :func:`~aira_dsl.templates.store.resolve_name`.
    """

    intercepted_binops = frozenset({"*", "**", "%"})

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
        bound_filters(self.filters)
        self.globals["range"] = bounded_range

    bounded_loop = staticmethod(bounded_loop)
    """Counts loop iterations (see :func:`~aira_dsl.templates.bounded.instrument_loops`)."""

    def join_path(self, template: str, parent: str) -> str:
        return resolve_name(self.store, template, parent)

    def _generate(self, source: nodes.Template, name: str | None, filename: str | None,
                  defer_init: bool = False) -> str:
        """Jinja's hook between parsing and code generation: count every loop's iterations.
        (``parse``, which the checker uses, still returns the template's own tree.)"""
        return super()._generate(instrument_loops(source), name, filename, defer_init=defer_init)

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        """Refuse repetitions, powers and format widths big enough to exhaust memory or CPU."""
        if operator_name == "*":
            check_repeat(left, right)
            return operator.mul(left, right)
        if operator_name == "%":
            check_percent_format(left, right)
            return operator.mod(left, right)
        check_power(left, right)
        return operator.pow(left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's sandboxed ``str.format``/``format_map``, with widths and precisions bounded."""
        if not isinstance(value, types.MethodType | types.BuiltinMethodType) \
                or value.__name__ not in ("format", "format_map"):
            return None
        f_self: Any = value.__self__
        if not isinstance(f_self, str):
            return None
        str_type: type[str] = type(f_self)
        is_format_map = value.__name__ == "format_map"
        formatter = self._formatter(f_self)

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                kwargs = args[0]
                args = ()
            return str_type(formatter.vformat(f_self, args, kwargs))

        return update_wrapper(wrapper, value)

    def format_string(self, s: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                      format_func: Callable[..., Any] | None = None) -> str:
        """Where Jinja before 3.1.5 formats ``str.format`` calls: bounded the same way."""
        if format_func is not None and format_func.__name__ == "format_map":
            if len(args) != 1 or kwargs:
                raise TypeError("format_map() takes exactly one argument")
            kwargs, args = args[0], ()
        return type(s)(self._formatter(s).vformat(s, args, kwargs))

    def _formatter(self, text: str) -> SandboxedFormatter:
        if isinstance(text, Markup):
            return _BoundedEscapeFormatter(self, escape=text.escape)
        return _BoundedFormatter(self)


class _BoundedFormatter(SandboxedFormatter):
    """The sandbox's formatter, refusing field widths and precisions above the limit."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        check_format_spec(format_spec)
        return super().format_field(value, format_spec)


class _BoundedEscapeFormatter(_BoundedFormatter, SandboxedEscapeFormatter):
    """:class:`_BoundedFormatter` for ``Markup`` strings (escapes the fields)."""


def _template_frame(tb: TracebackType | None, files: Mapping[str, str]) -> tuple[str, int] | None:
    """The innermost traceback frame that belongs to a template: (display file, line)."""
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in files:
            found = (files[filename], tb.tb_lineno)
        tb = tb.tb_next
    return found


def render_error(exc: BaseException, files: Mapping[str, str], line_offset: int = 0,
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
    elif isinstance(exc, TemplateLimitError):
        code, message, hint = LIMIT_CODE, str(exc), LIMIT_HINT
    elif isinstance(exc, MemoryError):
        code, hint = LIMIT_CODE, LIMIT_HINT
        message = "rendering needed more memory than a render may use"
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
            source: str | None = None, limits: RenderLimits = DEFAULT_LIMITS) -> str:
    """Render with loops counted and the output cut at ``limits.max_output_chars``.

    The text is streamed from ``generate()`` so an oversized prompt is stopped as it grows: the
    limit error is thrown into the template at the output that crossed it, and so is reported
    at that template line.
    """
    try:
        with rendering(limits):
            template = env.get_template(name) if source is None else env.from_string(source)
            chunks = template.generate(dict(context))
            assert isinstance(chunks, Generator)
            parts: list[str] = []
            size = 0
            for chunk in chunks:
                size += len(chunk)
                if size > limits.max_output_chars:
                    chunks.throw(TemplateLimitError(f"the rendered prompt is longer than "
                                                    f"{limits.max_output_chars} characters"))
                    raise TemplateLimitError("output limit")  # unreachable: throw() raises
                parts.append(chunk)
            return "".join(parts)
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError, RecursionError,
            AttributeError, MemoryError) as exc:
        raise DiagnosticError(render_error(exc, files(), line_offset, entry_file)) from None


def _store_files(store: TemplateStore, extra: Mapping[str, str] | None = None) -> Callable[[], Mapping[str, str]]:
    """A lazy map from compiled file names to reported names for every template loaded so far."""

    def files() -> Mapping[str, str]:
        table = dict(extra or {})
        table.update({file: file for file in store.loaded_files()})
        return table

    return files


def render_file(path: Path, context: Mapping[str, Any], search_paths: Sequence[Path], *,
                limits: RenderLimits | None = None) -> str:
    """Render the template at ``path`` with ``context``; includes resolve against ``search_paths``.

    Runs in a renderer process under ``limits`` (default: :data:`~aira_dsl.templates.limits.DEFAULT_LIMITS`);
    ``context`` must be plain data (it is pickled). Raises :class:`DiagnosticError` (codes
    ``template-syntax``, ``template-missing-include``, ``template-security``,
    ``template-undefined``, ``template-limit``, ``template-render``) on failure.
    """
    from aira_dsl.templates.renderer import render_isolated

    path = Path(path)
    return render_isolated(("file", str(path), [str(p) for p in search_paths]), context,
                           limits or DEFAULT_LIMITS, str(path))


def render_file_local(path: str, search_paths: Sequence[str], context: Mapping[str, Any],
                      limits: RenderLimits = DEFAULT_LIMITS) -> str:
    """:func:`render_file` in this process (what the renderer process runs)."""
    file = Path(path)
    name, roots = template_name(file, [Path(p) for p in search_paths])
    store = FileStore(roots, pinned={name: file})
    if store.get(name) is None:
        raise DiagnosticError(Diagnostic("template-missing-include", f"cannot read template {file}",
                                         file=str(file)))
    return _render(PromptEnvironment(store), name, context, _store_files(store), str(file), limits=limits)


_CACHE_SIZE = 32
_cache: OrderedDict[str, PromptEnvironment] = OrderedDict()
_cache_lock = threading.Lock()


def sources_digest(sources: Mapping[str, str]) -> str:
    """A key for a set of embedded sources (names and texts)."""
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(f"{len(name)}:{name}{len(sources[name])}:".encode())
        digest.update(sources[name].encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _environment_for(sources: Mapping[str, str], key: str | None = None) -> PromptEnvironment:
    """A (cached) environment over ``sources``: a run renders the same plan sources many times,
    and compiling the templates anew for every operator call would dominate rendering time.
    ``key`` is :func:`sources_digest` of ``sources`` when the caller already has it."""
    key = key or sources_digest(sources)
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


def render_from_sources(sources: Mapping[str, str], entry: str, context: Mapping[str, Any], *,
                        limits: RenderLimits | None = None) -> str:
    """Render template ``entry`` from embedded ``sources`` (as made by ``collect_sources``).

    Needs no files: this is how the runtime renders prompts from a plan alone. Produces the
    same text as :func:`render_file` on the files the sources were collected from. Runs in a
    renderer process under ``limits``, where compiled templates are cached per distinct set of
    sources.
    """
    from aira_dsl.templates.renderer import render_isolated

    if entry not in sources:
        raise DiagnosticError(Diagnostic("template-missing-include",
                                         f"entry template {entry!r} is not among the sources",
                                         hint=f"sources: {', '.join(sorted(sources)) or '(none)'}"))
    return render_isolated(("sources", dict(sources), entry), context, limits or DEFAULT_LIMITS, entry)


def render_from_sources_local(sources: Mapping[str, str], entry: str, context: Mapping[str, Any],
                              limits: RenderLimits = DEFAULT_LIMITS, key: str | None = None) -> str:
    """:func:`render_from_sources` in this process (what the renderer process runs)."""
    if entry not in sources:
        raise DiagnosticError(Diagnostic("template-missing-include",
                                         f"entry template {entry!r} is not among the sources"))
    env = _environment_for(sources, key)
    return _render(env, entry, context, _store_files(env.store), entry, limits=limits)


def render_source(source: str, name: str, context: Mapping[str, Any], search_paths: Sequence[Path],
                  line_offset: int = 0, *, limits: RenderLimits | None = None) -> str:
    """Render an inline template (one written inside a spec); ``name`` is the file to report.
    Runs in a renderer process under ``limits``, like :func:`render_file`."""
    from aira_dsl.templates.renderer import render_isolated

    return render_isolated(("source", source, name, [str(p) for p in search_paths], line_offset), context,
                           limits or DEFAULT_LIMITS, name)


def render_source_local(source: str, name: str, search_paths: Sequence[str], line_offset: int,
                        context: Mapping[str, Any], limits: RenderLimits = DEFAULT_LIMITS) -> str:
    """:func:`render_source` in this process (what the renderer process runs)."""
    store = FileStore([Path(p) for p in search_paths])
    env = PromptEnvironment(store)
    return _render(env, name, context, _store_files(store, {"<template>": name}), name,
                   line_offset, source=source, limits=limits)
