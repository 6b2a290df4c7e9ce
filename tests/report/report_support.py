"""Writing run directories with known contents, through the real journal, for report tests.

A test describes nodes (:class:`N`) and gets a run folder laid out as the runtime writes it
(``run.json``, ``plan.json``, ``journal.sqlite``, ``nodes/NNNNN/``), so every expected number in
a test follows from the description by hand. Also used by ``bench/bench_report.py``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_dsl.runtime.journal import Journal
from aira_dsl.tasks.blind import NO_TEST_SCORE

T0 = 1_700_000_000.0
"""Run start time of every factory run (fixed, so times in tests are exact)."""


@dataclass
class N:
    """A node to write. ``fitness`` defaults to ``metric`` oriented by the run's direction."""

    id: int
    parents: tuple[int, ...] = ()
    operator: str = "draft"
    role: str | None = None
    status: str = "done"
    buggy: bool = False
    metric: float | None = None
    fitness: float | None = None
    test: float | None = None
    medal: str | None = None
    above_median: bool = False
    graded: bool = True
    valid_submission: bool = True
    code: str = "print('hello')\n"
    plan: str = "a plan"
    output: str = "ok\n"
    review: str = "looks fine"
    calls: list[tuple[str, int, int, float]] = field(default_factory=list)
    """LLM calls as (operator, prompt_tokens, completion_tokens, cost_usd)."""
    error: str | None = None
    finished_offset: float | None = None
    """Seconds after the run start when the node finished (default: 10 × (id + 1))."""


