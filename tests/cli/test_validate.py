"""``aira-dsl validate`` on the fixture corpus: text and JSON diagnostics are snapshotted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from aira_dsl.cli import cli

REPO = Path(__file__).resolve().parents[2]
INVALID = sorted((REPO / "tests/fixtures/invalid").glob("*.yaml"))
VALID = sorted((REPO / "tests/fixtures/valid").glob("*.yaml"))


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"NO_COLOR": "1"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_corpus_is_large_enough() -> None:
    assert len(INVALID) >= 40


@pytest.mark.parametrize("fixture", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_fixture_text_and_json(fixture: Path, repo_root: Path, snapshot: object) -> None:
    rel = str(fixture.relative_to(REPO))
    code, out, _ = invoke("validate", rel)
    json_code, json_out, _ = invoke("validate", rel, "--format", "json")
    payload = json.loads(json_out)
    assert code == json_code
    assert payload["diagnostics"], "every invalid fixture must produce at least one finding"
    if any(d["severity"] == "error" for d in payload["diagnostics"]):
        assert code == 1
    else:
        assert code == 0  # warnings only
    assert out == snapshot(name="text")
    assert payload["diagnostics"] == snapshot(name="json")


@pytest.mark.parametrize("fixture", VALID, ids=[p.stem for p in VALID])
def test_valid_fixtures_are_clean(fixture: Path, repo_root: Path) -> None:
    code, out, _ = invoke("validate", str(fixture.relative_to(REPO)))
    assert (code, out) == (0, "")


def test_shipped_specs_validate_clean(repo_root: Path) -> None:
    code, out, err = invoke("validate", "specs/", "runtimes/")
    assert code == 0, out
    assert ": error:" not in out
    # the only warnings: the two profiles that run node code unisolated, on purpose
    warned = sorted(line.split(":")[0] for line in out.splitlines() if ": warning:" in line)
    assert warned == ["runtimes/harness-unisolated.yaml", "runtimes/local-unsafe.yaml"], out
    assert all("[unisolated]" in line for line in out.splitlines() if ": warning:" in line)
    assert "0 errors, 2 warnings" in err


def test_folder_with_no_specs_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    code, _, err = invoke("validate", str(tmp_path))
    assert code == 2 and "no agent specs" in err


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = invoke("validate", str(tmp_path / "nope.yaml"))
    assert code == 2 and "no such file" in err


def test_no_arguments_is_a_usage_error() -> None:
    code, _, _ = invoke("validate")
    assert code == 2


def test_github_format(repo_root: Path) -> None:
    code, out, _ = invoke("validate", "tests/fixtures/invalid/unknown-top-key.yaml", "--format", "github")
    assert code == 1
    assert out.startswith("::error file=tests/fixtures/invalid/unknown-top-key.yaml,line=4,col=1,")
    assert "did you mean 'policy'?" in out


def test_strict_turns_warnings_into_failure(repo_root: Path) -> None:
    path = "tests/fixtures/invalid/unused-operator.yaml"
    assert invoke("validate", path)[0] == 0
    assert invoke("validate", path, "--strict")[0] == 1


def test_every_check_family_is_covered(repo_root: Path) -> None:
    """The corpus exercises YAML, schema, expression, template, reference and extends checks."""
    codes: set[str] = set()
    for fixture in INVALID:
        _, out, _ = invoke("validate", str(fixture.relative_to(REPO)), "--format", "json")
        codes |= {d["code"] for d in json.loads(out)["diagnostics"]}
    expected = {"yaml-syntax", "duplicate-key", "empty-file", "not-a-mapping", "unknown-key", "missing-key",
                "wrong-type", "invalid-value", "out-of-range", "unknown-model",
                "unknown-operator", "operator-kind-mismatch", "missing-role", "missing-analyze",
                "expr-syntax", "expr-unknown-name", "expr-result-type", "missing-prompt",
                "template-unknown-variable", "template-unknown-attribute", "template-syntax",
                "template-missing-include", "complexity-order", "extends-missing", "extends-cycle",
                "env-unset", "yaml-limits", "unused-operator", "budget-exec-timeout"}
    assert expected <= codes, sorted(expected - codes)


@pytest.mark.parametrize("kind", ["agent", "task", "sandbox-profile", "plan", "sweep"])
def test_schema_command_prints_each_schema(kind: str) -> None:
    code, out, _ = invoke("schema", "--kind", kind)
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"].endswith("2020-12/schema")
    name = {"agent": "agent", "task": "task", "sandbox-profile": "sandbox-profile", "plan": "plan",
            "sweep": "sweep"}[kind]
    assert (REPO / "schema" / f"{name}.schema.json").read_text() == out
