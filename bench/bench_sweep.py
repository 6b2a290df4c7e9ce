"""Benchmark: what a sweep executor adds to running the same runs by hand.

Every job is the same tiny run (AIRA greedy, 1 step, on ``penguins``, against the scripted
server started here), so the differences are the executors' own costs:

* baseline ``direct run``: ``python -m aira_dsl run PLAN ...`` in a subprocess, the time of one
  run with nothing around it (median of ``repeats``);
* per executor (local; slurm when a cluster answers; ray when installed), a sweep of N such
  jobs run ONE AT A TIME (local ``parallel: 1``, SLURM ``array_parallelism: 1``, Ray
  ``num_cpus: 1``), so that wall time / N − baseline is the **launch overhead per job** (job
  process, records, scheduling, polling), and the **time to first running job** is from the
  ``aira-dsl sweep`` command's start to the first job's recorded start (loading and compiling
  the sweep, checking tasks and the engine, submission, engine start-up).

Run: ``python bench/bench_sweep.py [jobs] [repeats] [kinds]`` (defaults 4, 3 and every executor
available, e.g. ``local,ray``); prints seconds and the
ratio of each executor's per-job wall time to the direct run. SLURM needs SLURM_CONF (see
.ci/slurm.sh); Ray needs the ray extra.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import yaml

from aira_dsl.llm.scripted import ScriptedServer

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "specs" / "aira-greedy.yaml"


def sweep_file(folder: Path, kind: str, jobs: int) -> Path:
    data = {
        "version": 1, "name": f"bench-{kind}", "specs": [str(SPEC)], "tasks": ["penguins"], "seeds": jobs,
        "run": {"workers": 1, "budget": {"steps": 1, "exec_timeout": "60s"}},
        "executor": {"kind": kind, "local": {"parallel": 1},
                     "slurm": {"array_parallelism": 1, "cpus_per_job": 1, "time": "30m"},
                     "ray": {"num_cpus": 1, "cpus_per_job": 1}},
    }
    path = folder / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def direct_run(folder: Path, env: dict[str, str], plan: Path, n: int) -> float:
    out = folder / f"direct-{n}"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "aira_dsl", "run", str(plan), "--task", "penguins", "--seed", str(n),
                    "--out", str(out), "--format", "json"], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def sweep(folder: Path, env: dict[str, str], kind: str, jobs: int, n: int) -> tuple[float, float]:
    """(wall seconds, seconds to the first job's start) of one sweep of ``jobs`` jobs."""
    out = folder / f"{kind}-{n}"
    args = [sys.executable, "-m", "aira_dsl", "sweep", str(sweep_file(folder, kind, jobs)), "--out", str(out)]
    if kind == "slurm":
        args.append("--wait")
    launched = time.time()
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{kind} sweep failed: {done.stderr[-800:]}")
    starts = []
    for path in out.glob("jobs/*/attempts.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if event["event"] == "start":
                starts.append(event["started_at"])
    return wall, min(starts) - launched


def available() -> list[str]:
    kinds = ["local"]
    if os.environ.get("SLURM_CONF") and shutil.which("sbatch"):
        ok = subprocess.run(["sinfo", "-h"], capture_output=True, timeout=20, check=False).returncode == 0
        if ok:
            kinds.append("slurm")
    try:
        import ray  # noqa: F401

        kinds.append("ray")
    except ImportError:
        pass
    return kinds


def main() -> None:
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    kinds = sys.argv[3].split(",") if len(sys.argv) > 3 else available()
    answers = yaml.safe_load(resources.files("aira_dsl.runtime.demo").joinpath("answers.yaml").read_text())
    with ScriptedServer(answers) as server, tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        folder = Path(tmp)
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "bench", "NO_COLOR": "1"}
        env.pop("RAY_ADDRESS", None)
        plan = folder / "plan.json"
        subprocess.run([sys.executable, "-m", "aira_dsl", "compile", str(SPEC), "--set", "budget.steps=1",
                        "--set", "execution.workers=1", "-o", str(plan)], check=True, capture_output=True)
        base = statistics.median(direct_run(folder, env, plan, n) for n in range(repeats))
        print(f"jobs per sweep: {jobs}, run one at a time; repeats: {repeats}")
        print(f"{'direct run (baseline)':34s} {base:7.2f} s per run")
        for kind in kinds:
            results = [sweep(folder, env, kind, jobs, n) for n in range(repeats)]
            wall = statistics.median(r[0] for r in results)
            first = statistics.median(r[1] for r in results)
            per_job = wall / jobs
            print(f"{kind + ' per job (wall / jobs)':34s} {per_job:7.2f} s   x{per_job / base:.2f} of a direct run;"
                  f" overhead {per_job - base:+.2f} s per job")
            print(f"{kind + ' time to first running job':34s} {first:7.2f} s")


if __name__ == "__main__":
    main()
