"""``aira-dsl view PATH --serve``: the viewer over local HTTP, following live runs, prompts on demand.

A static page cannot watch a run that is still being written, and browsers refuse ``fetch`` on
``file://``; a tiny read-only server can do both. It renders the same pages as ``aira-dsl view``
(fresh from the journal on each load) and answers two small JSON endpoints next to each run's
page:

- ``api/nodes?since=VERSION``: what changed since the page's version (nodes added, changed or
  removed, the new layout, the header and table re-rendered); ``{"changed": false}`` when the
  run's files have not moved, which costs four ``stat`` calls, so a page can poll every second;
- ``api/calls/ID``: node ``ID``'s LLM calls with their prompts and answers, loaded when its
  details are opened, so pages stay small however long the prompts are.

Safety, since the server reads a user's folders: it binds 127.0.0.1 only and checks the
``Host`` header (a web page cannot reach it through DNS rebinding); it answers only requests
that hold its access token, made at start and printed in its URL (``/?token=...``), so another
user of a shared machine (a cluster's login node) who finds the port cannot read the runs: the
first request with the token gets it back as an ``HttpOnly``, ``SameSite=Strict`` cookie for
this port and a redirect to the same address without the token (so it stays out of history and
the page's links), and later requests carry the cookie; it only answers GET and
HEAD and never writes; URL paths are decoded once, and any ``..``, ``.`` or hidden (``.name``)
segment is refused; every path is resolved with symlinks followed and must stay inside the
served folder (a link pointing out of it is refused, one pointing inside works); raw files are
served only from inside run folders, as plain text or downloads, never as pages; pages carry a
Content-Security-Policy that allows no other origin.

The standard library's ``http.server`` is enough: one user, a handful of requests a second.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import posixpath
import secrets
import stat
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit

from aira_dsl.report.discover import RUN_FILE, is_run_dir, runs_below
from aira_dsl.report.errors import ReportError
from aira_dsl.report.load import PLAN_FILE, load_run
from aira_dsl.report.model import RunData
from aira_dsl.report.viewer import page_fragments, render_viewer, viewer_data
from aira_dsl.report.viewer_calls import node_calls
from aira_dsl.report.viewer_index import INDEX_FILE, PAGE_FILE, index_row, render_index
from aira_dsl.runtime.journal import JOURNAL_FILE

__all__ = ["HOST", "TOKEN_PARAM", "Response", "ViewerServer", "ViewerSite", "make_server", "resolve_inside", "run_version",
           "url_segments"]

HOST = "127.0.0.1"
"""The only address the server listens on: the viewer is for the person at this machine."""

TOKEN_PARAM = "token"
"""The query parameter that carries the access token on the first request."""

_HISTORY = 32
"""Versions per run whose node digests are kept, so a page a few updates behind gets a diff."""

_TEXT_SUFFIXES = {".txt", ".py", ".log", ".csv", ".tsv", ".json", ".jsonl", ".md", ".yaml", ".yml", ".j2",
                  ".js", ".toml", ".cfg", ".ini", ".out", ".err"}

_PAGE_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; "
             "img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def url_segments(url_path: str) -> list[str] | None:
    """The path segments of a URL path, percent-decoded once, or ``None`` when any is unsafe.

    Refused: undecodable bytes, NUL bytes, backslashes, and ``.``, ``..`` or hidden (``.name``)
    segments, whether written plainly or percent-encoded. Empty segments (``a//b``) are dropped.
    """
    try:
        path = unquote(url_path, errors="strict")
    except UnicodeDecodeError:
        return None
    if "\x00" in path or "\\" in path:
        return None
    parts = [p for p in path.split("/") if p]
    if any(p.startswith(".") for p in parts):
        return None
    return parts


def resolve_inside(root: Path, parts: Sequence[str]) -> Path | None:
    """``root/part/...`` with every symlink resolved, or ``None`` when that leaves ``root``.

    ``root`` must be resolved already; ``parts`` come from :func:`url_segments`. A link that
    points inside ``root`` is followed; one that points out of it (at any level) is refused.
    """
    if any(p in ("", ".", "..") or "/" in p or "\x00" in p for p in parts):
        return None
    real = Path(os.path.realpath(root.joinpath(*parts)))
    if real != root and root not in real.parents:
        return None
    return real


def run_version(run_dir: Path) -> str:
    """A short token that changes whenever the run's files do (size and modification time).

    The journal's WAL file is included: a committed node lands there before any checkpoint
    touches ``journal.sqlite``. An empty WAL counts as none, since merely opening the journal
    to read it may create one.
    """
    parts = []
    for name in (RUN_FILE, PLAN_FILE, JOURNAL_FILE, JOURNAL_FILE + "-wal"):
        try:
            st = os.stat(run_dir / name)
        except OSError:
            parts.append(f"{name}:-")
            continue
        parts.append(f"{name}:-" if st.st_size == 0 and name.endswith("-wal") else
                     f"{name}:{st.st_mtime_ns}:{st.st_size}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def _digest(node: dict[str, Any]) -> str:
    """A node's fingerprint without its position (a new node may move others, not change them)."""
    body = {k: v for k, v in node.items() if k not in ("x", "y")}
    return hashlib.sha1(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class _Snapshot:
    version: str
    run: RunData
    data: dict[str, Any]
    digests: dict[int, str]


@dataclass
class _RunState:
    """One run's latest snapshot and the node digests of its recent versions."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    snapshot: _Snapshot | None = None
    history: OrderedDict[str, dict[int, str]] = field(default_factory=OrderedDict)

    def current(self, run_dir: Path) -> _Snapshot:
        with self.lock:
            version = run_version(run_dir)
            if self.snapshot is not None and self.snapshot.version == version:
                return self.snapshot
            run = load_run(run_dir)
            data = viewer_data(run)
            digests = {n["id"]: _digest(n) for n in data["nodes"]}
            self.snapshot = _Snapshot(version, run, data, digests)
            self.history[version] = digests
            self.history.move_to_end(version)
            while len(self.history) > _HISTORY:
                self.history.popitem(last=False)
            return self.snapshot

    def known(self, version: str) -> dict[int, str] | None:
        with self.lock:
            return self.history.get(version)


@dataclass
class Response:
    """What one request gets: a status, headers, and a body (bytes, or an open file to stream)."""

    status: int
    content_type: str
    body: bytes | BinaryIO = b""
    headers: dict[str, str] = field(default_factory=dict)
    length: int | None = None


def _text(status: int, message: str) -> Response:
    return Response(status, "text/plain; charset=utf-8", (message + "\n").encode())


def _json(data: Any) -> Response:
    body = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    return Response(200, "application/json; charset=utf-8", body, {"Cache-Control": "no-store"})


def _page(html: str) -> Response:
    return Response(200, "text/html; charset=utf-8", html.encode(),
                    {"Cache-Control": "no-store", "Content-Security-Policy": _PAGE_CSP})


class ViewerSite:
    """The pages and endpoints of one served folder: a run, or a folder of runs (a sweep).

    Request handling lives here, apart from the HTTP plumbing, so tests can ask for any URL
    without a socket.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))
        self.single = is_run_dir(self.root)
        self._states: dict[Path, _RunState] = {}
        self._lock = threading.Lock()

    def _state(self, run_dir: Path) -> _RunState:
        with self._lock:
            return self._states.setdefault(run_dir, _RunState())

    def _run_dir(self, parts: list[str]) -> Path | None:
        """The run folder named by URL segments (``[]``: the served run itself), if it is one."""
        if self.single:
            return self.root if not parts else None
        if not parts:
            return None
        folder = resolve_inside(self.root, parts)
        return folder if folder is not None and folder != self.root and is_run_dir(folder) else None

    def _inside_a_run(self, path: Path) -> bool:
        return any(is_run_dir(p) for p in (path, *path.parents) if p == self.root or self.root in p.parents)

    def handle(self, target: str) -> Response:
        """Answer a GET for ``target`` (path and query, as in the request line)."""
        url = urlsplit(target)
        parts = url_segments(url.path)
        if parts is None:
            return _text(404, "not found")
        query = parse_qs(url.query)
        try:
            return self._route(parts, query, url.path.endswith("/") or not parts)
        except ReportError as exc:
            return _text(500, exc.render())

    def _route(self, parts: list[str], query: dict[str, list[str]], folder: bool) -> Response:
        if not parts or parts == [INDEX_FILE if not self.single else PAGE_FILE]:
            return self._run_page(self.root, []) if self.single else self._index()
        if parts[-1] == PAGE_FILE and (run_dir := self._run_dir(parts[:-1])) is not None:
            return self._run_page(run_dir, parts[:-1])
        if folder and (run_dir := self._run_dir(parts)) is not None:
            return self._run_page(run_dir, parts)
        if len(parts) >= 2 and parts[-2:] == ["api", "nodes"] and (run_dir := self._run_dir(parts[:-2])):
            return self._nodes(run_dir, (query.get("since") or [""])[0])
        if (len(parts) >= 3 and parts[-3:-1] == ["api", "calls"] and parts[-1].isdigit()
                and (run_dir := self._run_dir(parts[:-3]))):
            return _json({"node": int(parts[-1]), "calls": node_calls(run_dir, int(parts[-1]))})
        return self._file(parts)

    def _index_href(self, parts: list[str]) -> str | None:
        if self.single:
            return None
        return posixpath.relpath("/" + INDEX_FILE, "/" + "/".join(parts))

    def _run_page(self, run_dir: Path, parts: list[str]) -> Response:
        snap = self._state(run_dir).current(run_dir)
        return _page(render_viewer(snap.run, api=True, index_href=self._index_href(parts), version=snap.version,
                                   data=snap.data))

    def _nodes(self, run_dir: Path, since: str) -> Response:
        state = self._state(run_dir)
        if state.snapshot is not None and since == run_version(run_dir) == state.snapshot.version:
            return _json({"changed": False, "version": since})
        snap = state.current(run_dir)
        if since == snap.version:
            return _json({"changed": False, "version": since})
        before = state.known(since)
        nodes = snap.data["nodes"]
        changed = nodes if before is None else [n for n in nodes if before.get(n["id"]) != snap.digests[n["id"]]]
        removed = [] if before is None else sorted(set(before) - set(snap.digests))
        parts = self._parts_of(run_dir)
        return _json({
            "changed": True, "version": snap.version, "full": before is None, "run": snap.data["run"],
            "nodes": changed, "removed": removed, "layout": [[n["id"], n["x"], n["y"]] for n in nodes],
            "progress": snap.data["progress"],
            **page_fragments(snap.run, snap.data, live=snap.run.status == "running",
                             index_href=self._index_href(parts))})

    def _parts_of(self, run_dir: Path) -> list[str]:
        return [] if run_dir == self.root else list(run_dir.relative_to(self.root).parts)

    def _index(self) -> Response:
        rows = []
        for run_dir in runs_below(self.root):
            real = Path(os.path.realpath(run_dir))
            if real != self.root and self.root not in real.parents:
                continue  # a symlinked run outside the served folder
            try:
                snap = self._state(real).current(real)
            except ReportError as exc:
                rows.append(index_row(None, run_dir, self.root, error=exc.message))
                continue
            rows.append(index_row(snap.run, run_dir, self.root))
        return _page(render_index(self.root, rows, api=True))

    def _file(self, parts: list[str]) -> Response:
        path = resolve_inside(self.root, parts)
        if path is None or not path.is_file() or not self._inside_a_run(path.parent):
            return _text(404, "not found")
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return _text(404, "not found")
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return _text(404, "not found")
        headers = {"Cache-Control": "no-store", "Content-Security-Policy": "sandbox; default-src 'none'"}
        if path.suffix.lower() in _TEXT_SUFFIXES:
            kind = "text/plain; charset=utf-8"
        else:
            kind = "application/octet-stream"
            headers["Content-Disposition"] = "attachment"
        return Response(200, kind, os.fdopen(fd, "rb"), headers, length=info.st_size)


