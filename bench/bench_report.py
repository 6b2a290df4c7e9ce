"""Benchmark: rendering the viewer and the aggregate report for 1,000-node runs.

Measured on runs written by the test factory through the real journal (greedy-like trees of
1,000 nodes, 60-line solutions, 40-line outputs, two LLM calls per node):

* baseline ``raw read``: ``SELECT *`` of the nodes, executions and grades tables plus a
  ``json.dumps`` of the rows: the floor any report that reads the journal pays;
* ``load_run``: the reader (all tables joined into node views);
* ``viewer (render)``: load + layout + template to one HTML string; ``viewer (write)``: the
  same through ``write_viewer`` (atomic file write);
* ``report``: ``collect_runs`` + ``build_report`` (1,000 bootstrap replicates) over 10 runs of
  1,000 nodes (2 agents x 5 seeds), then rendering the text tables.

Run: ``python bench/bench_report.py [repeats]``; prints medians in ms and ratios to the baseline.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "report"))

from report_support import big_run

from aira_dsl.report import build_report, collect_runs, load_run, render_report, render_viewer, write_viewer


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e6


def raw_read(run_dir: Path) -> str:
    conn = sqlite3.connect(f"file:{run_dir / 'journal.sqlite'}?mode=ro", uri=True)
    try:
        rows = {t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t}")] for t in ("nodes", "executions", "grades")}
    finally:
        conn.close()
    return json.dumps(rows)


def report(root: Path) -> str:
    runs, skipped = collect_runs([root])
    return render_report(build_report(runs, n_boot=1000, skipped=skipped), "text")


def main(repeats: int = 5) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        run_dir = big_run(root / "one", "big", 1000)
        built = time.perf_counter() - start
        for spec in ("agent-a", "agent-b"):
            for seed in range(5):
                big_run(root / "sweep", f"{spec}-{seed}", 1000, seed=seed, spec=spec)
        page = render_viewer(load_run(run_dir))
        baseline = median_ms(lambda: raw_read(run_dir), repeats)
        rows = [
            ("raw read (baseline)", baseline),
            ("load_run", median_ms(lambda: load_run(run_dir), repeats)),
            ("viewer (render)", median_ms(lambda: render_viewer(load_run(run_dir)), repeats)),
            ("viewer (write)", median_ms(lambda: write_viewer(run_dir, root / "page.html"), repeats)),
            ("report, 10 runs x 1000 nodes", median_ms(lambda: report(root / "sweep"), repeats)),
        ]
    print(f"1,000-node run written in {built:.2f} s; viewer page {len(page.encode()) / 1e6:.2f} MB")
    print(f"{'step':34} {'median ms':>10} {'x baseline':>11}")
    for name, ms in rows:
        print(f"{name:34} {ms:10.1f} {ms / baseline:11.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
