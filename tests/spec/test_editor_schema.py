"""What editors see: the shipped specs pass the JSON Schema alone, as editors check them.

Editors check one file at a time against ``schema/agent.schema.json`` (through the
``# yaml-language-server: $schema=...`` modeline); a spec that ``extends`` another must not show
errors for what its base provides. Two real checkers are driven here: ``check-jsonschema`` (the
pre-commit hook many projects use) and Red Hat's ``yaml-language-server`` (VS Code's YAML
extension, Neovim's yamlls) over stdio with a small LSP client. Both must pass every shipped
spec and must still catch a seeded unknown key and a wrong type.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests_support import REPO, skip_unless_provided

SCHEMA = REPO / "schema" / "agent.schema.json"
SPECS = sorted((REPO / "specs").rglob("*.yaml"))
LOCAL_YAMLLS = REPO / ".ci" / "cache" / "yamlls" / "node_modules" / ".bin" / "yaml-language-server"


def _seeded(tmp_path: Path) -> Path:
    """A spec with an unknown key (line 4) and a wrong type (line 6)."""
    text = (REPO / "specs" / "aira-greedy.yaml").read_text()
    spec = tmp_path / "seeded.yaml"
    spec.write_text(f"# yaml-language-server: $schema={SCHEMA.as_uri()}\n"
                    "version: 1\nname: seeded\n"
                    "polcy: {kind: greedy}\n"
                    "budget:\n  steps: many\n"
                    + "".join(line + "\n" for line in text.splitlines()
                              if line.startswith(("extends:", "description:"))))
    spec.write_text(spec.read_text().replace("extends: ", "extends: " + str(REPO / "specs") + "/"))
    return spec


def test_check_jsonschema_passes_every_shipped_spec_and_catches_seeded_errors(tmp_path: Path) -> None:
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    done = subprocess.run([exe, "--schemafile", str(SCHEMA), *map(str, SPECS)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    seeded = subprocess.run([exe, "--schemafile", str(SCHEMA), str(_seeded(tmp_path))], capture_output=True,
                            text=True, timeout=120)
    assert seeded.returncode == 1
    assert "'polcy' was unexpected" in seeded.stdout, seeded.stdout
    wrong_type = tmp_path / "wrong-type.yaml"
    wrong_type.write_text(_seeded(tmp_path).read_text().replace("polcy: {kind: greedy}\n", ""))
    typed = subprocess.run([exe, "--schemafile", str(SCHEMA), str(wrong_type)], capture_output=True,
                           text=True, timeout=120)
    assert typed.returncode == 1 and "steps" in typed.stdout and "'many'" in typed.stdout, typed.stdout


class LspClient:
    """A minimal JSON-RPC client over a language server's stdio (Content-Length framing)."""

    def __init__(self, command: list[str], settings: dict[str, Any]) -> None:
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.settings = settings
        self.inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            length = 0
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.inbox.put(json.loads(stream.read(length)))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def request(self, method: str, params: Any, timeout: float = 30) -> Any:
        self.next_id += 1
        wanted = self.next_id
        self.send({"id": wanted, "method": method, "params": params})
        for message in self.messages(timeout):
            if message is not None and message.get("id") == wanted and "method" not in message:
                return message.get("result")
        raise AssertionError(f"no answer to {method}")

    def messages(self, timeout: float) -> Any:
        """Yield server messages until ``timeout`` (None on each quiet 0.2 s, so callers can stop
        early), answering the server's own requests."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self.inbox.get(timeout=min(left, 0.2))
            except queue.Empty:
                yield None
                continue
            if "method" in message and "id" in message:  # a request from the server
                result: Any = None
                if message["method"] == "workspace/configuration":
                    result = [self.settings.get(item.get("section", ""), None)
                              for item in message["params"]["items"]]
                self.send({"id": message["id"], "result": result})
                continue
            yield message

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=5)
            self.send({"method": "exit"})
            self.proc.wait(timeout=5)
        except (AssertionError, OSError, subprocess.TimeoutExpired):
            self.proc.kill()


def _yamlls() -> list[str]:
    found = os.environ.get("AIRA_YAMLLS") or shutil.which("yaml-language-server") or (
        str(LOCAL_YAMLLS) if LOCAL_YAMLLS.exists() else None)
    if found is None or shutil.which("node") is None:
        skip_unless_provided("yaml-language-server", "yaml-language-server (npm) is not installed: "
                             "`npm install --prefix .ci/cache/yamlls yaml-language-server@1` (.ci/run does it)")
    assert found is not None
    return [found, "--stdio"]


def _diagnose(files: list[Path]) -> dict[Path, list[dict[str, Any]]]:
    settings = {"yaml": {"validate": True, "hover": True, "completion": True, "schemaStore": {"enable": False},
                         "format": {"enable": False}, "schemas": {}}}
    client = LspClient(_yamlls(), settings)
    try:
        client.request("initialize", {"processId": os.getpid(), "rootUri": REPO.as_uri(),
                                      "capabilities": {"workspace": {"configuration": True}}})
        client.send({"method": "initialized", "params": {}})
        client.send({"method": "workspace/didChangeConfiguration", "params": {"settings": settings}})
        by_uri = {path.resolve().as_uri(): path for path in files}
        for path in files:
            client.send({"method": "textDocument/didOpen", "params": {"textDocument": {
                "uri": path.resolve().as_uri(), "languageId": "yaml", "version": 1, "text": path.read_text()}}})
        # The server publishes a (possibly empty) list per document once its schema is loaded;
        # later publications of the same document replace earlier ones.
        result: dict[Path, list[dict[str, Any]]] = {}
        settle = time.monotonic() + 60
        for message in client.messages(timeout=60):
            if message is not None and message.get("method") == "textDocument/publishDiagnostics":
                uri = message["params"]["uri"]
                if uri in by_uri:
                    result[by_uri[uri]] = message["params"]["diagnostics"]
            if len(result) == len(files):
                settle = min(settle, time.monotonic() + 2)  # allow a late re-publication
            if time.monotonic() > settle:
                break
        missing = [str(p) for p in files if p not in result]
        assert not missing, f"no diagnostics published for {missing}"
        return result
    finally:
        client.close()


def test_yaml_language_server_shows_no_error_on_shipped_specs(tmp_path: Path) -> None:
    found = _diagnose(SPECS)
    problems = {str(path.relative_to(REPO)): [(d["range"]["start"]["line"] + 1, d["message"]) for d in diags]
                for path, diags in found.items() if diags}
    assert not problems, problems


def test_yaml_language_server_catches_a_seeded_unknown_key_and_wrong_type(tmp_path: Path) -> None:
    seeded = _seeded(tmp_path)
    [diags] = _diagnose([seeded]).values()
    lines = {d["range"]["start"]["line"] + 1: d["message"] for d in diags}
    assert 4 in lines and "polcy" in lines[4], lines       # unknown key
    assert 6 in lines and "integer" in lines[6].lower(), lines  # steps: many
    assert all(d.get("severity", 1) <= 2 for d in diags)


@pytest.fixture(autouse=True)
def _schema_is_current() -> None:
    """The checks above read the committed schema; it must be the generated one."""
    from aira_dsl.schemagen.generate import agent_schema, render

    assert SCHEMA.read_text() == render(agent_schema()), "run: python -m aira_dsl.schemagen"
