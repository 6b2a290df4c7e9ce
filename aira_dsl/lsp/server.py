"""The pygls language server: document sync, debounced checks, and the request handlers.

Checks run in one worker thread, one at a time, so typing never waits for a check and results
are published in the order edits were made; a check starts ``debounce`` seconds (0.1 by
default, ``initializationOptions: {"debounce": s}``) after the last edit of a document, well
inside the one second a user notices. Requests (hover, completion, definition) read the
latest results and answer at once.

Whatever the input, the server answers: a request that fails is logged and answered with
nothing, a check that fails is published as one ``internal-error`` diagnostic.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from aira_dsl import __version__
from aira_dsl.lsp.analysis import Analyzer, is_template
from aira_dsl.lsp.completion import TRIGGER_CHARACTERS, completion
from aira_dsl.lsp.convert import TextLines, document_diagnostics, uri_of
from aira_dsl.lsp.definition import definition
from aira_dsl.lsp.hover import hover
from aira_dsl.overlay import key_of

__all__ = ["AiraLanguageServer", "build_server", "serve"]

log = logging.getLogger(__name__)

DEFAULT_DEBOUNCE = 0.1
"""Seconds between the last keystroke and the check it triggers."""

Handler = TypeVar("Handler", bound=Callable[..., Any])


class AiraLanguageServer(LanguageServer):
    """A pygls server holding the :class:`Analyzer` and the pending (debounced) checks."""

    def __init__(self) -> None:
        super().__init__("aira-dsl", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.analyzer = Analyzer()
        self.debounce = DEFAULT_DEBOUNCE
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aira-dsl-check")
        self.pending: dict[str, asyncio.TimerHandle] = {}
        self.uris: dict[str, str] = {}

    # ------------------------------------------------------------------ documents

    def key_for(self, uri: str) -> str | None:
        """The analyzer key of a ``file:`` document (other schemes are not checked)."""
        path = to_fs_path(uri) if uri.startswith("file:") else None
        if path is None:
            return None
        key = key_of(path)
        self.uris[key] = uri
        return key

    def lines(self, uri: str) -> TextLines:
        document = self.workspace.get_text_document(uri)
        return TextLines(document.source, self.workspace.position_codec)

    def schedule(self, key: str, delay: float | None = None) -> None:
        """Check ``key`` (and what depends on it) after ``delay`` seconds without a newer edit."""
        loop = asyncio.get_running_loop()
        previous = self.pending.pop(key, None)
        if previous is not None:
            previous.cancel()
        self.pending[key] = loop.call_later(self.debounce if delay is None else delay,
                                            lambda: asyncio.ensure_future(self.recheck(key)))

    async def recheck(self, key: str) -> None:
        self.pending.pop(key, None)
        loop = asyncio.get_running_loop()
        try:
            published = await loop.run_in_executor(self.worker, self.compute, key)
        except Exception as exc:  # never let a check failure reach the client as a crash
            log.error("re-checking %s failed: %s: %s", key, type(exc).__name__, exc,
                      exc_info=bool(os.environ.get("AIRA_DSL_DEBUG")))
            return
        for uri, diagnostics in published:
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics))

    def compute(self, key: str) -> list[tuple[str, list[types.Diagnostic]]]:
        """Worker thread: re-check what an edit of ``key`` affects; the diagnostics to publish."""
        analyzer = self.analyzer
        if is_template(key) and not analyzer.dependants(key):
            analyzer.discover_users(key)
        outcome = analyzer.recheck(key)
        log.info("checked %d document(s) for %s in %.1f ms", len(outcome.checked), key, outcome.seconds * 1000)
        codec = self.workspace.position_codec
        published = []
        for target in outcome.publish:
            uri = self.uris.get(target) or uri_of(target)
            published.append((uri, document_diagnostics(analyzer, target, codec)))
        return published


def _read_env_files(folders: list[str]) -> None:
    """Read each workspace folder's ``.env`` (the one `run` and `validate` would read for a file
    there), so ``${env:NAME}`` values kept in it are not reported unset while editing. The
    server's own environment wins; a file that cannot be read is logged, not fatal."""
    from aira_dsl.envfile import EnvFileError, apply_env_file, find_env_file

    for folder in folders:
        path = find_env_file(os.path.join(folder, "_"), here=False)
        if path is None:
            continue
        try:
            apply_env_file(path)
        except EnvFileError as exc:
            log.warning("aira-dsl lsp: %s", exc)
            continue
        log.info("aira-dsl lsp: loaded .env from %s", path.resolve())


def _warm_up() -> None:
    """Import what checks need (the compiler, the task and sweep checkers) ahead of the first
    check, so the first diagnostics are not late by the imports' second."""
    try:
        import aira_dsl.compiler
        import aira_dsl.sweep.load
        import aira_dsl.tasks
        import aira_dsl.validation  # noqa: F401
    except Exception as exc:  # an import failure shows up, with its cause, at the first check
        log.warning("warming up failed: %s: %s", type(exc).__name__, exc)


