"""A small LSP client for the tests: JSON-RPC over a server subprocess's stdio.

Messages are framed as the protocol says (``Content-Length: N`` header, blank line, N bytes of
UTF-8 JSON). A reader thread collects responses by id and ``publishDiagnostics`` notifications
with their arrival time, so tests can assert on positions and on how fast diagnostics come.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def uri(path: Path) -> str:
    return path.resolve().as_uri()


class LspClient:
    """Drives ``python -m aira_dsl lsp`` over stdio."""

    def __init__(self, cwd: Path, stderr_path: Path):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._stderr = stderr_path.open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "aira_dsl", "lsp", "--log-level", "info"],
                                        cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self._stderr, env=env)
        self._next_id = 0
        self._lock = threading.Condition()
        self._responses: dict[int, dict[str, Any]] = {}
        self.diagnostics: list[tuple[float, str, list[dict[str, Any]]]] = []
        self.notifications: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # ------------------------------------------------------------------ wire

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        self.process.stdin.flush()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                header = stream.readline()
                if not header:
                    return
                header = header.strip()
                if not header:
                    break
                name, _, value = header.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            assert length is not None
            message = json.loads(stream.read(length))
            with self._lock:
                if "id" in message and "method" not in message:
                    self._responses[message["id"]] = message
                elif message.get("method") == "textDocument/publishDiagnostics":
                    params = message["params"]
                    self.diagnostics.append((time.monotonic(), params["uri"], params["diagnostics"]))
                elif "id" in message:  # a request from the server: answer it
                    self.requests.append(message)
                    self._send({"id": message["id"], "result": None})
                else:
                    self.notifications.append(message)
                self._lock.notify_all()

    # ------------------------------------------------------------------ API

    def request(self, method: str, params: Any, timeout: float = 10.0) -> Any:
        with self._lock:
            self._next_id += 1
            ident = self._next_id
        self._send({"id": ident, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        with self._lock:
            while ident not in self._responses:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no answer to {method} within {timeout}s")
                self._lock.wait(left)
            response = self._responses.pop(ident)
        if "error" in response:
            raise RuntimeError(f"{method} failed: {response['error']}")
        return response.get("result")

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def wait_diagnostics(self, document: str, since: float,
                         predicate: Callable[[list[dict[str, Any]]], bool] = lambda _: True,
                         timeout: float = 10.0) -> tuple[float, list[dict[str, Any]]]:
        """The first diagnostics for ``document`` published after ``since`` that satisfy
        ``predicate``: (arrival time, diagnostics)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for arrived, target, items in self.diagnostics:
                    if target == document and arrived >= since and predicate(items):
                        return arrived, items
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(round(t - since, 3), u, [d.get("code") for d in i]) for t, u, i in self.diagnostics]
                    raise TimeoutError(f"no matching diagnostics for {document}; got {seen}")
                self._lock.wait(left)

    # ------------------------------------------------------------------ conveniences

    def initialize(self, root: Path, options: dict[str, Any] | None = None) -> Any:
        result = self.request("initialize", {
            "processId": os.getpid(), "rootUri": uri(root),
            "workspaceFolders": [{"uri": uri(root), "name": root.name}],
            "capabilities": {"workspace": {"didChangeWatchedFiles": {"dynamicRegistration": True}},
                             "textDocument": {"hover": {"contentFormat": ["markdown", "plaintext"]},
                                              "completion": {"completionItem": {"snippetSupport": False}},
                                              "publishDiagnostics": {"relatedInformation": True}}},
            "initializationOptions": options or {}})
        self.notify("initialized", {})
        return result

    def open(self, path: Path, language: str = "yaml") -> str:
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri(path), "languageId": language, "version": 1, "text": path.read_text()}})
        return uri(path)

    def change(self, document: str, version: int, line: int, start: int, end: int, text: str) -> float:
        """An incremental edit replacing characters [start, end) of 0-based ``line``; returns when sent."""
        sent = time.monotonic()
        self.notify("textDocument/didChange", {
            "textDocument": {"uri": document, "version": version},
            "contentChanges": [{"range": {"start": {"line": line, "character": start},
                                          "end": {"line": line, "character": end}}, "text": text}]})
        return sent

    def notify_close(self, document: str) -> float:
        sent = time.monotonic()
        self.notify("textDocument/didClose", {"textDocument": {"uri": document}})
        return sent

    def change_watched(self, document: str) -> float:
        """Report a file changed on disk (type 2: changed); returns when sent."""
        sent = time.monotonic()
        self.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": document, "type": 2}]})
        return sent

    def position(self, method: str, document: str, line: int, character: int) -> Any:
        return self.request(method, {"textDocument": {"uri": document},
                                     "position": {"line": line, "character": character}})

    def close(self) -> int:
        """shutdown, exit; the server's exit status."""
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            assert self.process.stdin is not None
            self.process.stdin.close()
            return self.process.wait(timeout=10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._stderr.close()
