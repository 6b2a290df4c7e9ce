"""Bad input to the fidelity knobs gives positioned diagnostics; the presets validate clean.

Fixtures live in ``tests/compiler/fixtures/fidelity/`` and extend the complete valid fixture.
Each case runs ``aira-dsl validate`` as a real process and checks the exit code, the position
(file:line:col of the offending value or key), the code, the message and the hint.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests_support import REPO, run_cli  # type: ignore[import-not-found]

from aira_dsl.compiler import check_spec, compile_spec

FIXTURES = Path("tests/compiler/fixtures/fidelity")

CASES = [
    # fixture, exit code, severity, code, line, col, message fragment, hint fragment
    ("expansion-on-greedy", 1, "error", "unknown-key", 7, 3, "unknown key 'expansion' in policy",
     "'expansion' is a parameter of policy kind 'mcts', not of 'greedy'"),
    ("schedule-on-mcts", 1, "error", "unknown-key", 8, 3, "unknown key 'schedule' in policy",
     "'schedule' is a parameter of policy kind 'evolutionary', not of 'mcts'"),
    ("expansion-unknown", 1, "error", "invalid-value", 7, 14, 'policy.expansion is "bacth"', "did you mean 'batch'?"),
    ("debug-time-short", 0, "warning", "debug-time-short", 7, 19,
     "policy.max_debug_time (10 minutes) is shorter than one execution may take (budget.exec_timeout: 30 minutes)",
     "end a debug chain after its first debug step"),
    ("debug-time-zero", 1, "error", "invalid-value", 7, 19, "policy.max_debug_time must be > 0", "no cap"),
    ("debug-time-bad-format", 1, "error", "invalid-value", 7, 19, "'six hours' is not of the expected form",
     "A duration"),
    ("temperature-rises", 0, "warning", "temperature-rises", 9, 22,
     "final_temperature (2) is above the initial temperature (0.5)", "a schedule normally cools"),
    ("temperature-no-generations", 1, "error", "temperature-schedule-length", 9, 22,
     "the temperature goes from 1 to 0.1 over num_generations, which is not set", "set policy.num_generations"),
    ("temperature-both", 0, "warning", "temperature-ignored", 7, 3,
     "policy.temperature is ignored when initial_temperature is set", "remove temperature"),
]


@pytest.mark.parametrize(("name", "rc", "severity", "code", "line", "col", "message", "hint"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_input_gets_a_positioned_diagnostic(name: str, rc: int, severity: str, code: str, line: int,
                                                col: int, message: str, hint: str) -> None:
    path = FIXTURES / f"{name}.yaml"
    result = run_cli("validate", str(path), "--format", "json")
    assert result.returncode == rc, result.stdout + result.stderr
    payload = json.loads(result.stdout)
    found = [d for d in payload["diagnostics"] if d["code"] == code]
    assert len(found) == 1, payload["diagnostics"]
    diagnostic = found[0]
    assert (diagnostic["file"], diagnostic["line"], diagnostic["col"], diagnostic["severity"]) == \
        (str(path), line, col, severity)
    assert message in diagnostic["message"] and hint in (diagnostic["hint"] or "")
    text = run_cli("validate", str(path))
    assert f"{path}:{line}:{col}: {severity}: " in text.stdout and f"[{code}]" in text.stdout


def test_fixture_base_is_valid() -> None:
    assert [d for d in check_spec(REPO / FIXTURES / "evo-base.yaml").diagnostics] == []


PRESETS = ["aide-greedy", "aira-greedy", "aira-mcts", "aira-evo"]


def test_presets_validate_clean_and_render_every_operator() -> None:
    result = run_cli("validate", "specs/")
    assert result.returncode == 0 and "0 errors, 0 warnings" in result.stderr, result.stdout + result.stderr
    for name in PRESETS:
        plan = compile_spec(REPO / "specs" / "dojo" / f"{name}.yaml").plan
        assert plan is not None
        assert all(not op.complexity for op in plan.operators.values())  # use_complexity: False
        for operator, op in plan.operators.items():
            rendered = run_cli("render", f"specs/dojo/{name}.yaml", operator)
            assert rendered.returncode == 0, rendered.stderr
            if op.kind in ("draft", "improve", "debug"):  # the sample memory in dojo's layout
                assert "Design: " in rendered.stdout and "\nAnalysis: " in rendered.stdout


def documented_differences() -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """The block of docs/fidelity.md that lists `aira-dsl diff specs/aira-greedy.yaml specs/dojo/aira-greedy.yaml`."""
    text = (REPO / "docs" / "fidelity.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- BEGIN diff aira-greedy -->\n```text\n(.*?)```\n<!-- END diff aira-greedy -->", text, re.S)
    assert block, "docs/fidelity.md lacks the diff block"
    changes: dict[str, tuple[str, str]] = {}
    templates: dict[str, str] = {}
    for line in block.group(1).splitlines():
        if match := re.fullmatch(r"  (\S+): (.*) -> (.*)", line):
            changes[match[1]] = (match[2], match[3])
        elif match := re.fullmatch(r"template (\S+(?: -> \S+)?) \((added|removed|changed|replaced)\):?", line):
            templates[match[1]] = match[2]
    return changes, templates


def test_diff_against_the_paper_text_agent_lists_exactly_the_documented_differences() -> None:
    result = run_cli("diff", "specs/aira-greedy.yaml", "specs/dojo/aira-greedy.yaml", "--format", "json")
    assert result.returncode == 1, result.stderr  # they differ
    payload = json.loads(result.stdout)
    actual = {c["path"]: (json.dumps(c["before"]), json.dumps(c["after"])) for c in payload["changes"]}
    changes, templates = documented_differences()
    assert set(actual) == set(changes)
    for path, (before, after) in changes.items():
        assert actual[path] == (before, after), path
    assert {t["name"]: t["status"] for t in payload["templates"]} == templates
