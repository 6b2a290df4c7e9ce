"""Sandbox profiles: loading, defaults, positioned diagnostics, and the shipped files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aira_dsl.diagnostics import Severity
from aira_dsl.sandbox import SandboxError, check_profile_file, load_profile, parse_size
from aira_dsl.sandbox.profile import is_secret_name

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "runtimes").glob("*.yaml"))


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_profiles_have_no_errors(path: Path) -> None:
    found = check_profile_file(path)
    problems = [d for d in found if d.severity is not Severity.INFO and d.code != "unisolated"]
    assert problems == []
    # isolation: none is a warning (LLM-written code would run with this user's rights)
    unisolated = [d for d in found if d.code == "unisolated"]
    assert [d.severity for d in unisolated] == ([Severity.WARNING] if "isolation: none" in path.read_text() else [])


def test_shipped_profile_set() -> None:
    assert {p.stem for p in SHIPPED} >= {"local", "local-unsafe", "docker-cpu", "docker-gpu"}
    assert (REPO / "runtimes/docker/cpu.Dockerfile").is_file()
    assert (REPO / "runtimes/docker/cuda.Dockerfile").is_file()
    for dockerfile in (REPO / "runtimes/docker").glob("*.Dockerfile"):
        text = dockerfile.read_text()
        assert "ARG BASE_IMAGE=" in text and "ARG EXTRA_CA_CERTS" in text and "USER 1000:1000" in text


def test_local_unsafe_is_flagged_as_unisolated() -> None:
    found = check_profile_file(REPO / "runtimes/local-unsafe.yaml")
    assert [d.code for d in found] == ["unisolated"]
    assert "trusted code only" in found[0].message


def test_load_by_name_fills_defaults() -> None:
    profile = load_profile("local", [REPO / "runtimes"])
    assert profile.name == "local" and profile.backend == "local" and profile.isolation == "auto"
    assert profile.limits.wall_time == 4 * 3600 and profile.limits.max_processes == 4096
    assert profile.limits.output_bytes == 1 << 20 and profile.kill_grace == 5
    assert profile.path == REPO / "runtimes/local.yaml"
    assert profile.cgroup_parent is None and profile.bind_ro == ("/opt",) and profile.tmp_size == 2 << 30


def test_docker_profile_interpolates_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRA_DSL_DOCKER_BASE_IMAGE", "my-base:1")
    monkeypatch.delenv("AIRA_DSL_DOCKER_PIP_PACKAGES", raising=False)
    monkeypatch.delenv("AIRA_DSL_EXTRA_CA_CERTS", raising=False)
    profile = load_profile(REPO / "runtimes/docker-cpu.yaml")
    assert profile.docker is not None
    assert profile.docker.build_args["BASE_IMAGE"] == "my-base:1"
    assert profile.docker.build_args["PIP_PACKAGES"] == "numpy pandas scikit-learn scipy"
    assert profile.docker.extra_ca_certs is None
    assert profile.docker.dockerfile == REPO / "runtimes/docker/cpu.Dockerfile"
    assert profile.docker.context == REPO / "runtimes/docker"
    assert profile.limits.memory_bytes == 8 << 30 and profile.limits.cpus == 4


def test_unknown_key_and_bad_enum_are_positioned(tmp_path: Path) -> None:
    path = write(tmp_path, "backend: local\nisolaton: none\nlimits:\n  wall_time: 10x\ngpus: maybe\n")
    found = check_profile_file(path)
    codes = {(d.code, d.line) for d in found}
    assert ("unknown-key", 2) in codes
    assert any(d.code == "unknown-key" and "did you mean 'isolation'" in (d.hint or "") for d in found)
    assert any(d.line == 4 for d in found)  # the malformed duration
    assert any(d.line == 5 and d.code == "invalid-value" for d in found)
    assert all(d.file == str(path) for d in found)


def test_semantic_checks(tmp_path: Path) -> None:
    path = write(tmp_path, "backend: docker\nisolation: none\ndocker:\n  dockerfile: missing.Dockerfile\n"
                           "env:\n  allow: [OPENAI_API_KEY, LANG]\n")
    found = {d.code: d for d in check_profile_file(path)}
    assert found["missing-file"].line == 4 and found["missing-file"].is_error
    assert found["ignored-key"].severity is Severity.WARNING and found["ignored-key"].line == 2
    assert found["secret-env"].severity is Severity.WARNING and found["secret-env"].line == 6
    no_image = write(tmp_path, "backend: docker\n", "d.yaml")
    assert [d.code for d in check_profile_file(no_image)] == ["missing-image"]


def test_load_errors_are_sandbox_errors(tmp_path: Path) -> None:
    with pytest.raises(SandboxError) as info:
        load_profile("nope", [REPO / "runtimes"])
    assert "no sandbox profile named 'nope'" in info.value.message
    assert "local" in (info.value.hint or "")
    bad = write(tmp_path, "backend: lokal\n")
    with pytest.raises(SandboxError) as info:
        load_profile(str(bad))
    assert "is invalid" in info.value.message and "lokal" in info.value.message
    with pytest.raises(SandboxError, match="does not exist"):
        load_profile(str(tmp_path / "absent.yaml"))


def test_unset_env_is_a_warning_when_checking_and_an_error_when_loading(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRA_TEST_UNSET_VAR", raising=False)
    path = write(tmp_path, "backend: docker\ndocker:\n  image: ${env:AIRA_TEST_UNSET_VAR}\n")
    found = check_profile_file(path)
    assert [(d.code, d.severity) for d in found] == [("env-unset", Severity.WARNING)]
    with pytest.raises(SandboxError, match="AIRA_TEST_UNSET_VAR"):
        load_profile(str(path))


def test_validate_command_accepts_the_runtimes_folder(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from aira_dsl.cli import cli

    result = CliRunner().invoke(cli, ["validate", str(REPO / "runtimes"), "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    kinds = {Path(f["path"]).name: f["kind"] for f in payload["files"]}
    assert kinds["local.yaml"] == "sandbox-profile" and kinds["docker-gpu.yaml"] == "sandbox-profile"


def test_packaged_schema_is_the_repository_schema() -> None:
    shipped = (REPO / "schema/sandbox-profile.schema.json").read_bytes()
    packaged = (REPO / "aira_dsl/schemas/sandbox-profile.schema.json").read_bytes()
    assert shipped == packaged
    json.loads(shipped)


@pytest.mark.parametrize(("text", "expected"), [
    ("2g", 2 << 30), ("512m", 512 << 20), ("1.5GiB", 3 << 29), ("64k", 65536), ("100", 100),
    (4096, 4096), ("2 GB", 2 << 30), ("lots", None), (-1, None), (True, None),
])
def test_parse_size(text: object, expected: int | None) -> None:
    assert parse_size(text) == expected


def test_secret_names() -> None:
    for name in ("OPENAI_API_KEY", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "MY_PASSWORD",
                 "ANTHROPIC_BASE_URL"):
        assert is_secret_name(name), name
    for name in ("LANG", "TZ", "OMP_NUM_THREADS", "PYTHONHASHSEED"):
        assert not is_secret_name(name), name


def test_loader_defaults_are_the_declared_ones() -> None:
    """A profile that says only its backend gets every default from the declarations (the schema
    shows the same ones); the runtime objects' own defaults are those too."""
    from aira_dsl.sandbox.base import Limits
    from aira_dsl.sandbox.profile import DockerSettings, SandboxProfile, profile_from_data
    from aira_dsl.sandbox.profile_settings import DockerBackendSettings, LimitSettings, ProfileSettings
    from aira_dsl.settings.fields import build

    declared = build(ProfileSettings, {"backend": "local"})
    limits = LimitSettings()
    profile = profile_from_data({"backend": "local"}, "p")
    assert profile == SandboxProfile(name="p", backend="local")
    assert profile.limits == Limits(wall_time=limits.wall_time, memory_bytes=limits.memory, cpus=limits.cpus,
                                    max_processes=limits.max_processes, output_bytes=limits.output_bytes,
                                    file_size_bytes=limits.file_size)
    assert (profile.isolation, profile.kill_grace, profile.gpus, profile.env_allow, profile.tmp_size, profile.uid) == (
        declared.isolation, declared.kill_grace, declared.gpus, declared.env.allow, declared.local.tmp_size,
        declared.local.uid)
    docker = profile_from_data({"backend": "docker", "docker": {"image": "x"}}, "d").docker
    section = DockerBackendSettings()
    assert docker == DockerSettings(image="x") and (docker.user, docker.shm_size, docker.init) == (
        section.user, section.shm_size, section.init)


