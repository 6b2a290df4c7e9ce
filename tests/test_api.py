"""The public Python API: spec → plan → run → journal and report, without the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

import aira_dsl
from aira_dsl.llm.scripted import ScriptedServer

REPO = Path(__file__).resolve().parents[1]
CODE = 'import shutil\nshutil.copy("./data/sample_submission.csv", "./submission/submission.csv")\n'


def test_lazy_names_and_unknown_attribute() -> None:
    assert set(aira_dsl.__all__) >= {"check_spec", "compile_spec", "load_plan", "run_plan", "open_journal"}
    with pytest.raises(AttributeError):
        _ = aira_dsl.no_such_name  # type: ignore[attr-defined]


@pytest.mark.slow
def test_spec_to_run_to_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    ctx = aira_dsl.check_spec(REPO / "specs" / "aira-greedy.yaml")
    assert not ctx.diagnostics.has_errors and ctx.spec is not None and ctx.spec.policy is not None
    result = aira_dsl.compile_spec(REPO / "specs" / "aira-greedy.yaml",
                                   overrides=["budget.steps=2", "fitness.buggy=exec.exit_code != 0"])
    assert result.plan is not None
    plan_file = tmp_path / "plan.json"
    result.plan.write(plan_file)
    plan = aira_dsl.load_plan(plan_file)
    script = {"rules": [{"when": {"kind": "analyze"}, "answers": [{"review": {"is_bug": False, "summary": "ok",
                                                                             "metric": 0.5}}]},
                        {"answers": [{"plan": "copy", "code": CODE}]}]}
    with ScriptedServer(script) as server:
        summary = aira_dsl.run_plan(plan, task="penguins", out=tmp_path / "run", base_url=server.base_url)
    assert summary.status == "finished" and summary.steps == 2
    journal = aira_dsl.open_journal(tmp_path / "run", readonly=True)
    try:
        assert [n.status for n in journal.nodes()] == ["done", "done"]
        assert journal.get_meta("plan_hash") == plan.plan_hash
    finally:
        journal.close()
    run = aira_dsl.load_run(tmp_path / "run")
    assert len(run.nodes) == 2
