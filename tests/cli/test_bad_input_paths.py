"""The red-team's bad inputs through the real command: exit 1 or 2 with a positioned message,
never exit 3 (internal error), never a line of a file outside the allowed roots, and JSON output
that is valid UTF-8."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests_support import run_cli  # type: ignore[import-not-found]

from aira_dsl.roots import ENV_VAR

REPO = Path(__file__).resolve().parents[2]
COMPLETE = "tests/fixtures/valid/complete.yaml"


@pytest.fixture(autouse=True)
def _no_extra_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def check(result: object, code: int, *needles: str) -> str:
    out = result.stdout + result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in out and "internal error" not in out, out
    assert result.returncode == code, out  # type: ignore[attr-defined]
    for needle in needles:
        assert needle in out, out
    return out


def test_a_task_describing_etc_passwd(tmp_path: Path) -> None:
    task = tmp_path / "task"
    (task / "public").mkdir(parents=True)
    (task / "private").mkdir()
    (task / "task.yaml").write_text("version: 1\nid: t\nname: T\nmetric: accuracy\ndescription: /etc/passwd\n"
                                    "submission: {id_column: id, target_columns: [y]}\n")
    (task / "private" / "answers.csv").write_text("id,y\na,1\n")
    (task / "public" / "sample_submission.csv").write_text("id,y\na,0\n")
    out = check(run_cli("validate", str(task)), 1, f"{task / 'task.yaml'}:5:14: error: description file "
                "'/etc/passwd' is outside the allowed roots", "[outside-allowed-roots]", "hint:")
    assert "root:x:" not in out


def test_a_spec_with_prompt_etc_hostname(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    text = (REPO / COMPLETE).read_text().replace("prompt: ../prompts/draft.j2", "prompt: /etc/hostname")
    spec.write_text(text.replace("../prompts/", "aira-dsl:prompts/aira/").replace(
        "aira-dsl:prompts/aira/analyze.j2", "aira-dsl:prompts/common/analyze.j2"))
    check(run_cli("validate", str(spec)), 1, f"{spec}:13:13: error: prompt '/etc/hostname' names a file outside "
          "the allowed roots")


def test_a_5000_digit_integer_in_a_spec(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text((REPO / COMPLETE).read_text().replace("num_drafts: 5", "num_drafts: " + "9" * 5000))
    out = check(run_cli("validate", str(spec)), 1, "error: an integer of 5,000 digits is too large",
                "[number-too-large]")
    assert len(out) < 3000  # one screen: the digits are cut in the snippet


@pytest.mark.parametrize(("override", "needle"), [
    ("policy.num_drafts=" + "9" * 5000, "an integer of 5,000 digits is too large"),
    ("budget.exec_timeout=0", "budget.exec_timeout must be > 0"),
    ("execution.sandbox=../../../../etc/passwd", "is outside the profile search path"),
    ("vars.x=.inf", "infinite and NaN numbers"),
], ids=["huge-int", "zero-exec-timeout", "sandbox-path", "inf"])
def test_bad_set_overrides_of_compile(tmp_path: Path, override: str, needle: str) -> None:
    out = check(run_cli("compile", COMPLETE, "--set", override, "-o", str(tmp_path / "plan.json")), 1, needle)
    assert not (tmp_path / "plan.json").exists()
    assert len(out) < 2000


def test_exec_json_is_valid_utf8_whatever_the_script_names(tmp_path: Path) -> None:
    script = tmp_path / "names.py"
    script.write_text('import sys\nopen(b"submission/\\xff\\xfe.csv", "wb").write(b"x")\n'
                      'sys.stdout.buffer.write(b"out \\xff\\n")\n')
    result = run_cli("exec", str(script), "--sandbox", "local-unsafe", "--format", "json", "--timeout", "60s")
    payload = json.loads(result.stdout.encode("utf-8", "surrogateescape").decode("utf-8"))  # strict UTF-8
    assert result.returncode == 0, result.stderr
    assert payload["files"] == ["submission/\ufffd\ufffd.csv"]
    assert payload["output"].startswith("out \ufffd")


def test_validate_json_is_valid_utf8_for_undecodable_file_names(tmp_path: Path) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    with open(bytes(folder) + b"/\xff.yaml", "wb") as handle:  # a name that is no UTF-8
        handle.write(b"version: 1\nname: x\noperators: 3\n")
    result = run_cli("validate", str(folder), "--format", "json")
    payload = json.loads(result.stdout.encode("utf-8", "surrogateescape").decode("utf-8"))
    assert result.returncode == 1
    assert payload["files"][0]["path"].endswith("/\ufffd.yaml")
