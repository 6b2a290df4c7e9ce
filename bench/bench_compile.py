"""Compile speed: each shipped spec in process, and the cold `aira-dsl compile` command.

Reports, per shipped spec, the median time of a full compile (check + lower + hash) next to
the median time of the check stage alone measured in the same process (the baseline), and the
median cold wall time of `aira-dsl compile SPEC -o FILE` as a fresh process.

Usage: python3 bench/bench_compile.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPECS = ["aide-greedy", "aira-greedy", "aira-mcts", "aira-evo", "aira-greedy-no-memory"]


def median_ms(fn: object, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    os.chdir(REPO)
    from aira_dsl.compiler import check_spec, compile_spec

    print(f"{'spec':<24} {'compile ms':>11} {'check ms':>9} {'ratio':>6} {'cold CLI ms':>12}")
    out = Path(tempfile.mkdtemp()) / "plan.json"
    for name in SPECS:
        path = f"specs/{name}.yaml"
        compile_spec(path)  # warm caches, as a long-lived process would be
        full = median_ms(lambda p=path: compile_spec(p), args.repeat)  # type: ignore[misc]
        check = median_ms(lambda p=path: check_spec(p), args.repeat)  # type: ignore[misc]
        cold = []
        for _ in range(max(3, args.repeat // 10)):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "aira_dsl", "compile", path, "-o", str(out)], capture_output=True,
                           check=True)
            cold.append(time.perf_counter() - start)
        print(f"{name:<24} {full:>11.2f} {check:>9.2f} {full / check:>6.2f} {statistics.median(cold) * 1000:>12.0f}")


if __name__ == "__main__":
    main()
