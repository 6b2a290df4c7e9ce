"""`aira-dsl validate` on what pre-commit and users hand it (issue 16's smaller items).

- every problem of a spec in one run: a schema error no longer hides the file's semantic
  errors, and a refused part gives no cascade;
- foreign YAML named explicitly: one `unknown-document` error saying what validate recognises
  (it was `missing required key 'version'` twice, and more); `--skip-unknown` skips it;
- a YAML file that does not parse is still recognised in a folder (by its top-level keys);
- `validate prompt.j2` checks a template (syntax with line and column; variables through the
  specs of its project that use it, directly or through an include), not as YAML;
- over-indented YAML gets an indentation hint, not "a value containing ': ' must be quoted".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from aira_dsl.cli import cli

REPO = Path(__file__).resolve().parents[2]

COMPLETE = """\
version: 1
name: mixed
models:
  coder: {model: m}
operators:
  draft: {kind: draft, model: coder, prompt: prompts/draft.j2}
  improve: {kind: improve, model: coder, prompt: prompts/draft.j2}
  debug: {kind: debug, model: coder, prompt: prompts/draft.j2}
policy: {kind: greedy, num_drafts: 2}
fitness: {metric: reported.score, buggy: "exec.exit_code != 0"}
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"NO_COLOR": "1"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def findings(*args: str) -> tuple[int, list[dict[str, object]], dict[str, object]]:
    code, out, _ = invoke(*args, "--format", "json")
    payload = json.loads(out)
    return code, payload["diagnostics"], payload


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project (a git marker makes it one) with a clean spec and its template."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "draft.j2").write_text("Solve {{ task.name }}.\n{% include '_rules.j2' %}\n")
    (tmp_path / "prompts" / "_rules.j2").write_text("Write code for {{ task.description }}.\n")
    (tmp_path / "spec.yaml").write_text(COMPLETE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_project_fixture_is_clean(project: Path) -> None:
    assert invoke("validate", "spec.yaml")[0] == 0


def test_schema_error_does_not_hide_semantic_errors(project: Path) -> None:
    """docs/spec-language.md: every problem of a file in one run."""
    text = COMPLETE.replace("num_drafts: 2", "num_draft: 2").replace(
        'buggy: "exec.exit_code != 0"', 'buggy: "exec.exit_cod != 0"').replace(
        "prompt: prompts/draft.j2}\n  debug", "prompt: prompts/nope.j2}\n  debug")
    (project / "spec.yaml").write_text(text)
    code, diagnostics, _ = findings("validate", "spec.yaml")
    assert code == 1
    assert [(d["code"], d["line"]) for d in diagnostics] == [
        ("missing-prompt", 7), ("unknown-key", 9), ("expr-unknown-name", 10)]


def test_refused_part_gives_no_cascade(project: Path) -> None:
    """An operator the schema refuses (bad kind) is not then reported as a missing role, nor its
    model as unused; a refused model entry keeps its name for the operators using it."""
    text = COMPLETE.replace("improve: {kind: improve", "improve: {kind: improving").replace(
        "coder: {model: m}", "coder: {model: m, temperature: 9}").replace(
        'buggy: "exec.exit_code != 0"', 'buggy: "exec.exit_code !== 0"')
    (project / "spec.yaml").write_text(text)
    code, diagnostics, _ = findings("validate", "spec.yaml")
    assert code == 1
    assert [d["code"] for d in diagnostics] == ["out-of-range", "invalid-value", "expr-syntax"]
    assert diagnostics[2]["hint"] == "`!==` is not an operator; use `!=`"


def test_a_refused_model_setting_does_not_hide_an_unknown_model(project: Path) -> None:
    text = COMPLETE.replace("coder: {model: m}", "coder: {model: m, temperature: 9}").replace(
        "debug: {kind: debug, model: coder", "debug: {kind: debug, model: codr")
    (project / "spec.yaml").write_text(text)
    code, diagnostics, _ = findings("validate", "spec.yaml")
    assert code == 1
    assert [(d["code"], d["line"]) for d in diagnostics] == [("out-of-range", 4), ("unknown-model", 8)]


def test_missing_section_is_reported_once_and_the_rest_checked(project: Path) -> None:
    text = COMPLETE.replace("policy: {kind: greedy, num_drafts: 2}\n", "").replace(
        "prompt: prompts/draft.j2}\n  improve", "prompt: prompts/missing.j2}\n  improve")
    (project / "spec.yaml").write_text(text)
    code, diagnostics, _ = findings("validate", "spec.yaml")
    assert code == 1
    assert [(d["code"], d["message"]) for d in diagnostics] == [
        ("missing-key", "missing required key 'policy' in the top level"),
        ("missing-prompt", "prompt file 'prompts/missing.j2' not found (looked for prompts/missing.j2)")]


def test_foreign_yaml_named_explicitly_gets_one_error(project: Path) -> None:
    (project / "ci.yml").write_text("name: CI\non: [push]\njobs:\n  test: {runs-on: ubuntu-latest}\n")
    code, diagnostics, _ = findings("validate", "ci.yml")
    assert code == 1
    (only,) = diagnostics
    assert (only["code"], only["line"], only["col"]) == ("unknown-document", 1, 1)
    assert only["message"] == "not an aira-dsl document: missing required key 'version'"
    hint = str(only["hint"])
    for kind in ("agent specs", "tasks", "sandbox profiles", "sweeps", "plans", "prompt templates",
                 "--skip-unknown"):
        assert kind in hint


def test_spec_missing_version_is_still_checked_as_a_spec(project: Path) -> None:
    (project / "spec.yaml").write_text(COMPLETE.replace("version: 1\n", ""))
    code, diagnostics, _ = findings("validate", "spec.yaml")
    assert code == 1
    assert [d["message"] for d in diagnostics] == ["missing required key 'version' in the top level"]


def test_skip_unknown_skips_foreign_yaml_but_not_broken_specs(project: Path) -> None:
    (project / "compose.yml").write_text("version: '3.8'\nservices: {db: {image: postgres}}\n")
    (project / "broken.yaml").write_text(COMPLETE.replace("  coder: {model: m}", "  coder: {model: m"))
    code, out, err = invoke("validate", "--skip-unknown", "compose.yml", "broken.yaml", "spec.yaml",
                            "prompts/draft.j2")
    assert code == 1
    assert "broken.yaml:5:" in out and "[yaml-syntax]" in out and "compose.yml" not in out
    assert "checked 3 files: 1 error, 0 warnings (skipped 1 file that is no aira-dsl document)" in err
    _, _, payload = findings("validate", "--skip-unknown", "compose.yml", "spec.yaml")
    assert payload["skipped"] == ["compose.yml"]
    assert invoke("validate", "--skip-unknown", "compose.yml")[0] == 0


def test_folder_reports_a_spec_whose_yaml_does_not_parse(project: Path) -> None:
    """It was skipped silently (no kind recognised), and an all-broken folder was 'no specs found'."""
    (project / "specs").mkdir()
    (project / "specs" / "broken.yaml").write_text(COMPLETE.replace("  coder: {model: m}", "  coder: {model: m"))
    code, diagnostics, payload = findings("validate", "specs")
    assert code == 1
    assert payload["files"] == [{"path": "specs/broken.yaml", "kind": "spec", "errors": 1, "warnings": 0}]
    assert diagnostics[0]["code"] == "yaml-syntax"


def test_template_syntax_error_has_line_and_column(project: Path) -> None:
    (project / "prompts" / "draft.j2").write_text("Solve {{ task.name }.\n")
    code, out, _ = invoke("validate", "prompts/draft.j2")
    assert code == 1
    assert out.splitlines()[0] == "prompts/draft.j2:1:20: error: unexpected '}' [template-syntax]"
    assert "not-a-mapping" not in out and "YAML" not in out


def test_template_variables_are_checked_through_the_specs_using_it(project: Path) -> None:
    (project / "prompts" / "draft.j2").write_text("Solve {{ task.nme }} with {{ parent.code }}.\n")
    code, diagnostics, payload = findings("validate", "prompts/draft.j2")
    assert code == 1
    assert payload["files"][0]["kind"] == "template"
    assert {(d["line"], d["col"], d["message"]) for d in diagnostics} == {
        (1, 15, "task has no attribute 'nme'"),
        (1, 30, "unknown variable 'parent' in a draft template")}  # improve and debug operators have one


def test_included_fragment_is_checked_through_its_includers(project: Path) -> None:
    (project / "prompts" / "_rules.j2").write_text("Write code for {{ task.descripton }}.\n")
    code, diagnostics, _ = findings("validate", "prompts/_rules.j2")
    assert code == 1
    assert {(d["file"], d["line"], d["col"]) for d in diagnostics} == {("prompts/_rules.j2", 1, 24)}
    assert all("task has no attribute 'descripton'" in str(d["message"]) for d in diagnostics)


def test_unused_template_is_checked_for_syntax_only(project: Path) -> None:
    (project / "prompts" / "spare.j2").write_text("{{ anything.goes }}\n")
    assert invoke("validate", "prompts/spare.j2")[0] == 0


@pytest.mark.parametrize(("text", "line", "needle"), [
    ("version: 1\nmodels:\n  coder:\n    model: x\n      temperature: 1\n", 5,
     "'temperature' is indented more than 'model' (line 4), which already has a value, so YAML reads it as "
     "part of that value: indent it 4 spaces like 'model'"),
    ("version: 1\nmodels:\n  coder:\n    model: x\n   temperature: 1\n", 5,
     "'temperature' is indented 3 spaces, which matches no level above (0, 2, 4): indent it 4 spaces to sit "
     "beside 'model' or 2 spaces to sit beside 'coder'"),
    ("version: 1\ndescription: a: b\n", 2, "a value containing ': ' must be quoted"),
])
def test_indentation_mistakes_get_an_indentation_hint(project: Path, text: str, line: int, needle: str) -> None:
    (project / "spec.yaml").write_text(text)
    code, diagnostics, _ = findings("validate", "spec.yaml")
    assert code == 1
    (only,) = diagnostics
    assert (only["code"], only["line"], only["hint"]) == ("yaml-syntax", line, needle)
