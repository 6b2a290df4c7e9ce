"""Benchmark: parse + check of one fitness expression, against raw lark in the same process.

Validation must keep up with at least 500 specs per second (2,000 µs per spec, of which a few
expressions are a part). This measures, for the DESIGN's example ``buggy`` rule:

* ``compile (uncached)``: ``compile_expression`` with the parse cache cleared each time, i.e.
  what a spec with a new rule costs;
* ``compile (cached)``: the same text again (shipped specs share their rules);
* ``check only``: ``typecheck`` of an already parsed tree;
* ``evaluate``: one evaluation of the checked tree (the runtime's per-node cost);
* baseline ``raw lark parse``: the same grammar parsed by lark into a plain parse tree, without
  our callbacks, limits or checks: the floor this design can reach.

Run: ``python bench/bench_expr.py [repeats]``; prints medians in µs and ratios to the baseline.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from lark import Lark

from aira_dsl.expr import compile_expression, evaluate, parse, typecheck
from aira_dsl.expr.parser import GRAMMAR_PATH, _parse_cached

BUGGY = ("exec.exit_code != 0 or exec.timed_out or review.is_bug or metric == null "
         "or not submission.valid")
ENV = {
    "exec": {"exit_code": 0, "timed_out": False, "oom_killed": False, "duration": 3.0},
    "review": {"is_bug": False, "summary": "ok", "metric": 0.9},
    "submission": {"exists": True, "valid": True, "reason": None},
    "metric": 0.9,
}


def median_us(fn: Callable[[], object], repeats: int, before: Callable[[], None] | None = None) -> float:
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        start = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1000


def main(repeats: int = 3000) -> None:
    raw = Lark(GRAMMAR_PATH.read_text(encoding="utf-8"), parser="lalr", lexer="contextual")
    compile_expression(BUGGY, "fitness.buggy")  # build the cached parser before timing
    tree = parse(BUGGY)
    typed, _ = typecheck(tree, "fitness.buggy")

    baseline = median_us(lambda: raw.parse(BUGGY), repeats)
    rows = [
        ("raw lark parse (baseline)", baseline),
        ("compile (uncached)", median_us(lambda: compile_expression(BUGGY, "fitness.buggy"), repeats,
                                         before=_parse_cached.cache_clear)),
        ("compile (cached)", median_us(lambda: compile_expression(BUGGY, "fitness.buggy"), repeats)),
        ("check only", median_us(lambda: typecheck(tree, "fitness.buggy"), repeats)),
        ("evaluate", median_us(lambda: evaluate(typed, ENV), repeats)),
    ]
    print(f"expression ({len(BUGGY)} chars): {BUGGY}")
    print(f"{'step':<28}{'median µs':>12}{'x baseline':>12}")
    for name, value in rows:
        print(f"{name:<28}{value:>12.1f}{value / baseline:>12.2f}")
    per_spec = rows[1][1] * 4  # a spec has about four expressions (metric, buggy, value, where)
    print(f"4 new expressions per spec: {per_spec:.0f} µs = {per_spec / 2000:.0%} of the "
          f"2,000 µs a spec may take at 500 specs/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
