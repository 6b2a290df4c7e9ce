"""The language server's checking engine, in-process: unsaved text, caching, what an edit re-checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from aira_dsl import overlay
from aira_dsl.lsp.analysis import Analyzer
from aira_dsl.overlay import key_of


def codes(diagnostics: list) -> set[str]:
    return {d.code for d in diagnostics}


def open_file(analyzer: Analyzer, path: Path, text: str | None = None) -> str:
    return analyzer.open(str(path), path.read_text() if text is None else text)


def test_unsaved_text_is_checked_without_writing_files(project: Path) -> None:
    spec = project / "specs/agent.yaml"
    before = sorted(p.name for p in project.rglob("*"))
    analyzer = Analyzer([str(project)])
    key = open_file(analyzer, spec, spec.read_text().replace("num_drafts: 3", "num_drafts: 0"))
    (diagnostic,) = analyzer.check(key).diagnostics
    assert diagnostic.code == "out-of-range" and diagnostic.file == str(spec)
    assert sorted(p.name for p in project.rglob("*")) == before
    assert "num_drafts: 3" in spec.read_text()
    assert overlay.overlay_text(spec) is None  # the overlay only exists during a check


def test_results_are_reused_until_a_dependency_changes(project: Path) -> None:
    analyzer = Analyzer()
    key = open_file(analyzer, project / "specs/agent.yaml")
    first = analyzer.check(key)
    assert analyzer.check(key) is first
    assert {key_of(project / "specs/base.yaml"), key_of(project / "prompts/draft.j2"),
            key_of(project / "prompts/_rules.j2")} <= first.deps
    analyzer.update(key, (project / "specs/agent.yaml").read_text() + "\n")
    assert analyzer.check(key) is not first


def test_an_edit_rechecks_the_documents_that_read_the_file(project: Path) -> None:
    analyzer = Analyzer()
    agent = open_file(analyzer, project / "specs/agent.yaml")
    other = open_file(analyzer, project / "specs/other.yaml")
    base = open_file(analyzer, project / "specs/base.yaml")
    for key in (agent, other, base):
        analyzer.recheck(key)
    analyzer.update(agent, (project / "specs/agent.yaml").read_text().replace("num_drafts: 3", "num_drafts: 4"))
    assert [r.key for r in analyzer.recheck(agent).checked] == [agent]
    text = (project / "specs/base.yaml").read_text().replace("model: reviewer", "model: nobody")
    analyzer.update(base, text)
    outcome = analyzer.recheck(base)
    assert {r.key for r in outcome.checked} == {base, agent, other}
    assert set(outcome.publish) == {base, agent, other}
    assert "unknown-model" in codes(analyzer.result(agent).diagnostics)  # type: ignore[union-attr]


def test_an_unsaved_template_edit_reaches_its_users_and_back(project: Path) -> None:
    analyzer = Analyzer()
    agent = open_file(analyzer, project / "specs/agent.yaml")
    analyzer.recheck(agent)
    fragment = project / "prompts/_rules.j2"
    template = open_file(analyzer, fragment, "Metric: {{ task.metrc.name }}\n")
    outcome = analyzer.recheck(template)
    assert [r.key for r in outcome.checked] == [agent] and set(outcome.publish) == {agent, template}
    (found,) = analyzer.template_diagnostics(template)
    assert (found.code, found.line, found.col) == ("template-unknown-attribute", 1, 17)
    assert key_of(fragment) in analyzer.result(agent).anchors  # type: ignore[union-attr]
    # Closing the editor's copy: the saved (clean) file counts again, not a stale cached check.
    assert analyzer.close(template) == [agent]
    analyzer.recheck(template)
    assert analyzer.result(agent).diagnostics == []  # type: ignore[union-attr]


def test_a_template_finds_its_users_before_they_are_opened(project: Path) -> None:
    analyzer = Analyzer([str(project)])
    template = open_file(analyzer, project / "prompts/draft.j2", "{{ tsk.name }}\n")
    assert analyzer.discover_users(template) == [key_of(project / "specs/agent.yaml")]
    analyzer.recheck(template)
    assert codes(analyzer.template_diagnostics(template)) == {"template-unknown-variable"}
    kinds = {kind for _, _, kind in analyzer.template_users(template)}
    assert kinds == {"draft"}


def test_a_template_without_users_still_gets_its_syntax_checked(tmp_path: Path) -> None:
    lone = tmp_path / "lone.j2"
    lone.write_text("{% if %}\n")
    analyzer = Analyzer()
    key = open_file(analyzer, lone)
    assert codes(analyzer.template_diagnostics(key)) == {"template-syntax"}


def test_a_crashing_check_becomes_one_diagnostic(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import aira_dsl.compiler

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(aira_dsl.compiler, "check_spec", broken)
    analyzer = Analyzer()
    key = open_file(analyzer, project / "specs/agent.yaml")
    (diagnostic,) = analyzer.check(key).diagnostics
    assert diagnostic.code == "internal-error" and "ZeroDivisionError: boom" in diagnostic.message


def test_unknown_yaml_is_left_alone_and_specs_folder_files_are_specs(project: Path) -> None:
    analyzer = Analyzer()
    workflow = project / "ci.yaml"
    workflow.write_text("on: push\njobs: {}\n")
    assert analyzer.check(open_file(analyzer, workflow)).kind is None
    draft = project / "specs/new.yaml"
    draft.write_text("version: 1\nname: [\n")  # being written, and broken mid-edit
    result = analyzer.check(open_file(analyzer, draft))
    assert result.kind == "spec" and "yaml-syntax" in codes(result.diagnostics)


def test_tasks_profiles_and_sweeps_are_checked_on_their_unsaved_text(project: Path) -> None:
    """Every kind `validate` knows, and a sweep reaches into the specs it names (their edits
    re-check it)."""
    analyzer = Analyzer()
    profile = project / "runtimes/mine.yaml"
    profile.parent.mkdir()
    profile.write_text("version: 1\nbackend: local\n")
    result = analyzer.check(open_file(analyzer, profile, "version: 1\nbackend: local\nlimits: {wall_tme: 4h}\n"))
    assert result.kind == "sandbox-profile" and "unknown-key" in codes(result.diagnostics)

    task = project / "tasks/mine/task.yaml"
    task.parent.mkdir(parents=True)
    task.write_text("id: mine\n")
    result = analyzer.check(open_file(analyzer, task))
    assert result.kind == "task" and any(d.is_error for d in result.diagnostics)

    sweep = project / "sweeps/grid.yaml"
    sweep.parent.mkdir()
    sweep.write_text("version: 1\nspecs: [../specs/agent.yaml]\ntasks: [penguins]\nseeds: 1\n")
    key = open_file(analyzer, sweep)
    assert analyzer.check(key).kind == "sweep"
    assert key_of(project / "specs/agent.yaml") in analyzer.check(key).deps
    agent = open_file(analyzer, project / "specs/agent.yaml", "version: 1\nname: [\n")
    assert key in [r.key for r in analyzer.recheck(agent).checked]
    assert analyzer.result(key).diagnostics  # type: ignore[union-attr]
