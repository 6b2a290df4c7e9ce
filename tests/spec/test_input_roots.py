"""Paths a spec names stay inside the allowed roots; huge numbers are positioned errors.

Regression tests for the red-team findings on specs: ``prompt: /etc/hostname`` validated with 0
errors, a 5000-digit integer ended ``validate`` with an internal error (exit 3), ``--set
execution.sandbox=../../../../etc/passwd`` compiled.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aira_dsl.compiler import check_spec, compile_spec
from aira_dsl.roots import (
    ENV_VAR,
    OUTSIDE_CODE,
    allowed_roots,
    check_inside,
    env_roots,
    is_inside,
    project_root,
    shipped_roots,
)
from aira_dsl.shipped import SHIPPED_DIR, shipped_path

REPO = Path(__file__).resolve().parents[2]
FIXTURE_PROMPTS = REPO / "tests" / "fixtures" / "prompts"
SPEC = """\
version: 1
name: roots
models: {m: {model: x}}
operators:
  draft: {kind: draft, model: m, prompt: PROMPT}
  improve: {kind: improve, model: m, prompt: {user: "Improve {{ parent.code }}"}}
  debug: {kind: debug, model: m, prompt: {user: "Fix {{ parent.code }}"}}
  analyze: {kind: analyze, model: m, prompt: {user: "Review {{ node.code }}"}}
