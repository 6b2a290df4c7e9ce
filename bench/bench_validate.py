"""Validation speed: aira-dsl validate against check-jsonschema on the same files.

Prints medians of repeated runs:
- cold CLI CPU time (user + sys of the whole process, from ``wait4``) and wall time of
  ``aira-dsl validate specs/`` (all checks: schema, references, expressions, templates) and of
  ``check-jsonschema --schemafile schema/agent.schema.json`` on the same spec files (schema
  only), and the CPU ratio: issue 16's goal is at most 1.0x; also ours with the parsed-tree
  caches off (aira_dsl/usercache.py: the first run after an install). CPU time rather than wall time,
  because the machines this runs on are shared: a neighbour's load stretches wall time but
  hardly the CPU a process uses. The load average is printed with the figures;
- in-process throughput (specs/s) of the full check of every shipped spec, and of the schema
  step alone as the baseline, measured in the same process.

Both commands run with byte-code caching on, in a private cache folder (PYTHONPYCACHEPREFIX),
after one warm-up run each: "cold" means a fresh process as a user or pre-commit starts it on
an installed package, not a first run that compiles every module (an environment with
PYTHONDONTWRITEBYTECODE=1 would otherwise recompile aira-dsl's sources on every run while
check-jsonschema's installed byte code is cached).

Usage: python3 bench/bench_validate.py [--repeat N] [--cli-only]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cpu_and_wall(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """CPU seconds (user + sys of the process and its children, from ``wait4``) and wall
    seconds of one run of ``cmd``."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - start


def _tool(name: str) -> str | None:
    """The console script next to this interpreter (not a pyenv/asdf shim, whose own start-up
    would be counted), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (1/5/15 min, {os.cpu_count()} CPUs)"


def cli_ratio(repeat: int) -> float | None:
    """Print the cold-CLI figures; return the CPU ratio (None without check-jsonschema)."""
    specs = sorted(str(p.relative_to(REPO)) for p in (REPO / "specs").rglob("*.yaml"))
    aira = _tool("aira-dsl")
    ours_cmd = [aira, "validate", "specs/"] if aira else [sys.executable, "-m", "aira_dsl", "validate", "specs/"]
    checker = _tool("check-jsonschema")
    base_cmd = [checker, "--schemafile", "schema/agent.schema.json", *specs] if checker else None
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    samples: dict[str, list[tuple[float, float]]] = {"ours": [], "base": [], "uncached": []}
    uncached_env = {**env, "AIRA_DSL_NO_DERIVED_CACHE": "1"}
    with tempfile.TemporaryDirectory(prefix="aira-bench-pyc-") as pyc:
        env["PYTHONPYCACHEPREFIX"] = pyc
        print(f"{len(specs)} spec files under specs/; load average before: {_load()}")
        for cmd in (ours_cmd, base_cmd):  # warm-up: writes the byte code
            if cmd:
                subprocess.run(cmd, cwd=REPO, capture_output=True, check=False, env=env)
        uncached_env["PYTHONPYCACHEPREFIX"] = pyc
        for _ in range(repeat):  # interleaved: a change of load hits every command alike
            samples["ours"].append(cpu_and_wall(ours_cmd, env))
            samples["uncached"].append(cpu_and_wall(ours_cmd, uncached_env))
            if base_cmd:
                samples["base"].append(cpu_and_wall(base_cmd, env))
    medians = {name: (statistics.median(c for c, _ in runs), statistics.median(w for _, w in runs))
               for name, runs in samples.items() if runs}
    ours_cpu, ours_wall = medians["ours"]
    print(f"cold `aira-dsl validate specs/` (every check):   CPU median {ours_cpu * 1000:6.0f} ms, "
          f"wall median {ours_wall * 1000:6.0f} ms (n={repeat})")
    uncached_cpu, uncached_wall = medians["uncached"]
    print(f"  the same without the parsed-tree caches:       CPU median {uncached_cpu * 1000:6.0f} ms, "
          f"wall median {uncached_wall * 1000:6.0f} ms (AIRA_DSL_NO_DERIVED_CACHE=1: a first run)")
    if "base" not in medians:
        print("check-jsonschema not installed: pip install check-jsonschema")
        return None
    base_cpu, base_wall = medians["base"]
    print(f"cold `check-jsonschema --schemafile ...` (schema): CPU median {base_cpu * 1000:6.0f} ms, "
          f"wall median {base_wall * 1000:6.0f} ms (n={repeat})")
    print(f"CPU ratio aira-dsl / check-jsonschema: {ours_cpu / base_cpu:.2f}x (goal: <= 1.00x); "
          f"without the tree caches {uncached_cpu / base_cpu:.2f}x")
    print(f"load average after: {_load()}")
    return ours_cpu / base_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--cli-only", action="store_true", help="only the cold-CLI comparison")
    args = parser.parse_args()

    cli_ratio(args.repeat)
    if args.cli_only:
        return

    from aira_dsl.compiler import check_spec
    from aira_dsl.spec.loader import load_spec
    from aira_dsl.spec.schema_check import load_packaged_schema, schema_diagnostics

    specs = sorted(str(p.relative_to(REPO)) for p in (REPO / "specs").rglob("*.yaml"))
    schema = load_packaged_schema("agent.schema.json")
    os.chdir(REPO)
    for path in specs:  # warm caches (parsers, compiled schema) as a long-lived process would
        check_spec(path)

    def rate(fn: object, rounds: int = 40) -> float:
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(rounds):
                for path in specs:
                    fn(path)  # type: ignore[operator]
            samples.append(rounds * len(specs) / (time.perf_counter() - start))
        return statistics.median(samples)

    full = rate(check_spec)
    schema_only = rate(lambda p: schema_diagnostics(load_spec(p).document, schema))
    print(f"in process, full check:        median {full:8.0f} specs/s")
    print(f"in process, load + schema only: median {schema_only:8.0f} specs/s (baseline)")
    print(f"full check costs {schema_only / full:.2f}x the schema-only baseline")


if __name__ == "__main__":
    main()
