"""Fixtures for the language-server tests: a small project on disk and a client driving the server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # makes `lspclient` importable

from lspclient import LspClient
from tests_support import import_or_skip  # type: ignore[import-not-found]

FILES = {
    "pyproject.toml": "",  # marks the project root: prompt paths may point anywhere inside it
    "prompts/_rules.j2": "Metric: {{ task.metric.name }} ({{ task.metric.direction }})\n",
    "prompts/draft.j2": (
        "You are solving {{ task.name }}.\n"
        "{{ task.description }}\n"
        '{% include "_rules.j2" %}\n'
        "{% for entry in memory %}\n"
        "- {{ entry.plan }}\n"
        "{% endfor %}\n"),
    "prompts/analyze.j2": "Review this run:\n{{ node.output | head_tail(2000) }}\n",
    "specs/base.yaml": """\
version: 1
name: base
abstract: true
description: shared models and the reviewer

models:
  coder:
    model: gpt-4o
    temperature: 0.5
  reviewer:
    model: gpt-4o-mini

operators:
  analyze:
    kind: analyze
    model: reviewer
    prompt: ../prompts/analyze.j2

fitness:
  metric: review.metric
  buggy: "exec.exit_code != 0 or review.is_bug"
  value: metric
""",
    "specs/agent.yaml": """\
version: 1
name: agent
extends: base.yaml
description: a greedy agent for the language-server tests

operators:
  draft:
    kind: draft
    model: coder
    prompt: ../prompts/draft.j2
  improve:
    kind: improve
    model: coder
    prompt:
      system: |
        Improve this solution to {{ task.name }}.
        {{ parent.code }}
      user: Make one change.
  debug:
    kind: debug
    model: coder
    prompt:
      system: |
        Fix the bug in {{ parent.code }}.
    memory:
      scope: ancestors
      where: "not node.buggy"

policy:
  kind: greedy
  num_drafts: 3
  use: {draft: draft}
""",
    "specs/other.yaml": """\
version: 1
name: other
extends: base.yaml
description: a second spec, unrelated to agent.yaml's prompts

operators:
  draft: {kind: draft, model: coder, prompt: "Solve {{ task.name }}."}
  improve: {kind: improve, model: coder, prompt: "Improve {{ parent.code }}."}
  debug: {kind: debug, model: coder, prompt: "Fix {{ parent.code }}."}

policy: {kind: greedy}
""",
}


def make_project(root: Path) -> Path:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with a base spec, two specs extending it, prompt templates and a fragment."""
    return make_project(tmp_path / "project")


@pytest.fixture
def client(project: Path, tmp_path: Path) -> Iterator[LspClient]:
    """An initialized server (a subprocess) rooted at ``project``; its stderr is checked for
    tracebacks after the test."""
    import_or_skip("pygls", "pygls", "the language server needs pygls: pip install 'aira-dsl[lsp]'")
    stderr = tmp_path / "server-stderr.log"
    lsp = LspClient(project, stderr)
    lsp.initialize(project)
    yield lsp
    if lsp.process.poll() is None:
        lsp.close()
    log = stderr.read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]
