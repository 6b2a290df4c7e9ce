"""Gathering a template and everything it includes, so a plan can carry its prompts verbatim.

A plan must render without the prompt files it was compiled from (it may be run elsewhere or
after the files changed). :func:`collect_sources` returns every template text a prompt needs,
keyed by the same stable names the renderer resolves includes to, so
:func:`~aira_dsl.templates.environment.render_from_sources` reproduces the file rendering
byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from jinja2.exceptions import TemplateSyntaxError

from aira_dsl.diagnostics import Diagnostic, DiagnosticError
from aira_dsl.templates.environment import PromptEnvironment, parsed_tree
from aira_dsl.templates.references import Reference, iter_references
from aira_dsl.templates.store import FileStore, TemplateSource, TemplateStore, resolve_name, template_name
from aira_dsl.templates.syntax import syntax_error_position, syntax_hint, syntax_message

__all__ = ["collect_inline_sources", "collect_sources"]


_REFERENCES: dict[tuple[str, str | None], list[Reference]] = {}
"""Include/import references per template text: parsing dominates, and many plans share templates."""


def _references(env: PromptEnvironment, source: TemplateSource) -> list[Reference]:
    key = (source.text, source.name)
    if key not in _REFERENCES:
        try:
            tree = parsed_tree(env, source.text, source.name, source.file)
        except TemplateSyntaxError as exc:
            line, col = syntax_error_position(env, source.text, source.name, exc)
            raise DiagnosticError(Diagnostic("template-syntax", syntax_message(exc), file=source.file, line=line,
                                             col=col, hint=syntax_hint(exc.message or "", source.text))) from None
        if len(_REFERENCES) > 512:
            _REFERENCES.clear()
        _REFERENCES[key] = list(iter_references(tree))
    return _REFERENCES[key]


def _collect(store: TemplateStore, entry: TemplateSource) -> dict[str, str]:
    env = PromptEnvironment(store)
    collected: dict[str, str] = {entry.name: entry.text}
    pending = [entry]
    while pending:
        current = pending.pop(0)
        for ref in _references(env, current):
            if ref.names is None:
                raise DiagnosticError(Diagnostic(
                    "template-dynamic-include", "the template name must be a string literal",
                    file=current.file, line=ref.lineno))
            resolved = [resolve_name(store, name, current.name) for name in ref.names]
            found = [source for source in map(store.get, resolved) if source is not None]
            if not found and not ref.ignore_missing:
                raise DiagnosticError(Diagnostic(
                    "template-missing-include", f"template {' or '.join(map(repr, ref.names))} not found",
                    file=current.file, line=ref.lineno,
                    hint=f"looked in: {', '.join(p for n in resolved for p in store.searched(n))}"))
            # Every existing candidate of a list include is embedded: which one renders is decided
            # at render time by the same lookup, so the plan must hold all of them.
            for source in found:
                if source.name not in collected:
                    collected[source.name] = source.text
                    pending.append(source)
    entry_text = collected.pop(entry.name)
    return {entry.name: entry_text, **dict(sorted(collected.items()))}


def collect_sources(path: Path, search_paths: Sequence[Path]) -> dict[str, str]:
    """The template at ``path`` and every template it includes, imports or extends, transitively.

    Keys are stable relative names (``aira/draft.j2``, ``_memory.j2``; never absolute paths);
    the entry template's key comes first, the rest in sorted order. Raises
    :class:`DiagnosticError` for a syntax error, a missing include or a non-literal include name.
    """
    path = Path(path)
    name, roots = template_name(path, search_paths)
    store = FileStore(roots, pinned={name: path})
    entry = store.get(name)
    if entry is None:
        raise DiagnosticError(Diagnostic("template-unreadable", f"cannot read template {path}", file=str(path)))
    return _collect(store, entry)


def collect_inline_sources(source: str, key: str, search_paths: Sequence[Path],
                           file: str | None = None) -> dict[str, str]:
    """Like :func:`collect_sources` for template text written inside a spec.

    ``key`` names the inline template in the result (pick one without ``/`` that cannot clash
    with a file name, e.g. ``draft.inline.j2``); ``file`` is reported in diagnostics.
    """
    store = FileStore([Path(p) for p in search_paths], pinned={})
    return _collect(store, TemplateSource(key, source, file or key))
