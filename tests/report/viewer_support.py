"""Runs for the viewer's index, server and browser tests, written through the real journal.

``finish`` does what the engine does for one step (a pending row, its model calls committed
one by one, then the outcome in one transaction), so a test can make a run "live" by calling
it while a page or the server watches the journal.
"""

from __future__ import annotations

from pathlib import Path

from report_support import N, make_run, outcome_run

from aira_dsl.runtime.journal import Journal
from aira_dsl.runtime.records import CallRecord, Execution, NodeOutcome, Review

HOSTILE = "</script><script>alert(1)</script><!-- \u2028 & <b>"


def sweep(root: Path) -> Path:
    """Four finished runs (two specs, two tasks) and one still running."""
    for seed, (vv, vt) in enumerate([("gold", "gold"), (None, "bronze")]):
        outcome_run(root, f"a/t1-{seed}", task="t1", seed=seed, vv_medal=vv, vt_medal=vt)
        outcome_run(root, f"b/t2-{seed}", task="t2", seed=seed, vv_medal=None, vt_medal=None, spec="agent-b")
    make_run(root, "live", [N(0, metric=0.3), N(1, (0,), "improve", status="pending")], status="running",
             stop_reason=None)
    return root


def call(node_id: int, text: str = "improve it") -> CallRecord:
    return CallRecord(node_id=node_id, operator="improve", kind="improve", model="m", attempt=1,
                      messages=[{"role": "system", "content": HOSTILE}, {"role": "user", "content": text}],
                      response="here is the code", reasoning=None, prompt_tokens=10, completion_tokens=5,
                      reasoning_tokens=0, cost_usd=0.001, latency=0.2, cached=False)


def finish(run_dir: Path, node_id: int, parent: int, *, metric: float = 0.7, pending: bool = True,
           calls: int = 1) -> None:
    """What the engine does for one step: a pending row, its model calls, then the outcome."""
    journal = Journal(run_dir / "journal.sqlite")
    try:
        if pending:
            journal.add_pending(node_id, parent_ids=(parent,), role="improve", operator="improve", depth=1,
                                debug_depth=0, generation=None, island=None, worker=0, meta={})
        for i in range(calls):
            journal.record_call(call(node_id, f"improve node {parent}, attempt {i}"))
        journal.commit_outcome(NodeOutcome(
            node_id=node_id, buggy=False, metric=metric, value=metric, fitness=metric, plan=f"plan {node_id}",
            code=f"print({node_id})\n", summary="fine", error=None,
            execution=Execution(exit_code=0, timed_out=False, oom_killed=False, duration=1.0, output="done\n",
                                isolation="none", submission_exists=True, submission_valid=True,
                                submission_reason=None, reported={}),
            review=Review(is_bug=False, summary="fine", metric=metric, method="tool")), elapsed=5.0)
    finally:
        journal.close()
