"""The language server over stdio, driven by a JSON-RPC test client (tests/lsp/lspclient.py).

Positions in LSP are 0-based (lines and UTF-16 characters); aira-dsl's diagnostics are 1-based.
These tests pin the conversion on real edits, and that diagnostics arrive within one second of
the change that causes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lspclient import LspClient, uri
from tests_support import import_or_skip  # type: ignore[import-not-found]

LATENCY = 1.0
"""Seconds within which diagnostics must follow the change that causes them."""


def codes(diagnostics: list[dict[str, Any]]) -> set[str]:
    return {d["code"] for d in diagnostics}


def locate(path: Path, needle: str, after: str = "") -> tuple[int, int]:
    """0-based (line, character) of ``needle`` in the file (the first after ``after``)."""
    lines = path.read_text().split("\n")
    for number, line in enumerate(lines):
        column = line.find(needle, line.find(after) + len(after) if after and after in line else 0)
        if column >= 0 and (not after or after in line):
            return number, column
    raise AssertionError(f"{needle!r} not in {path}")


def start(diagnostic: dict[str, Any]) -> tuple[int, int]:
    return diagnostic["range"]["start"]["line"], diagnostic["range"]["start"]["character"]


def test_initialize_advertises_the_features(project: Path, tmp_path: Path) -> None:
    lsp = LspClient(project, tmp_path / "stderr.log")
    try:
        result = lsp.initialize(project)
        capabilities = result["capabilities"]
        assert capabilities["textDocumentSync"]["change"] == 2  # incremental
        assert capabilities["hoverProvider"] and capabilities["definitionProvider"]
        assert "." in capabilities["completionProvider"]["triggerCharacters"]
        assert result["serverInfo"]["name"] == "aira-dsl"
    finally:
        assert lsp.close() == 0  # shutdown, then exit: status 0


def test_template_variable_and_expression_errors_arrive_at_their_positions(client: LspClient, project: Path) -> None:
    spec = project / "specs/agent.yaml"
    opened = client.open(spec)
    _, first = client.wait_diagnostics(opened, 0)
    assert first == []  # the project is clean

    # An unknown template variable in an inline (block scalar) prompt.
    line, column = first_edit = locate(spec, "task.name", after="Improve")
    sent = client.change(opened, 2, line, column, column + len("task.name"), "tsk.name")
    arrived, found = client.wait_diagnostics(opened, sent, lambda ds: "template-unknown-variable" in codes(ds))
    assert arrived - sent <= LATENCY
    (diagnostic,) = [d for d in found if d["code"] == "template-unknown-variable"]
    assert start(diagnostic) == (line, column)
    assert diagnostic["range"]["end"] == {"line": line, "character": column + len("tsk")}
    assert diagnostic["severity"] == 1 and diagnostic["source"] == "aira-dsl"
    assert "hint: did you mean 'task'?" in diagnostic["message"]

    # A bad expression (a misspelt field) in memory.where, while the first error stays.
    line, column = locate(spec, "node.buggy")
    bad_column = column + len("node.")
    sent = client.change(opened, 3, line, bad_column, bad_column + len("buggy"), "bugy")
    arrived, found = client.wait_diagnostics(
        opened, sent, lambda ds: {"template-unknown-variable", "expr-unknown-name"} <= codes(ds))
    assert arrived - sent <= LATENCY
    (expression,) = [d for d in found if d["code"] == "expr-unknown-name"]
    assert start(expression) == (line, bad_column)
    assert expression["range"]["end"] == {"line": line, "character": bad_column + len("bugy")}

    # Fixing both clears the file.
    client.change(opened, 4, line, bad_column, bad_column + len("bugy"), "buggy")
    line, column = first_edit
    sent = client.change(opened, 5, line, column, column + 3, "task")
    arrived, found = client.wait_diagnostics(opened, sent, lambda ds: ds == [])
    assert arrived - sent <= LATENCY


def test_template_edit_rechecks_the_specs_that_use_it(client: LspClient, project: Path) -> None:
    spec, fragment = project / "specs/agent.yaml", project / "prompts/_rules.j2"
    opened = client.open(spec)
    client.wait_diagnostics(opened, 0)
    template = client.open(fragment, "jinja")
    client.wait_diagnostics(template, 0)

    line, column = locate(fragment, "metric.name")
    sent = client.change(template, 2, line, column + len("metric."), column + len("metric.name"), "nam")
    arrived, in_template = client.wait_diagnostics(template, sent, lambda ds: bool(ds))
    assert arrived - sent <= LATENCY
    (diagnostic,) = in_template
    assert diagnostic["code"] == "template-unknown-attribute"
    assert start(diagnostic) == (line, column + len("metric."))

    # The spec shows it where the prompt that includes the fragment is named, pointing at it.
    _, in_spec = client.wait_diagnostics(opened, sent, lambda ds: bool(ds))
    (shown,) = in_spec
    prompt_line, prompt_column = locate(spec, "../prompts/draft.j2")
    assert start(shown) == (prompt_line, prompt_column)
    assert shown["message"].startswith("../prompts/_rules.j2:1: ")
    (related,) = shown["relatedInformation"]
    assert related["location"]["uri"] == uri(fragment)
    assert related["location"]["range"]["start"] == {"line": line, "character": column + len("metric.")}

    # Closing the template without saving: the spec reads the saved (clean) file again.
    sent = client.notify_close(template)
    client.wait_diagnostics(template, sent, lambda ds: ds == [])
    arrived, _ = client.wait_diagnostics(opened, sent, lambda ds: ds == [])
    assert arrived - sent <= LATENCY


def test_base_spec_problems_point_into_the_base(client: LspClient, project: Path) -> None:
    spec, base = project / "specs/agent.yaml", project / "specs/base.yaml"
    opened = client.open(spec)
    client.wait_diagnostics(opened, 0)
    base_uri = client.open(base)
    client.wait_diagnostics(base_uri, 0)
    line, column = locate(base, "reviewer", after="model: ")
    sent = client.change(base_uri, 2, line, column, column + len("reviewer"), "reveiwer")
    # The base is abstract: on its own the reference is fine; through agent.yaml it is not.
    arrived, found = client.wait_diagnostics(opened, sent, lambda ds: "unknown-model" in codes(ds))
    assert arrived - sent <= LATENCY
    (shown,) = [d for d in found if d["code"] == "unknown-model"]
    assert start(shown) == locate(spec, "base.yaml")  # the extends line
    assert shown["relatedInformation"][0]["location"]["uri"] == uri(base)
    assert start(shown["relatedInformation"][0]["location"]) == (line, column)


def test_an_edit_rechecks_only_what_it_touches(client: LspClient, project: Path) -> None:
    agent, other = client.open(project / "specs/agent.yaml"), client.open(project / "specs/other.yaml")
    client.wait_diagnostics(agent, 0)
    client.wait_diagnostics(other, 0)
    published = len(client.diagnostics)
    line, column = locate(project / "specs/agent.yaml", "num_drafts: 3")
    sent = client.change(agent, 2, line, column + len("num_drafts: "), column + len("num_drafts: 3"), "0")
    client.wait_diagnostics(agent, sent, lambda ds: "out-of-range" in codes(ds))
    later = [target for _, target, _ in client.diagnostics[published:]]
    assert other not in later  # other.yaml does not read agent.yaml: not re-checked, not re-published


def test_hover_documents_fields_and_template_variables(client: LspClient, project: Path) -> None:
    spec, template = project / "specs/agent.yaml", project / "prompts/draft.j2"
    opened = client.open(spec)
    client.wait_diagnostics(opened, 0)

    line, column = locate(spec, "num_drafts")
    text = client.position("textDocument/hover", opened, line, column + 2)["contents"]["value"]
    assert "policy.num_drafts" in text and "Number of root drafts" in text and "default `5`" in text

    line, column = locate(spec, "task.name", after="Improve")  # inside an inline improve prompt
    text = client.position("textDocument/hover", opened, line, column + 6)["contents"]["value"]
    assert "`task.name`" in text and "string" in text and "improve templates" in text

    line, column = locate(spec, "node.buggy")
    text = client.position("textDocument/hover", opened, line, column + 6)["contents"]["value"]
    assert "`node.buggy`" in text and "bool | null" in text

    line, column = locate(spec, "kind: draft")
    text = client.position("textDocument/hover", opened, line, column + len("kind: d"))["contents"]["value"]
    assert "write a new solution from the task alone" in text

    opened_template = client.open(template, "jinja")
    client.wait_diagnostics(opened_template, 0)
    line, column = locate(template, "entry.plan")
    text = client.position("textDocument/hover", opened_template, line, column + len("entry.p"))["contents"]["value"]
    assert "`entry.plan`" in text and "string" in text and "draft templates" in text


def test_completion_offers_the_documented_items(client: LspClient, project: Path) -> None:
    spec, template = project / "specs/agent.yaml", project / "prompts/draft.j2"
    opened = client.open(spec)
    client.wait_diagnostics(opened, 0)

    def labels(document: str, line: int, character: int) -> list[str]:
        return [item["label"] for item in client.position("textDocument/completion", document, line, character)["items"]]

    line, column = locate(spec, "model: coder")  # model names, from this spec and its base
    assert labels(opened, line, column + len("model: co")) == ["coder", "reviewer"]
    line, column = locate(spec, "draft: draft")  # operator names for a policy role, fitting kinds first
    found = labels(opened, line, column + len("draft: dr"))
    assert found[0] == "draft" and set(found) == {"draft", "improve", "debug", "analyze"}
    line, column = locate(spec, "kind: greedy")
    assert labels(opened, line, column + len("kind: gr")) == ["greedy", "mcts", "evolutionary"]
    line, column = locate(spec, "kind: draft")
    assert labels(opened, line, column + len("kind: dr")) == ["draft", "improve", "debug", "crossover", "analyze"]
    line, column = locate(spec, "num_drafts")  # policy parameters of the greedy policy
    found = labels(opened, line, column + 3)
    assert {"debug_prob", "max_debug_depth"} <= set(found) and "num_drafts" in found
    assert "kind" not in found and "num_islands" not in found  # written already; an evolutionary parameter

    # Template variables inside a .j2 file: the fields of task, then the common variables.
    opened_template = client.open(template, "jinja")
    client.wait_diagnostics(opened_template, 0)
    line, column = locate(template, "task.name")
    found = labels(opened_template, line, column + len("task."))
    assert {"name", "description", "metric", "time_remaining"} <= set(found)
    line, column = locate(template, "{{ task.description")
    found = labels(opened_template, line, column + len("{{ "))
    assert {"task", "memory", "vars", "hardware"} <= set(found) and "parent" not in found  # a draft template
    line, column = locate(template, "entry.plan")
    assert "summary" in labels(opened_template, line, column + len("entry."))  # a loop over memory


def test_definition_follows_extends_prompts_and_references(client: LspClient, project: Path) -> None:
    spec = project / "specs/agent.yaml"
    opened = client.open(spec)
    client.wait_diagnostics(opened, 0)

    def target(line: int, character: int) -> tuple[str, int, int]:
        (location,) = client.position("textDocument/definition", opened, line, character)
        return location["uri"], *start(location)

    line, column = locate(spec, "base.yaml")
    assert target(line, column + 2) == (uri(project / "specs/base.yaml"), 0, 0)
    line, column = locate(spec, "../prompts/draft.j2")
    assert target(line, column + 12) == (uri(project / "prompts/draft.j2"), 0, 0)
    line, column = locate(spec, "draft: draft")
    assert target(line, column + len("draft: d")) == (uri(spec), *locate(spec, "draft:"))
    line, column = locate(spec, "model: coder")
    assert target(line, column + len("model: c")) == (uri(project / "specs/base.yaml"),
                                                      *locate(project / "specs/base.yaml", "coder:"))

    template = client.open(project / "prompts/draft.j2", "jinja")
    line, column = locate(project / "prompts/draft.j2", "_rules.j2")
    (location,) = client.position("textDocument/definition", template, line, column + 2)
    assert location["uri"] == uri(project / "prompts/_rules.j2")


def test_bad_input_is_answered_without_tracebacks(client: LspClient, project: Path) -> None:
    broken = project / "specs/broken.yaml"
    broken.write_text("version: 1\noperators:\n  a: [unclosed\n\t- tab\n")
    opened = client.open(broken)
    _, found = client.wait_diagnostics(opened, 0, lambda ds: bool(ds))
    assert "yaml-syntax" in codes(found)
    weird = project / "specs/weird.yaml"
    weird.write_text("version: 1\noperators: !!python/object:os.system {}\n" + "x: " + "[" * 300 + "\n")
    client.wait_diagnostics(client.open(weird), 0, lambda ds: bool(ds))
    # Requests at impossible places, on unknown or non-file documents, answer with nothing.
    assert client.position("textDocument/hover", opened, 999, 999) is None
    assert client.position("textDocument/definition", opened, 3, 10_000) == []
    assert client.position("textDocument/completion", "untitled:Untitled-1", 0, 0)["items"] == []
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri(project / "nope.yaml"), "version": 2},
                                             "contentChanges": [{"text": "x"}]})
    # Typing into a clean spec until it is an empty document still gives diagnostics.
    spec = client.open(project / "specs/agent.yaml")
    client.wait_diagnostics(spec, 0)
    client.notify("textDocument/didChange", {"textDocument": {"uri": spec, "version": 9},
                                             "contentChanges": [{"text": ""}]})
    client.wait_diagnostics(spec, 0, lambda ds: "empty-file" in codes(ds))
    assert client.position("textDocument/hover", spec, 0, 0) is None


def test_files_changed_outside_the_editor_recheck_open_specs(client: LspClient, project: Path) -> None:
    spec, base = project / "specs/agent.yaml", project / "specs/base.yaml"
    opened = client.open(spec)
    client.wait_diagnostics(opened, 0)
    (registration,) = [r for r in client.requests if r["method"] == "client/registerCapability"]
    assert registration["params"]["registrations"][0]["method"] == "workspace/didChangeWatchedFiles"
    base.write_text(base.read_text().replace("model: reviewer", "model: gone"))  # e.g. a git checkout
    sent = client.change_watched(uri(base))
    arrived, _ = client.wait_diagnostics(opened, sent, lambda ds: "unknown-model" in codes(ds))
    assert arrived - sent <= LATENCY


def test_the_workspace_env_file_is_read_as_validate_reads_it(project: Path, tmp_path: Path,
                                                             monkeypatch: Any) -> None:
    """A ${env:NAME} kept in the workspace's .env is not reported unset in the editor (as in
    `aira-dsl validate`), and the file's values never reach the log."""
    import_or_skip("pygls", "pygls", "the language server needs pygls: pip install 'aira-dsl[lsp]'")
    monkeypatch.delenv("AIRA_LSP_TEST_MODEL", raising=False)
    spec = project / "specs" / "env-agent.yaml"
    spec.write_text('version: 1\nextends: aira-dsl:specs/aira-greedy.yaml\nname: env-agent\n'
                    'models:\n  coder: {model: "${env:AIRA_LSP_TEST_MODEL}"}\n')
    results = {}
    for with_env in (False, True):
        if with_env:
            (project / ".env").write_text("AIRA_LSP_TEST_MODEL=secret-model-name\n")
        log = tmp_path / f"stderr-{with_env}.log"
        lsp = LspClient(project, log)
        try:
            lsp.initialize(project)
            opened = lsp.open(spec)
            _, results[with_env] = lsp.wait_diagnostics(opened, 0)
        finally:
            assert lsp.close() == 0
        text = log.read_text(errors="replace")
        assert ("loaded .env from" in text) == with_env and "secret-model-name" not in text
    assert "env-unset" in codes(results[False])
    assert "env-unset" not in codes(results[True]), results[True]


def test_a_new_file_not_yet_saved_is_checked_and_an_untitled_one_is_left_alone(client: LspClient,
                                                                                project: Path) -> None:
    """A spec created in the editor and never saved is checked on its text (its folder resolves
    its relative paths); an ``untitled:`` buffer has no folder, so it gets no diagnostics and
    no error."""
    new = project / "specs" / "brand-new.yaml"
    text = (project / "specs" / "agent.yaml").read_text().replace("task.name", "tsk.name", 1)
    for target in (uri(new), "untitled:Untitled-1"):
        client.notify("textDocument/didOpen", {"textDocument": {
            "uri": target, "languageId": "yaml", "version": 1, "text": text}})
    _, found = client.wait_diagnostics(uri(new), 0, lambda ds: bool(ds))
    assert "template-unknown-variable" in codes(found) and not new.exists()
    assert client.request("textDocument/hover", {"textDocument": {"uri": "untitled:Untitled-1"},
                                                 "position": {"line": 0, "character": 0}}) is None
    assert all(target != "untitled:Untitled-1" for _, target, _ in client.diagnostics)
