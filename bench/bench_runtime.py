"""Runtime orchestration benchmarks against the scripted server.

1. Overhead per node: zero-latency scripted answers and a trivial solution; overhead is the
   wall time per node minus the time spent inside LLM calls and sandbox executions (both
   measured by the run itself and read from its journal).
2. Throughput with 1, 2 and 4 workers: 200 ms per LLM answer and a solution that sleeps 0.5 s;
   the ideal for N workers is N / (time of one node's LLM calls + 0.5 s). Times run from the
   first node's creation to the last one's completion (process start-up is not counted).
3. Orchestrator memory (peak RSS of this process) after a 1,000-node run.

Usage: python3 bench/bench_runtime.py [--nodes N] [--big N] [--profile local|local-unsafe]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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


@contextlib.contextmanager
def scripted_server(code: str, latency: float) -> Iterator[str]:
    """`aira-dsl serve-scripted` in its own process, so its request log is not counted here."""
    folder = Path(tempfile.mkdtemp(prefix="aira-bench-script-"))
    (folder / "script.yaml").write_text(json.dumps(script(code, latency)))
    proc = subprocess.Popen([sys.executable, "-m", "aira_dsl", "serve-scripted", str(folder / "script.yaml"),
                             "--port", "0", "--quiet"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run(steps: int, workers: int, code: str, latency: float, profile: str) -> tuple[float, Path]:
    from aira_dsl.compiler import load_plan_or_spec
    from aira_dsl.runtime.engine import Engine, RunOptions

    plan = load_plan_or_spec(REPO / "specs" / "aira-greedy.yaml", overrides=(
        f"budget.steps={steps}", "budget.time=2h", "budget.exec_timeout=60s", f"execution.sandbox={profile}",
        "fitness.metric=reported.cv_score"))
    out = Path(tempfile.mkdtemp(prefix="aira-bench-")) / "run"
    with scripted_server(code, latency) as base_url:
        engine = Engine(plan, RunOptions(task_ref="penguins", out=out, workers=workers, base_url=base_url))
        start = time.perf_counter()
        asyncio.run(engine.run())
        wall = time.perf_counter() - start
    return wall, out


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def inside_time(out: Path) -> tuple[float, float]:
    conn = sqlite3.connect(out / "journal.sqlite")
    llm = conn.execute("SELECT COALESCE(SUM(latency), 0) FROM llm_calls").fetchone()[0]
    exe = conn.execute("SELECT COALESCE(SUM(duration), 0) FROM executions").fetchone()[0]
    return float(llm), float(exe)


def span(out: Path) -> float:
    """Seconds from the first node's creation to the last node's completion (from the journal)."""
    conn = sqlite3.connect(out / "journal.sqlite")
    first, last = conn.execute("SELECT MIN(created_at), MAX(finished_at) FROM nodes").fetchone()
    return float(last - first)


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
        _, out = run(args.nodes, 1, TRIVIAL, 0.0, args.profile)
        llm, exe = inside_time(out)
        overheads.append((span(out) - llm - exe) / args.nodes)
    print(f"orchestration overhead per node ({args.profile}, 1 worker, {args.nodes} nodes): "
          f"median {statistics.median(overheads) * 1000:.1f} ms")

    for workers in (1, 2, 4):
        _, out = run(args.nodes, workers, SLEEPY, 0.2, args.profile)
        conn = sqlite3.connect(out / "journal.sqlite")
        calls_per_node = conn.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0] / args.nodes
        nominal = workers / (0.2 * calls_per_node + 0.5)
        llm, exe = inside_time(out)
        measured = workers / ((llm + exe) / args.nodes)
        actual = args.nodes / span(out)
        print(f"throughput {workers} worker(s): {actual:.2f} nodes/s; ideal from nominal 0.2 s/call and 0.5 s/run "
              f"{nominal:.2f} ({actual / nominal:.2f} x); ideal from the measured call and execution times "
              f"{measured:.2f} ({actual / measured:.2f} x)")

    if args.big:
        before = rss_mb()
        wall, _ = run(args.big, 2, TRIVIAL, 0.0, "local-unsafe")
        after = rss_mb()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{args.big}-node run (2 workers, local-unsafe): {wall:.1f} s; orchestrator RSS {before:.0f} MB "
              f"before the run (libraries imported) -> {after:.0f} MB after (peak {peak:.0f} MB): "
              f"{after - before:.0f} MB of run state")


if __name__ == "__main__":
    sys.exit(main())
