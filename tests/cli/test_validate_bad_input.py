"""Bad input through the real command: a diagnostic or a clean usage error, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests_support import run_cli  # type: ignore[import-not-found]


def check(result: object, expected_code: int, needle: str) -> None:
    assert "Traceback" not in result.stderr + result.stdout  # type: ignore[attr-defined]
    assert result.returncode == expected_code, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    assert needle in result.stdout + result.stderr  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "content", "code", "needle"),
    [
        ("empty.yaml", b"", 1, "empty-file"),
        ("binary.yaml", bytes(range(256)) * 4, 1, "binary-file"),
        ("latin1.yaml", "name: caf\xe9\n".encode("latin-1"), 1, "not-utf8"),
        ("big.yaml", b"version: 1\nname: x\ndescription: '" + b"y" * (5 * 1024 * 1024) + b"'\n", 1,
         "file-too-large"),
        ("bomb.yaml", ("a: &a [" + ", ".join(["x"] * 9) + "]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n"
            for i in range(8))).encode(), 1, "yaml-limits"),
    ],
    ids=lambda value: value if isinstance(value, str) and value.endswith(".yaml") else "",
)
def test_bad_files(tmp_path: Path, name: str, content: bytes, code: int, needle: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    check(run_cli("validate", str(path)), code, needle)


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.symlink_to(tmp_path / "missing-target.yaml")  # dangling link: exists() is False
    check(run_cli("validate", str(path)), 2, "no such file")
    locked = tmp_path / "locked.yaml"
    locked.write_text("version: 1\n")
    os.chmod(locked, 0)
    result = run_cli("validate", str(locked))
    assert "Traceback" not in result.stderr
    assert result.returncode in (1, 2)  # root can still read it: then it is just an incomplete spec


def test_directory_with_no_specs(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# nothing\n")
    check(run_cli("validate", str(tmp_path)), 2, "no agent specs")


def test_directory_given_as_yaml_name(tmp_path: Path) -> None:
    folder = tmp_path / "dir.yaml"
    folder.mkdir()
    check(run_cli("validate", str(folder)), 2, "no agent specs")


def test_unknown_format_is_usage_error(tmp_path: Path) -> None:
    check(run_cli("validate", "specs/", "--format", "xml"), 2, "Invalid value")