policy: {kind: greedy}
"""


def write_spec(folder: Path, prompt: str, name: str = "spec.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(SPEC.replace("PROMPT", prompt))
    return path


def errors(path: Path, *overrides: str) -> list[tuple[str, int | None, str]]:
    return [(d.code, d.line, d.message) for d in check_spec(path, overrides=overrides).diagnostics if d.is_error]


@pytest.fixture(autouse=True)
def _no_extra_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


# --------------------------------------------------------------------------------------------
# The rule itself


def test_project_root_is_the_nearest_marker_else_the_files_own_folder(tmp_path: Path) -> None:
    assert project_root(REPO / "specs" / "dojo" / "aira-dojo-greedy.yaml") == REPO  # pyproject.toml
    scratch = tmp_path / "a" / "b"
    scratch.mkdir(parents=True)
    assert project_root(scratch / "spec.yaml") == scratch.resolve()
    (tmp_path / "a" / ".git").mkdir()
    assert project_root(scratch / "spec.yaml") == (tmp_path / "a").resolve()


def test_a_dotfiles_repository_in_home_does_not_make_home_a_project(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / ".git").mkdir(parents=True)
    (home / "downloads").mkdir()
    monkeypatch.setenv("HOME", str(home))
    assert project_root(home / "downloads" / "spec.yaml") == (home / "downloads").resolve()
    assert home.resolve() not in allowed_roots(home / "spec.yaml")  # a spec directly in ~ reaches none of it
    assert check_inside(home / ".ssh" / "id_rsa.j2", allowed_roots(home / "spec.yaml")) is not None


def test_allowed_roots_hold_the_package_data_and_the_environment(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = shipped_roots()
    assert Path(os.path.realpath(SHIPPED_DIR)) in shipped
    assert Path(os.path.realpath(shipped_path("prompts"))) in shipped  # a checkout links assets/ to prompts/
    extra = tmp_path / "library"
    monkeypatch.setenv(ENV_VAR, os.pathsep.join([str(extra), "", str(tmp_path / "other")]))
    assert env_roots() == (extra.resolve(), (tmp_path / "other").resolve())
    roots = allowed_roots(tmp_path / "p" / "spec.yaml")
    assert roots[0] == (tmp_path / "p").resolve() and extra.resolve() in roots


def test_symlinks_are_resolved_before_the_inside_check(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").touch()
    outside = tmp_path / "secret.j2"
    outside.write_text("SECRET")
    (project / "innocent.j2").symlink_to(outside)
    roots = allowed_roots(project / "spec.yaml")
    assert not is_inside(project / "innocent.j2", roots)
    reason = check_inside(project / "innocent.j2", roots)
    assert reason is not None and f"resolves to {outside}" in reason and "SECRET" not in reason
    assert check_inside(project / "sub" / ".." / "x.j2", roots) is None


# --------------------------------------------------------------------------------------------
# Specs


def test_every_shipped_spec_stays_valid_with_its_relative_prompt_paths() -> None:
    specs = sorted((REPO / "specs").rglob("*.yaml"))
    assert len(specs) >= 8
    for spec in specs:
        found = [d for d in check_spec(spec).diagnostics if d.code == OUTSIDE_CODE]
        assert found == [], spec


@pytest.mark.parametrize("prompt", ["/etc/hostname", "/etc/passwd.j2", "../outside/draft.j2", "~/.ssh/id_rsa"])
def test_a_prompt_outside_the_roots_is_a_positioned_error(tmp_path: Path, prompt: str) -> None:
    path = write_spec(tmp_path / "project", prompt)
    found = errors(path)
    assert [(code, line) for code, line, _ in found] == [(OUTSIDE_CODE, 5)], found
    assert "outside the allowed roots" in found[0][2]


def test_a_prompt_symlinked_out_of_the_project_is_refused_and_never_quoted(tmp_path: Path) -> None:
    secret = tmp_path / "secret.j2"
    secret.write_text("{{ SECRET-LINE-1234 }\n")  # a syntax error a template check would quote
    project = tmp_path / "project"
    project.mkdir()
    (project / "draft.j2").symlink_to(secret)
    path = write_spec(project, "draft.j2")
    diagnostics = check_spec(path).diagnostics
    assert [d.code for d in diagnostics if d.is_error] == [OUTSIDE_CODE]
    assert all(d.file != str(secret) for d in diagnostics)
    assert "SECRET-LINE" not in " ".join(f"{d.message} {d.hint}" for d in diagnostics)


def test_an_include_through_a_link_out_of_the_project_is_refused(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text("AWS_SECRET=SECRET-KEY-42 {{ }\n")
    project = tmp_path / "project"
    (project / "prompts").mkdir(parents=True)
    (project / "pyproject.toml").touch()
    (project / "prompts" / "_notes.j2").symlink_to(credentials)  # a link committed to the repository
    (project / "prompts" / "draft.j2").write_text('Solve it. {% include "_notes.j2" %}\n')
    path = write_spec(project, "prompts/draft.j2")
    diagnostics = check_spec(path).diagnostics
    [diag] = [d for d in diagnostics if d.is_error]
    assert (diag.code, diag.line) == (OUTSIDE_CODE, 5)
    assert f"resolves to {credentials}" in diag.message
    assert all(d.file == str(path) for d in diagnostics)  # nothing positioned in (so quoting) the link
    assert compile_spec(path).plan is None


def test_a_path_like_prompt_inside_the_project_that_is_no_template_is_an_error(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("hello")
    found = errors(write_spec(project, "./notes.txt"))
    assert [code for code, _, _ in found] == ["prompt-not-template"]


def test_allowed_roots_env_lets_a_spec_use_a_prompt_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    library = tmp_path / "library"
    library.mkdir()
    (library / "draft.j2").write_text((FIXTURE_PROMPTS / "draft.j2").read_text())
    (library / "_leaf.j2").write_text("")
    path = write_spec(tmp_path / "project", "../library/draft.j2")
    assert [code for code, _, _ in errors(path)] == [OUTSIDE_CODE]
    monkeypatch.setenv(ENV_VAR, str(library))
    assert [code for code, _, _ in errors(path) if code == OUTSIDE_CODE] == []


def test_package_references_are_always_allowed(tmp_path: Path) -> None:
    path = write_spec(tmp_path / "elsewhere", "aira-dsl:prompts/aira/draft.j2")
    assert [code for code, _, _ in errors(path) if code == OUTSIDE_CODE] == []


def test_extends_outside_the_roots_is_refused_before_the_base_is_read(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text("version: 1\nname: SECRET-BASE\nnot yaml: [\n")
    project = tmp_path / "project"
    project.mkdir()
    spec = project / "spec.yaml"
    spec.write_text("version: 1\nname: child\nextends: ../base.yaml\n")
    diagnostics = check_spec(spec).diagnostics
    assert [(d.code, d.line, d.col) for d in diagnostics if d.is_error] == [(OUTSIDE_CODE, 3, 10)]
    assert all("SECRET" not in d.message and d.file == str(spec) for d in diagnostics)
    (tmp_path / "pyproject.toml").touch()  # now the folder above is the project: the base is read
    assert any(d.code == "yaml-syntax" for d in check_spec(spec).diagnostics)


@pytest.mark.parametrize("value", ["../../../../etc/passwd", "/etc/passwd", "~/../../etc/passwd.yaml"])
def test_a_sandbox_path_outside_the_profile_search_path_is_an_error(repo_root: Path, value: str) -> None:
    result = compile_spec("tests/fixtures/valid/complete.yaml", overrides=[f"execution.sandbox={value}"])
    assert result.plan is None
    [diag] = [d for d in result.diagnostics if d.is_error]
    assert diag.code == OUTSIDE_CODE and "profile search path" in diag.message
    assert diag.file == f"--set execution.sandbox={value}"


def test_a_sandbox_path_inside_the_project_compiles(repo_root: Path) -> None:
    result = compile_spec("tests/fixtures/valid/complete.yaml", overrides=["execution.sandbox=runtimes/local.yaml"])
    assert result.plan is not None, result.diagnostics.sorted()


def test_a_sandbox_path_in_the_spec_file_is_positioned(tmp_path: Path) -> None:
    path = write_spec(tmp_path / "project", "aira-dsl:prompts/aira/draft.j2")
    path.write_text(path.read_text() + "execution: {sandbox: ../../etc/passwd}\n")
    found = [(code, line) for code, line, _ in errors(path)]
    assert found == [(OUTSIDE_CODE, 10)]


# --------------------------------------------------------------------------------------------
# Numbers


@pytest.mark.parametrize(("text", "message"), [
    ("9" * 5000, "an integer of 5,000 digits is too large"),
    (str(10**30), "an integer of 31 digits is too large"),
    ("0x" + "f" * 40, "is too large"),
    (".inf", "infinite and NaN numbers"),
    ("-.Inf", "infinite and NaN numbers"),
], ids=["5000-digits", "31-digits", "hex", "inf", "minus-inf"])
def test_huge_numbers_in_a_spec_are_positioned_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write_spec(tmp_path, "aira-dsl:prompts/aira/draft.j2")
    path.write_text(path.read_text().replace("policy: {kind: greedy}", f"policy: {{kind: greedy, num_drafts: {text}}}"))
    [diag] = [d for d in check_spec(path).diagnostics if d.is_error]
    assert (diag.code, diag.line, diag.col) == ("number-too-large", 9, 36)
    assert message in diag.message
    assert len(diag.message) < 200


def test_an_env_default_that_expands_to_a_huge_number_is_an_error(tmp_path: Path) -> None:
    path = write_spec(tmp_path, "aira-dsl:prompts/aira/draft.j2")
    path.write_text(path.read_text().replace("policy: {kind: greedy}",
                                             f"policy: {{kind: greedy, num_drafts: '${{env:NOPE_X:{'9' * 5000}}}'}}"))
    codes = [d.code for d in check_spec(path).diagnostics if d.is_error]
    assert "number-too-large" in codes


@pytest.mark.parametrize(("override", "needle"), [
    (f"policy.num_drafts={'9' * 5000}", "5,000 digits"),
    (f"vars.x=[1, {{a: {10**30}}}]", "31 digits"),
    ("vars.x=.inf", "infinite"),
], ids=["5000-digits", "nested", "inf"])
def test_huge_numbers_in_set_overrides_are_errors(repo_root: Path, override: str, needle: str) -> None:
    result = compile_spec("tests/fixtures/valid/complete.yaml", overrides=[override])
    assert result.plan is None
    [diag] = [d for d in result.diagnostics if d.is_error]
    assert diag.code == "number-too-large" and needle in diag.message
    assert len(diag.message) < 250  # the 5000 digits are not echoed


def test_nan_in_an_override_stays_text_as_in_a_file(repo_root: Path) -> None:
    result = compile_spec("tests/fixtures/valid/complete.yaml", overrides=["vars.x=.nan"])
    assert result.plan is not None and result.plan.vars["x"] == ".nan"


def test_a_zero_exec_timeout_is_refused(repo_root: Path) -> None:
    result = compile_spec("tests/fixtures/valid/complete.yaml", overrides=["budget.exec_timeout=0"])
    assert result.plan is None
    [diag] = [d for d in result.diagnostics if d.is_error]
    assert diag.code == "out-of-range" and "budget.exec_timeout must be > 0" in diag.message


def test_the_harness_share_is_an_allowed_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent image copies specs/ and prompts/ to /opt/aira-dsl (AIRA_DSL_HOME), no marker."""
    import shutil

    from aira_dsl.harness import _allow_share

    share = tmp_path / "opt-aira-dsl"
    for name in ("specs", "prompts"):
        shutil.copytree(REPO / name, share / name)
    spec = share / "specs" / "aira-greedy.yaml"
    assert compile_spec(spec).plan is None  # ../prompts leaves specs/, which has no project above
    monkeypatch.setenv(ENV_VAR, "")
    _allow_share(share)
    assert os.environ[ENV_VAR] == str(share)
    assert compile_spec(spec).plan is not None
