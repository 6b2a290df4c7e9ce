"""Benchmark: what the submission checks cost on top of a bare score.

For submissions of 10k, 100k and 1M rows (binary probabilities, ROC AUC), it times
(a) the baseline a minimal grader would do in the same process: ``pandas.read_csv`` of
submission and answers, align by id, ``sklearn.metrics.roc_auc_score``; and
(b) ``aira_dsl.tasks.grade_submission``: every check of docs/tasks.md plus the same score.
It prints the median of several runs of each and the ratio (b)/(a), plus the time to reject a
50 MiB file by size. Run: ``python bench/bench_tasks.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd


def _median_seconds(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _make_task(root: Path, rows: int) -> Path:
    rng = np.random.default_rng(0)
    ids = [f"r{i:08d}" for i in range(rows)]
    truth = rng.integers(0, 2, rows)
    (root / "public").mkdir(parents=True)
    (root / "private").mkdir()
    pd.DataFrame({"id": ids, "y": 0.5}).to_csv(root / "public" / "sample_submission.csv", index=False)
    pd.DataFrame({"id": ids, "y": truth}).to_csv(root / "private" / "answers.csv", index=False)
    pd.DataFrame({"id": ids[::-1], "y": rng.random(rows)}).to_csv(root / "submission.csv", index=False)
    (root / "description.md").write_text("bench\n", encoding="utf-8")
    (root / "task.yaml").write_text("id: bench\nname: Bench\nmetric: roc_auc\n"
                                    "submission: {id_column: id, target_columns: [y], max_bytes: 1000000000}\n",
                                    encoding="utf-8")
    return root


def _baseline(root: Path) -> float:
    from sklearn.metrics import roc_auc_score

    sub = pd.read_csv(root / "submission.csv")
    answers = pd.read_csv(root / "private" / "answers.csv")
    merged = answers.merge(sub, on="id", suffixes=("_true", "_pred"))
    return float(roc_auc_score(merged["y_true"], merged["y_pred"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from aira_dsl.tasks import grade_submission, load_task_file

    print(f"{'rows':>9}  {'baseline (s)':>12}  {'aira-dsl (s)':>12}  {'ratio':>6}")
    with tempfile.TemporaryDirectory() as scratch:
        for rows in (10_000, 100_000, 1_000_000):
            root = _make_task(Path(scratch) / f"t{rows}", rows)
            task = load_task_file(root)
            expected = _baseline(root)
            report = grade_submission(task, root / "submission.csv")
            assert report.score is not None and abs(report.score - expected) < 1e-12, (report.score, expected)
            base = _median_seconds(functools.partial(_baseline, root), args.repeat)
            ours = _median_seconds(functools.partial(grade_submission, task, root / "submission.csv"), args.repeat)
            print(f"{rows:>9}  {base:>12.4f}  {ours:>12.4f}  {ours / base:>6.2f}")
        big = Path(scratch) / "big.csv"
        with big.open("wb") as handle:
            handle.truncate(50 * 1024 * 1024)
        small = _make_task(Path(scratch) / "small", 100)
        task = load_task_file(small)
        reject = _median_seconds(lambda: grade_submission(task, big), args.repeat)
        print(f"reject a 50 MiB submission by size: {reject * 1000:.2f} ms (median of {args.repeat})")


if __name__ == "__main__":
    main()