def test_sizes_in_either_case_are_accepted_and_negative_grace_is_an_error(tmp_path: Path) -> None:
    """The schema's size pattern is the parser's (``8G`` and ``1.5GiB`` were refused by the schema
    although the parser and the docs take them); a negative kill_grace used to become 5s silently."""
    path = write(tmp_path, "backend: local\nlimits: {memory: 8G, output_bytes: 1.5MiB}\nlocal: {tmp_size: 2 GB}\n")
    assert check_profile_file(path) == []
    profile = load_profile(str(path))
    assert (profile.limits.memory_bytes, profile.limits.output_bytes, profile.tmp_size) == (8 << 30, 3 << 19, 2 << 30)
    bad = write(tmp_path, "backend: local\nkill_grace: -1\n", "bad.yaml")
    assert [(d.code, d.line) for d in check_profile_file(bad)] == [("out-of-range", 2)]


def test_size_type_errors_name_the_key_and_its_form(tmp_path: Path) -> None:
    path = write(tmp_path, "backend: local\nlimits: {memory: lots}\n")
    [diag] = check_profile_file(path)
    assert (diag.code, diag.line) == ("invalid-value", 2) and "limits.memory" in diag.message
    assert "Memory limit" in (diag.hint or "") and "512m" in (diag.hint or "")
