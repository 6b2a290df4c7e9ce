"""Runtime orchestration benchmarks against the scripted server.

1. Overhead per node: zero-latency scripted answers and a trivial solution; overhead is the
   wall time per node minus the time spent inside LLM calls and sandbox executions (both
   measured by the run itself and read from its journal).
2. Throughput with 1, 2 and 4 workers: 200 ms per LLM answer and a solution that sleeps 0.5 s;
   the ideal for N workers is N / (time of one node's LLM calls + 0.5 s).
3. Orchestrator memory (peak RSS of this process) after a 1,000-node run.

Usage: python3 bench/bench_runtime.py [--nodes N] [--big N] [--profile local|local-unsafe]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRIVIAL = 'import shutil\nshutil.copy("./data/sample_submission.csv", "./submission/submission.csv")\n' \
          'import json; json.dump({"cv_score": 0.5}, open("./working/metrics.json", "w"))\n'
SLEEPY = "import time\ntime.sleep(0.5)\n" + TRIVIAL


def script(code: str, latency: float) -> dict[str, object]:
    return {"latency": latency, "rules": [
        {"when": {"kind": "analyze"}, "answers": [{"review": {"is_bug": False, "summary": "ok", "metric": 0.5}}]},
        {"when": {"kind": ["draft", "improve", "debug", "crossover"]}, "answers": [{"plan": "p", "code": code}]},
    ]}


def run(steps: int, workers: int, code: str, latency: float, profile: str) -> tuple[float, Path]:
    from aira_dsl.compiler import load_plan_or_spec
    from aira_dsl.llm.scripted import ScriptedServer
    from aira_dsl.runtime.engine import Engine, RunOptions

    plan = load_plan_or_spec(REPO / "specs" / "aira-greedy.yaml", overrides=(
        f"budget.steps={steps}", "budget.time=2h", "budget.exec_timeout=60s", f"execution.sandbox={profile}",
        "fitness.metric=reported.cv_score"))
    out = Path(tempfile.mkdtemp(prefix="aira-bench-")) / "run"
    with ScriptedServer(script(code, latency)) as server:
        engine = Engine(plan, RunOptions(task_ref="penguins", out=out, workers=workers, base_url=server.base_url))
        start = time.perf_counter()
        asyncio.run(engine.run())
        wall = time.perf_counter() - start
    return wall, out


def inside_time(out: Path) -> tuple[float, float]:
    conn = sqlite3.connect(out / "journal.sqlite")
    llm = conn.execute("SELECT COALESCE(SUM(latency), 0) FROM llm_calls").fetchone()[0]
    exe = conn.execute("SELECT COALESCE(SUM(duration), 0) FROM executions").fetchone()[0]
    return float(llm), float(exe)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=30)
    parser.add_argument("--big", type=int, default=1000)
    parser.add_argument("--profile", default="local")
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "bench")
    os.chdir(REPO)

    overheads = []
    for _ in range(3):
        wall, out = run(args.nodes, 1, TRIVIAL, 0.0, args.profile)
        llm, exe = inside_time(out)
        overheads.append((wall - llm - exe) / args.nodes)
    print(f"orchestration overhead per node ({args.profile}, 1 worker, {args.nodes} nodes): "
          f"median {statistics.median(overheads) * 1000:.1f} ms")

    for workers in (1, 2, 4):
        wall, out = run(args.nodes, workers, SLEEPY, 0.2, args.profile)
        conn = sqlite3.connect(out / "journal.sqlite")
        calls_per_node = conn.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0] / args.nodes
        ideal = workers / (0.2 * calls_per_node + 0.5)
        actual = args.nodes / wall
        print(f"throughput {workers} worker(s): {actual:.2f} nodes/s, ideal {ideal:.2f} "
              f"({calls_per_node:.1f} calls/node) -> {actual / ideal:.2f} x ideal")

    if args.big:
        wall, _ = run(args.big, 2, TRIVIAL, 0.0, "local-unsafe")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{args.big}-node run (2 workers, local-unsafe): {wall:.1f} s, peak RSS of the orchestrator "
              f"process {peak:.0f} MB")


if __name__ == "__main__":
    sys.exit(main())
