"""The journal is the contract between the runtime and the reports: what the writer stores, the
report loader reads back as the same typed records (nodes, executions, reviews, grades, usage)."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from aira_dsl.report.load import load_run
from aira_dsl.runtime.journal import open_journal
from aira_dsl.runtime.records import CallRecord, Execution, Grade, NodeOutcome, NodeRecord, Review, Usage

EXECUTION = Execution(exit_code=0, timed_out=False, oom_killed=False, duration=12.5,
                      output="fold 1: 0.81\nvalidation accuracy: 0.83 — ünïcode\n", isolation="bwrap",
                      submission_exists=True, submission_valid=True, submission_reason=None,
                      reported={"cv": 0.83, "folds": 5, "missing": None})
TIMED_OUT = Execution(exit_code=-9, timed_out=True, oom_killed=False, duration=30.0, output="", isolation=None,
                      submission_exists=False, submission_valid=False,
                      submission_reason="no submission.csv was written", reported={})
REVIEW = Review(is_bug=False, summary="ran; 5-fold CV accuracy 0.83", metric=0.83, method="tools")
GRADE = Grade(hidden_score=0.8, test_score=0.79, valid_submission=True, gold=False, silver=True, bronze=False,
              above_median=True, report={"score": 0.79, "medal": "silver", "thresholds": [0.9, 0.78, 0.7]})


def call(node_id: int | None, operator: str, kind: str, attempt: int, tokens: tuple[int, int, int], cost: float,
         latency: float, *, cached: bool = False, error: str | None = None) -> CallRecord:
    return CallRecord(node_id=node_id, operator=operator, kind=kind, model="o3", attempt=attempt,
                      messages=[{"role": "system", "content": f"{operator} prompt"}], response="answer",
                      reasoning=None, prompt_tokens=tokens[0], completion_tokens=tokens[1],
                      reasoning_tokens=tokens[2], cost_usd=cost, latency=latency, cached=cached, error=error)


def test_typed_records_round_trip_through_journal_and_report_loader(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({"task": {"id": "t", "direction": "minimize"}}))
    started = time.time()
    journal = open_journal(run_dir)
    journal.set_meta("plan_hash", "abc123")
    journal.event("start", seed=3, workers=2)
    journal.add_pending(0, parent_ids=(), role="draft", operator="draft", kind="draft", depth=0, debug_depth=0,
                        generation=None, island=None, worker=0, meta={"complexity": "minimal"})
    journal.add_pending(1, parent_ids=(0,), role="improve", operator="refine", kind="improve", depth=1,
                        debug_depth=0, generation=2, island=1, worker=1, meta={})
    journal.add_pending(2, parent_ids=(1,), role="", operator="fix", kind="debug", depth=2, debug_depth=1,
                        generation=None, island=None, worker=0, meta={"why": ["timed out"]})
    calls = [call(0, "draft", "draft", 1, (100, 50, 10), 0.001, 0.5, error="no code"),
             call(0, "draft", "draft", 2, (120, 60, 0), 0.002, 0.25),
             call(0, "analyze", "analyze", 1, (80, 20, 0), 0.0005, 0.125, cached=True),
             call(1, "refine", "improve", 1, (200, 100, 0), 0.004, 1.0),
             call(None, "fix", "debug", 1, (10, 5, 0), 0.0001, 0.0625)]  # a dropped node's paid call
    for made in calls:
        journal.record_call(made)
    outcomes = [
        NodeOutcome(0, buggy=False, metric=0.83, value=0.83, fitness=-0.83, plan="forest", code="print(1)",
                    summary=REVIEW.summary, error=None, execution=EXECUTION, review=REVIEW, grade=GRADE),
        NodeOutcome(1, buggy=True, metric=None, value=None, fitness=None, plan="bigger forest", code="loop()",
                    summary=None, error="timed out", execution=TIMED_OUT),
    ]
    for outcome in outcomes:
        journal.commit_outcome(outcome, elapsed=42.0)
    journal.close()
    finished = time.time()

    run = load_run(run_dir)
    assert run.warnings == [] and run.direction == "minimize"
    assert [n.id for n in run.nodes] == [0, 1, 2]
    expected = [
        NodeRecord(id=0, parent_ids=(), role="draft", operator="draft", kind="draft", status="done", buggy=False,
                   metric=0.83, fitness=-0.83, value=0.83, plan="forest", code="print(1)", summary=REVIEW.summary,
                   error=None, depth=0, debug_depth=0, generation=None, island=None, worker=0,
                   meta={"complexity": "minimal"}, created_at=0.0, finished_at=0.0, exec_time=12.5),
        NodeRecord(id=1, parent_ids=(0,), role="improve", operator="refine", kind="improve", status="done",
                   buggy=True, metric=None, fitness=None, value=None, plan="bigger forest", code="loop()",
                   summary=None, error="timed out", depth=1, debug_depth=0, generation=2, island=1, worker=1,
                   meta={}, created_at=0.0, finished_at=0.0, exec_time=30.0),
        NodeRecord(id=2, parent_ids=(1,), role="", operator="fix", kind="debug", status="pending", buggy=None,
                   metric=None, fitness=None, value=None, plan=None, code=None, summary=None, error=None, depth=2,
                   debug_depth=1, generation=None, island=None, worker=0, meta={"why": ["timed out"]},
                   created_at=0.0, finished_at=None, exec_time=None),
    ]
    for node, want in zip(run.nodes, expected, strict=True):
        record = node.record
        assert started <= record.created_at <= finished
        assert (record.finished_at is None) == (want.finished_at is None)
        if record.finished_at is not None:
            assert record.created_at <= record.finished_at <= finished
        assert dataclasses.replace(record, created_at=0.0, finished_at=want.finished_at) == want

    first, second, third = run.nodes
    assert (first.execution, first.review, first.grade) == (EXECUTION, REVIEW, GRADE)
    assert first.grade is not None and first.grade.report == GRADE.report and first.grade.medal == "silver"
    assert (second.execution, second.review, second.grade) == (TIMED_OUT, None, None)
    assert (third.execution, third.review, third.grade) == (None, None, None)

    assert first.usage == Usage(calls=3, prompt_tokens=300, completion_tokens=130, reasoning_tokens=10,
                                cost_usd=0.001 + 0.002 + 0.0005, errors=1, latency=0.875)
    assert second.usage == Usage(calls=1, prompt_tokens=200, completion_tokens=100, cost_usd=0.004, latency=1.0)
    assert third.usage == Usage()
    assert run.operator_usage == {
        "draft": Usage(2, 220, 110, 10, 0.003, 1, 0.75), "analyze": Usage(1, 80, 20, 0, 0.0005, 0, 0.125),
        "refine": Usage(1, 200, 100, 0, 0.004, 0, 1.0), "fix": Usage(1, 10, 5, 0, 0.0001, 0, 0.0625)}
    assert run.usage.tokens == sum(c.prompt_tokens + c.completion_tokens for c in calls)
    assert run.meta["plan_hash"] == "abc123" and run.meta["elapsed"] == 42.0
    assert [(e["kind"], e["data"]) for e in run.events] == [("start", {"seed": 3, "workers": 2})]
