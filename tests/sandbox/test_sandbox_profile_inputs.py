"""Profiles and plans as untrusted input: zero limits, unisolated profiles, profile paths.

Regression tests for the red-team findings: a plan file re-hashed to switch to ``local-unsafe``
(isolation none) validated with no warning; a sandbox value that is a path could name any file
of the host; zero sizes fell back to defaults silently.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from tests_support import run_cli  # type: ignore[import-not-found]

from aira_dsl.compiler import compile_spec
from aira_dsl.diagnostics import Severity
from aira_dsl.plan import canonical_json
from aira_dsl.roots import ENV_VAR, OUTSIDE_CODE
from aira_dsl.sandbox import SandboxError, check_profile_file, load_profile

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_extra_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def profile_errors(tmp_path: Path, text: str) -> list[tuple[str, int | None, str]]:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return [(d.code, d.line, d.message) for d in check_profile_file(path) if d.is_error]


@pytest.mark.parametrize(("text", "code", "line"), [
    ("limits: {wall_time: 0}", "invalid-duration", 3),
    ("limits: {wall_time: 0s}", "invalid-duration", 3),
    ("limits: {memory: 0}", "invalid-size", 3),
    ("limits: {file_size: 0m}", "invalid-size", 3),
    ("limits: {cpus: 0}", "out-of-range", 3),
    ("limits: {max_processes: 0}", "out-of-range", 3),
    ("limits: {output_bytes: 0}", "invalid-size", 3),
    ("local: {tmp_size: 0}", "invalid-size", 3),
    (f"limits: {{max_processes: {'9' * 5000}}}", "number-too-large", 3),
])
def test_zero_and_huge_limits_are_positioned_errors(tmp_path: Path, text: str, code: str, line: int) -> None:
    found = profile_errors(tmp_path, f"version: 1\nbackend: local\n{text}\n")
    assert [(c, n) for c, n, _ in found] == [(code, line)], found


def test_docker_zero_sizes_are_errors(tmp_path: Path) -> None:
    found = profile_errors(tmp_path, "version: 1\nbackend: docker\ndocker: {image: x, shm_size: 0, tmp_size: 0k}\n")
    assert sorted(c for c, _, _ in found) == ["invalid-size", "invalid-size"]


def test_isolation_none_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nbackend: local\nisolation: none\n")
    [diag] = check_profile_file(path)
    assert (diag.code, diag.severity, diag.line) == ("unisolated", Severity.WARNING, 3)


def test_a_plan_profile_path_is_confined_at_run_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    outside = tmp_path.parent / f"{tmp_path.name}-elsewhere.yaml"
    outside.write_text("version: 1\nbackend: local\n")
    try:
        with pytest.raises(SandboxError, match="outside the profile search path"):
            load_profile(str(outside), confine=True)
        assert load_profile(str(outside)).backend == "local"  # the command line's own --sandbox
        (tmp_path / "runtimes").mkdir()
        (tmp_path / "runtimes" / "mine.yaml").write_text("version: 1\nbackend: local\n")
        assert load_profile("runtimes/mine.yaml", confine=True).name == "mine"
        assert load_profile("local", confine=True).name == "local"
    finally:
        outside.unlink()


def rehash(plan: dict[str, object]) -> dict[str, object]:
    body = {k: v for k, v in plan.items() if k != "plan_hash"}
    return {**body, "plan_hash": hashlib.sha256(canonical_json(body).encode()).hexdigest()}


@pytest.fixture
def plan_data(repo_root: Path) -> dict[str, object]:
    result = compile_spec("tests/fixtures/valid/complete.yaml")
    assert result.plan is not None
    data: dict[str, object] = json.loads(result.plan.to_json())
    return data


def write_plan(tmp_path: Path, data: dict[str, object]) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def test_a_rehashed_plan_switched_to_local_unsafe_gets_a_warning(tmp_path: Path,
                                                                 plan_data: dict[str, object]) -> None:
    execution = dict(plan_data["execution"])  # type: ignore[call-overload]
    execution["sandbox"] = "local-unsafe"
    path = write_plan(tmp_path, rehash({**plan_data, "execution": execution}))
    result = run_cli("validate", str(path))
    assert result.returncode == 0  # a warning: the plan itself is valid
    assert "warning: the plan runs node code with the sandbox profile 'local-unsafe'" in result.stdout
    assert f"{path}:" in result.stdout and "[unisolated]" in result.stdout
    assert "1 warning" in result.stderr
    strict = run_cli("validate", "--strict", str(path))
    assert strict.returncode == 1


def test_a_rehashed_plan_naming_a_host_file_as_profile_is_an_error(tmp_path: Path,
                                                                   plan_data: dict[str, object]) -> None:
    execution = dict(plan_data["execution"])  # type: ignore[call-overload]
    execution["sandbox"] = "../../../../../../etc/passwd"
    path = write_plan(tmp_path, rehash({**plan_data, "execution": execution}))
    result = run_cli("validate", str(path))
    assert result.returncode == 1 and OUTSIDE_CODE in result.stdout
    assert "root:" not in result.stdout + result.stderr


@pytest.mark.parametrize("value", [10**30, float("inf")], ids=["huge-int", "inf"])
def test_a_rehashed_plan_with_a_huge_number_is_invalid_not_an_internal_error(
        tmp_path: Path, plan_data: dict[str, object], value: float) -> None:
    budget = dict(plan_data["budget"])  # type: ignore[call-overload]
    budget["steps"] = value
    body = {k: v for k, v in {**plan_data, "budget": budget}.items() if k != "plan_hash"}
    text = json.dumps({**body, "plan_hash": "0" * 64})
    path = tmp_path / "plan.json"
    path.write_text(text)
    result = run_cli("validate", str(path))
    assert result.returncode == 1, result.stderr
    assert "plan-invalid" in result.stdout and "Traceback" not in result.stderr


def test_a_plan_with_a_5000_digit_integer_is_invalid_not_an_internal_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"plan_version": 1, "plan_hash": "x", "budget": {"steps": ' + "9" * 5000 + "}}")
    result = run_cli("validate", str(path))
    assert result.returncode == 1 and "an integer is too large" in result.stdout