def make_run(root: Path, name: str, nodes: list[N], *, spec: str = "agent-a", task: str = "t1", seed: int = 0,
             direction: str = "maximize", status: str = "finished", stop_reason: str | None = "steps",
             write_run_json: bool = True, plan_hash: str = "ab" * 32, metric: str = "accuracy",
             has_test_score: bool = True) -> Path:
    """A run folder ``root/name`` holding ``nodes``; returns its path.

    ``has_test_score=False`` writes what a ``mlebench-public:`` run writes: grades with a
    validity verdict but no test score and no medal, and ``run.json`` saying why.
    """
    run_dir = root / name
    (run_dir / "nodes").mkdir(parents=True, exist_ok=True)
    sign = -1.0 if direction == "minimize" else 1.0
    journal = Journal(run_dir / "journal.sqlite")
    plan = {"name": spec, "plan_hash": plan_hash, "fitness": {"direction": "task"}}
    journal.set_meta("plan_hash", plan_hash)
    journal.set_meta("plan", plan)
    journal.event("start", seed=seed, workers=1)
    for n in nodes:
        role = n.role or n.operator
        journal.add_pending(n.id, parent_ids=n.parents, role=role, operator=n.operator, depth=0, debug_depth=0,
                            generation=None, island=None, worker=0, meta={})
        created = T0 + 10.0 * n.id
        journal.conn.execute("UPDATE nodes SET created_at = ? WHERE id = ?", (created, n.id))
        for op, p, c, cost in n.calls:
            journal.conn.execute(
                "INSERT INTO llm_calls (node_id, operator, kind, model, messages, response, prompt_tokens,"
                " completion_tokens, cost_usd, latency, created_at) VALUES (?, ?, ?, 'm', '[]', 'r', ?, ?, ?, 0.5, ?)",
                (n.id, op, op, p, c, cost, created))
        if n.status == "pending":
            continue
        finished = T0 + (n.finished_offset if n.finished_offset is not None else 10.0 * (n.id + 1))
        valid = n.status == "done" and not n.buggy and n.metric is not None
        fitness = n.fitness if n.fitness is not None else (sign * n.metric if valid and n.metric is not None
                                                            else None)
        journal.conn.execute(
            "UPDATE nodes SET status = ?, buggy = ?, metric = ?, fitness = ?, value = ?, plan = ?, code = ?,"
            " summary = ?, error = ?, finished_at = ? WHERE id = ?",
            (n.status, int(n.buggy) if n.status == "done" else None, n.metric, fitness if valid else None,
             n.metric, n.plan, n.code, n.review, n.error, finished, n.id))
        if n.status != "done":
            continue
        journal.conn.execute(
            "INSERT INTO executions (node_id, exit_code, timed_out, oom_killed, duration, output, isolation,"
            " submission_exists, submission_valid) VALUES (?, ?, 0, 0, 1.5, ?, 'unshare', 1, ?)",
            (n.id, 1 if n.buggy else 0, n.output, 0 if n.buggy else 1))
        journal.conn.execute("INSERT INTO reviews (node_id, is_bug, summary, metric, method) VALUES (?, ?, ?, ?, 'tool')",
                             (n.id, int(n.buggy), n.review, n.metric))
        if n.graded and not n.buggy:
            medal = n.medal if has_test_score else None
            journal.conn.execute(
                "INSERT INTO grades (node_id, hidden_score, test_score, valid_submission, gold, silver, bronze,"
                " above_median) VALUES (?, NULL, ?, ?, ?, ?, ?, ?)",
                (n.id, n.test if has_test_score else None, int(n.valid_submission), int(medal == "gold"),
                 int(medal == "silver"), int(medal == "bronze"), int(n.above_median and has_test_score)))
        folder = run_dir / "nodes" / f"{n.id:05d}"
        folder.mkdir(exist_ok=True)
        (folder / "solution.py").write_text(n.code, encoding="utf-8")
        (folder / "output.txt").write_text(n.output, encoding="utf-8")
    journal.close()
    (run_dir / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    if write_run_json:
        info: dict[str, Any] = {
            "run_id": name, "spec": spec, "plan_hash": plan_hash,
            "task": {"id": task, "ref": task, "metric": metric, "direction": direction,
                     "has_test_score": has_test_score,
                     "notes": [] if has_test_score else [NO_TEST_SCORE]}, "seed": seed,
            "workers": 1, "status": status, "stop_reason": stop_reason, "created_at": T0,
            "finished_at": T0 + 10.0 * (len(nodes) + 1) if status == "finished" else None,
            "steps": sum(n.status == "done" for n in nodes), "aira_dsl_version": "0.1.0"}
        (run_dir / "run.json").write_text(json.dumps(info), encoding="utf-8")
    return run_dir


def outcome_run(root: Path, name: str, *, task: str, seed: int, vv_medal: str | None, vt_medal: str | None,
                spec: str = "agent-a", valid: bool = True) -> Path:
    """A two-node run whose validation pick earns ``vv_medal`` and whose test pick ``vt_medal``.

    Node 0 has the better validation score; node 1 the better test score. With ``valid=False``
    both nodes are buggy (the run submits nothing).
    """
    nodes = [N(0, metric=0.9, test=0.70, medal=vv_medal, above_median=vv_medal is not None, buggy=not valid),
             N(1, (0,), "improve", metric=0.8, test=0.95, medal=vt_medal, above_median=vt_medal is not None,
               buggy=not valid)]
    return make_run(root, name, nodes, spec=spec, task=task, seed=seed)


def big_run(root: Path, name: str, n_nodes: int, *, seed: int = 0, spec: str = "agent-a", task: str = "t1",
            code_lines: int = 60) -> Path:
    """A greedy-looking run of ``n_nodes`` nodes (drafts, improve chains, debug chains), for benchmarks."""
    rng = random.Random(seed)
    code = "".join(f"x_{i} = model.fit(data[{i}])  # step {i}\n" for i in range(code_lines))
    nodes: list[N] = []
    best = (None, -1.0)
    for i in range(n_nodes):
        if i < 5:
            parent: tuple[int, ...] = ()
            op = "draft"
        elif nodes[-1].buggy and rng.random() < 0.8:
            parent, op = (nodes[-1].id,), "debug"
        else:
            parent, op = ((best[0],) if best[0] is not None else ()), "improve"
        buggy = rng.random() < 0.3
        metric = None if buggy else round(0.5 + 0.4 * rng.random(), 4)
        medal = rng.choice([None, None, "bronze", "silver", "gold"]) if metric else None
        nodes.append(N(i, parent, op, buggy=buggy, metric=metric, test=None if metric is None else metric - 0.02,
                       medal=medal, above_median=medal is not None, code=code, output="epoch 1 loss 0.3\n" * 40,
                       calls=[(op, 2000, 800, 0.01), ("analyze", 1500, 100, 0.002)]))
        if metric is not None and metric > best[1]:
            best = (i, metric)
    return make_run(root, name, nodes, spec=spec, task=task, seed=seed)