class _Handler(BaseHTTPRequestHandler):
    server: ViewerServer
    server_version = "aira-dsl-view"
    protocol_version = "HTTP/1.1"

    def _host_ok(self) -> bool:
        """Refuse requests addressed to another host name (DNS rebinding)."""
        host = self.headers.get("Host")
        if host is None:
            return True
        port = self.server.server_address[1]
        return host in {f"{HOST}:{port}", f"localhost:{port}", HOST, "localhost"}

    def _authorized(self) -> Response | None:
        """None when the request may be answered; else the refusal, or the redirect that trades
        a token in the URL for the cookie."""
        server = self.server
        if server.token is None:
            return None
        url = urlsplit(self.path)
        pairs = parse_qsl(url.query, keep_blank_values=True)
        given = [value for key, value in pairs if key == TOKEN_PARAM]
        if given:
            if not any(hmac.compare_digest(value.encode(), server.token.encode()) for value in given):
                return _text(403, "wrong access token: open the URL that `aira-dsl view --serve` printed")
            rest = urlencode([(key, value) for key, value in pairs if key != TOKEN_PARAM])
            location = url.path + (f"?{rest}" if rest else "")
            return Response(303, "text/plain; charset=utf-8", b"see other\n", {
                "Location": location, "Cache-Control": "no-store",
                "Set-Cookie": f"{server.cookie_name}={server.token}; Path=/; HttpOnly; SameSite=Strict"})
        for part in (self.headers.get_all("Cookie") or []):
            for item in part.split(";"):
                name, _, value = item.strip().partition("=")
                if name == server.cookie_name and hmac.compare_digest(value.encode(), server.token.encode()):
                    return None
        return _text(403, "this viewer needs its access link: open the URL that `aira-dsl view --serve` "
                          "printed (it holds a token)")

    def _respond(self, head_only: bool) -> None:
        refusal = _text(403, "forbidden host") if not self._host_ok() else self._authorized()
        response = refusal if refusal is not None else self.server.site.handle(self.path)
        body = response.body
        length = response.length if response.length is not None else len(body) if isinstance(body, bytes) else 0
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            if head_only:
                return
            if isinstance(body, bytes):
                self.wfile.write(body)
            else:
                while chunk := body.read(1 << 16):
                    self.wfile.write(chunk)
        finally:
            if not isinstance(body, bytes):
                body.close()

    def do_GET(self) -> None:
        self._respond(head_only=False)

    def do_HEAD(self) -> None:
        self._respond(head_only=True)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a live page polls every two seconds; only failures are worth a line."""
        if self.server.verbose:
            super().log_message(format, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if isinstance(code, HTTPStatus):
            code = code.value
        if self.server.verbose or (isinstance(code, int) and code >= 400):
            super().log_request(code, size)


class ViewerServer(ThreadingHTTPServer):
    """The HTTP server of one :class:`ViewerSite`, bound to 127.0.0.1."""

    daemon_threads = True

    def __init__(self, site: ViewerSite, port: int, *, verbose: bool = False, token: bool = True) -> None:
        self.site = site
        self.verbose = verbose
        self.token: str | None = secrets.token_urlsafe(24) if token else None
        """The access token (None: every local request is answered, for tests of the pages only)."""
        super().__init__((HOST, port), _Handler)

    @property
    def url(self) -> str:
        """The server's base address, without the token."""
        return f"http://{HOST}:{self.server_address[1]}/"

    @property
    def cookie_name(self) -> str:
        """Cookies are shared by every port of a host: each server's has its own name."""
        return f"aira_view_{self.server_address[1]}"

    def access_url(self, path: str = "") -> str:
        """The address to open (``path`` relative to the root, with any query), token included."""
        if self.token is None:
            return self.url + path
        path, hash_mark, fragment = path.partition("#")
        return (self.url + path + ("&" if "?" in path else "?") + f"{TOKEN_PARAM}={self.token}"
                + hash_mark + fragment)


def make_server(path: Path, port: int = 0, *, verbose: bool = False) -> ViewerServer:
    """A server for the run or folder of runs at ``path`` on ``127.0.0.1:port`` (0: a free port).

    Raises :class:`ReportError` when ``path`` holds no run or the port cannot be bound.
    """
    path = Path(path)
    if not path.is_dir():
        raise ReportError(f"{path}: no such folder" if not path.exists() else f"{path}: not a folder",
                          "pass a run folder or a folder that contains runs")
    if not is_run_dir(path) and not runs_below(path):
        raise ReportError(f"{path}: no runs in this folder (no {RUN_FILE} or {JOURNAL_FILE} at any depth)",
                          "pass the folder a run wrote, or a folder that contains runs")
    try:
        return ViewerServer(ViewerSite(path), port, verbose=verbose)
    except OSError as exc:
        raise ReportError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}",
                          "choose another port with --port (0 picks a free one)") from None
