"""Validation speed: aira-dsl validate against check-jsonschema on the same files.

Prints medians of repeated runs:
- cold CLI wall time of `aira-dsl validate specs/` (all checks: schema, references,
  expressions, templates) and of `check-jsonschema --schemafile schema/agent.schema.json` on the
  same spec files (schema only), and their ratio;
- in-process throughput (specs/s) of the full check of every shipped spec, and of the schema
  step alone as the baseline, measured in the same process.

Usage: python3 bench/bench_validate.py [--repeat N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from aira_dsl.compiler import check_spec
    from aira_dsl.spec.loader import load_spec
    from aira_dsl.spec.schema_check import load_packaged_schema, schema_diagnostics

    specs = sorted(str(p.relative_to(REPO)) for p in (REPO / "specs").glob("*.yaml"))
    print(f"{len(specs)} shipped spec files")

    cli = wall([sys.executable, "-m", "aira_dsl", "validate", "specs/"], args.repeat)
    print(f"cold `aira-dsl validate specs/` (all checks):          median {cli * 1000:7.1f} ms")
    checker = shutil.which("check-jsonschema")
    if checker:
        base = wall([checker, "--schemafile", "schema/agent.schema.json", *specs], args.repeat)
        print(f"cold `check-jsonschema --schemafile ...` (schema only): median {base * 1000:7.1f} ms")
        print(f"ratio aira-dsl / check-jsonschema: {cli / base:.2f}x")
    else:
        print("check-jsonschema not installed: pip install check-jsonschema")

    schema = load_packaged_schema("agent.schema.json")
    import os

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