def _safe(default: Callable[[], Any]) -> Callable[[Handler], Handler]:
    """Answer ``default()`` instead of an error when a handler fails on unexpected input."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def guarded(*args: Any) -> Any:
            try:
                return handler(*args)
            except Exception as exc:
                log.error("%s failed: %s: %s", handler.__name__, type(exc).__name__, exc,
                          exc_info=bool(os.environ.get("AIRA_DSL_DEBUG")))
                return default()

        return cast(Handler, guarded)

    return wrap


def build_server() -> AiraLanguageServer:
    """A server with every feature registered (not started)."""
    server = AiraLanguageServer()

    @server.feature(types.INITIALIZE)
    @_safe(lambda: None)
    def initialize(ls: AiraLanguageServer, params: types.InitializeParams) -> None:
        folders = [to_fs_path(f.uri) for f in params.workspace_folders or []]
        if not folders and params.root_uri:
            folders = [to_fs_path(params.root_uri)]
        ls.analyzer = Analyzer([f for f in folders if f])
        _read_env_files([f for f in folders if f])
        options = params.initialization_options
        if isinstance(options, dict) and isinstance(options.get("debounce"), int | float):
            ls.debounce = max(0.0, min(float(options["debounce"]), 1.0))
        # While the editor opens its first document; a daemon, so exit never waits for it.
        threading.Thread(target=_warm_up, name="aira-dsl-warm-up", daemon=True).start()

    @server.feature(types.INITIALIZED)
    @_safe(lambda: None)
    def initialized(ls: AiraLanguageServer, params: types.InitializedParams) -> None:
        """Ask the client to report changes of specs and templates made outside the editor
        (a git checkout, another tool), where it can: open documents that read them re-check."""
        workspace = ls.client_capabilities.workspace
        watched = workspace.did_change_watched_files if workspace is not None else None
        if watched is None or not watched.dynamic_registration:
            return
        watchers = [types.FileSystemWatcher(glob_pattern=pattern) for pattern in ("**/*.yaml", "**/*.yml", "**/*.j2")]
        ls.client_register_capability(types.RegistrationParams(registrations=[types.Registration(
            id="aira-dsl-watched-files", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers))]))

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @_safe(lambda: None)
    def did_open(ls: AiraLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        key = ls.key_for(params.text_document.uri)
        if key is not None:
            ls.analyzer.open(to_fs_path(params.text_document.uri) or key, params.text_document.text)
            ls.schedule(key, delay=0.0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @_safe(lambda: None)
    def did_change(ls: AiraLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        key = ls.key_for(params.text_document.uri)
        if key is not None:
            ls.analyzer.update(key, ls.workspace.get_text_document(params.text_document.uri).source)
            ls.schedule(key)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @_safe(lambda: None)
    def did_close(ls: AiraLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        key = ls.key_for(params.text_document.uri)
        if key is None:
            return
        ls.analyzer.close(key)
        ls.schedule(key)  # what read the editor's text now reads the saved file
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    @_safe(lambda: None)
    def watched(ls: AiraLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
        for change in params.changes:
            key = ls.key_for(change.uri)
            if key is not None and not ls.analyzer.is_open(key):
                ls.schedule(key)  # re-checks the open documents that read it

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @_safe(lambda: None)
    def on_hover(ls: AiraLanguageServer, params: types.HoverParams) -> types.Hover | None:
        key = ls.key_for(params.text_document.uri)
        if key is None:
            return None
        lines = ls.lines(params.text_document.uri)
        line, char = lines.server_position(params.position)
        return hover(ls.analyzer, key, lines, line, char)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION,
                    types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS))
    @_safe(lambda: types.CompletionList(is_incomplete=False, items=[]))
    def on_completion(ls: AiraLanguageServer, params: types.CompletionParams) -> types.CompletionList:
        key = ls.key_for(params.text_document.uri)
        if key is None:
            return types.CompletionList(is_incomplete=False, items=[])
        lines = ls.lines(params.text_document.uri)
        line, char = lines.server_position(params.position)
        return completion(ls.analyzer, key, lines, line, char)

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    @_safe(lambda: [])
    def on_definition(ls: AiraLanguageServer, params: types.DefinitionParams) -> list[types.Location]:
        key = ls.key_for(params.text_document.uri)
        if key is None:
            return []
        lines = ls.lines(params.text_document.uri)
        line, char = lines.server_position(params.position)
        return definition(ls.analyzer, key, lines, line, char)

    return server


def serve(log_level: str = "WARNING") -> None:
    """Run the server over stdin/stdout until the client says exit. Logs go to stderr, which
    editors show in their output panel."""
    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.WARNING),
                        format="aira-dsl lsp %(levelname)s %(name)s: %(message)s")
    build_server().start_io()
