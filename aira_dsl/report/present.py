"""The ``aira-dsl report`` and ``aira-dsl runs`` outputs: compact and wide tables, CSV, JSON.

The default table is compact (one line per group that fits a 100-column terminal): the share of
valid submissions, the any-medal rate with its interval, the above-median rate, the selection
gap, the mean test score and the mean cost. ``--wide`` gives every outcome and the score and the
cost with their intervals, plus the selection-gap table. With a baseline, one more table holds
the paired differences against it. An interval withheld for too few runs per task reads
``[n/a]`` (and the report carries a warning saying why); a run whose task has no test answers
reads ``n/a (no test answers)`` wherever a test score or a medal would be.

Text and markdown are for people (percent, intervals in brackets, notes and warnings after the
tables); CSV and JSON are for programs (fractions in [0, 1], every estimate flattened into
``<name>``, ``<name>_low``, ``<name>_high`` columns).
"""

from __future__ import annotations

import json
import math
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aira_dsl.report.aggregate import PAIRED, SELECTIONS, Comparison, GroupReport, Report
from aira_dsl.report.selection import OUTCOME_FIELDS
from aira_dsl.report.stats import Estimate
from aira_dsl.report.summary import NO_TEST_ANSWERS, RunSummary
from aira_dsl.report.tables import Table

__all__ = ["FORMATS", "NA", "WIDTH", "render_report", "render_runs", "to_json"]

FORMATS = ("text", "markdown", "csv", "json")

WIDTH = 100
"""Columns the compact text output is meant to fit (tables with typical names, and every note)."""

NA = "n/a"
"""A value that exists but cannot be given here (no interval, no test answers, mixed metrics)."""

_OUTCOME_TITLES = {"valid_submission": "valid sub", "above_median": "> median", "any_medal": "any medal",
                   "silver_or_better": ">= silver", "gold": "gold"}
_PAIRED_TITLES = {**{f: f"Δ {t} pts" for f, t in _OUTCOME_TITLES.items()}, "any_medal": "Δ medal pts",
                  "score": "Δ score", "cost_usd": "Δ cost $"}
_CI = " [95% CI]"


def to_json(data: Any) -> str:
    """JSON with non-finite floats as ``null`` (strict JSON parsers reject NaN)."""
    def clean(value: Any) -> Any:
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _num(value: float | None, digits: int = 4, *, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}g}" if sign else f"{value:.{digits}g}"


def _pct(value: float | None, *, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:+.1f}" if sign else f"{100 * value:.1f}"


def _est(e: Estimate, *, percent: bool = True, sign: bool = False, interval: bool = True,
         short: bool = False) -> str:
    """``62.5 [40.0, 85.0]`` (``short``: ``62.5 [40, 85]``); ``62.5 [n/a]`` when the interval was
    withheld; ``-`` for no value."""
    if e.value is None:
        return "-"
    value = _pct(e.value, sign=sign) if percent else _num(e.value, sign=sign)
    if not interval:
        return value
    if e.too_few:
        return f"{value} [{NA}]"
    if e.low is None or e.high is None:
        return value
    if percent and short:
        return f"{value} [{100 * e.low:.0f}, {100 * e.high:.0f}]"
    low, high = (_pct(e.low), _pct(e.high)) if percent else (_num(e.low), _num(e.high))
    return f"{value} [{low}, {high}]"


def _display_path(path: str, root: Path | None) -> str:
    if root is not None:
        try:
            rel = os.path.relpath(path, root)
        except ValueError:
            return path
        if not rel.startswith(".."):
            return rel
    return path


# -- run list ---------------------------------------------------------------------------------

def _runs_table(runs: Sequence[RunSummary], root: Path | None) -> Table:
    table = Table(["run", "spec", "plan", "task", "seed", "status", "steps", "best val", "test", "medal",
                   "cost $"], right=frozenset({"seed", "steps", "best val", "test", "cost $"}))
    for r in runs:
        status = r.status if r.stop_reason in (None, "", r.status) else f"{r.status} ({r.stop_reason})"
        test, medal = (_num(r.best_test, 5), r.medal or "-") if r.has_test_score else (NO_TEST_ANSWERS, NA)
        table.add(_display_path(r.path, root), r.spec, (r.plan_hash or "-")[:8], r.task,
                  "-" if r.seed is None else str(r.seed), status, str(r.steps), _num(r.best_validation, 5),
                  test, medal, f"{r.cost_usd:.2f}")
    return table


def render_runs(runs: Sequence[RunSummary], fmt: str, *, root: Path | None = None) -> str:
    """The ``aira-dsl runs`` listing in ``fmt`` (text, markdown, csv or json)."""
    if fmt == "json":
        return to_json([r.to_dict() for r in runs])
    table = _runs_table(runs, root)
    return table.markdown() if fmt == "markdown" else table.csv() if fmt == "csv" else table.text()


# -- aggregate report: tables -----------------------------------------------------------------

def _blind(g: GroupReport) -> bool:
    """Every run of the group is on a task without test answers."""
    return g.no_test == g.runs


def _compact_table(report: Report) -> Table:
    tasks = ["tasks"] if "task" not in report.by else []
    cols = ["runs", *tasks, "valid %", "medal %" + _CI, "> median %", "gap pts", "score", "cost $"]
    table = Table([*report.by, *cols], right=frozenset(cols),
                  title="Submitted node (V/V): % of runs, mean over tasks; gap = V/T - V/V medal rate")
    for g in report.groups:
        vv = g.selections["vv"]
        blind = _blind(g)
        table.add(*g.key.values(), str(g.runs), *([str(g.tasks)] if tasks else []),
                  _est(vv["valid_submission"], interval=False),
                  NO_TEST_ANSWERS if blind else _est(vv["any_medal"], short=True),
                  NA if blind else _est(vv["above_median"], interval=False),
                  NA if blind else _est(g.gap["any_medal"], sign=True, interval=False),
                  NA if blind or g.mixed_metrics else _est(g.score, percent=False, interval=False),
                  _num(g.cost.value, 3))
    return table


def _results_table(report: Report) -> Table:
    rates = [_OUTCOME_TITLES[f] + " %" for f in OUTCOME_FIELDS]
    extra = ["score" + _CI, "val score", "cost $" + _CI]
    table = Table([*report.by, "runs", "tasks", *rates, *extra],
                  title="Results of the validation-selected final node (V/V): % of runs, mean over tasks, "
                        "[95% stratified-bootstrap CI]",
                  right=frozenset(["runs", "tasks", *rates, *extra]))
    for g in report.groups:
        blind = _blind(g)
        rates_cells = [_est(g.selections["vv"][f]) if f == "valid_submission" or not blind else NO_TEST_ANSWERS
                       for f in OUTCOME_FIELDS]
        table.add(*g.key.values(), str(g.runs), str(g.tasks), *rates_cells,
                  NA if blind or g.mixed_metrics else _est(g.score, percent=False),
                  NA if g.mixed_metrics else _est(g.validation, percent=False, interval=False),
                  _est(g.cost, percent=False))
    return table


def _gap_table(report: Report) -> Table:
    k = report.top_k
    cols = ["V/V medal %", "V/T medal %", "gap (pts)", f"top-{k} medal %", "V/V > median %", "V/T > median %"]
    table = Table([*report.by, "runs", *cols],
                  title="Selection gap: final node chosen by validation (V/V) vs by test score (V/T), "
                        f"and by test score among the top {k} by validation",
                  right=frozenset(["runs", *cols]))
    for g in report.groups:
        if _blind(g):
            table.add(*g.key.values(), str(g.runs), *([NO_TEST_ANSWERS] + [NA] * (len(cols) - 1)))
            continue
        sel = g.selections
        table.add(*g.key.values(), str(g.runs), _est(sel["vv"]["any_medal"]), _est(sel["vt"]["any_medal"]),
                  _est(g.gap["any_medal"], sign=True), _est(sel["top_k"]["any_medal"]),
                  _est(sel["vv"]["above_median"]), _est(sel["vt"]["above_median"]))
    return table


def _diff_cell(c: Comparison, name: str, *, interval: bool = True, short: bool = False) -> str:
    return _est(c.diffs[name], percent=name in OUTCOME_FIELDS, sign=True, interval=interval, short=short)


def _baseline_table(report: Report, *, wide: bool) -> Table:
    names = (["valid_submission", "any_medal", "above_median", "silver_or_better", "gold", "score", "cost_usd"]
             if wide else ["any_medal", "score", "cost_usd"])
    with_ci = set(names) if wide else {"any_medal", "score"}
    cols = [_PAIRED_TITLES[n] + (_CI if n in with_ci else "") for n in names]
    counts = ["pairs", "unpaired"] if wide else ["pairs"]
    table = Table([*report.by, *counts, *cols], right=frozenset([*counts, *cols]),
                  title=f"Paired differences vs {report.baseline} (variant - baseline, same task and seed)")
    for c in report.comparisons:
        table.add(*c.key.values(), str(c.pairs), *([str(c.unpaired)] if wide else []),
                  *(_diff_cell(c, n, interval=n in with_ci, short=not wide) for n in names))
    return table


# -- aggregate report: notes, CSV, entry point ------------------------------------------------

def _notes(report: Report, *, wide: bool) -> list[str]:
    runs = len(report.runs)
    notes = [f"{runs} run(s); rates are means over tasks of per-task rates; CIs from {report.n_boot} bootstrap "
             f"replicates resampling runs within each task (seed {report.seed}), none below {report.min_runs} "
             "runs per task."]
    if report.n_boot == 0:
        notes[0] = f"{runs} run(s); rates are means over tasks of per-task rates (no bootstrap)."
    if not wide:
        notes.append("score: hidden test score of the submitted node; cost $: LLM cost per run; "
                     "--wide: every outcome with its interval and the selection gap")
    for g in report.groups:
        for selection, count in g.unknown.items():
            if count:
                notes.append(f"{g.label}: {count} run(s) left out of the {selection.upper().replace('_', '-')} "
                             "rates: the chosen node has no grade yet")
        if g.no_test:
            notes.append(f"{g.label}: {g.no_test} run(s) on tasks without test answers (mlebench-public): medals, "
                         f"test scores and V/T are {NO_TEST_ANSWERS}; only their validity counts")
        if g.mixed_metrics:
            notes.append(f"{g.label}: score {NA}: its tasks have different metrics (group with --by spec,task)")
    for c in report.comparisons:
        if c.unpaired or c.baseline_unpaired:
            notes.append(f"{c.label} vs {c.baseline}: {c.unpaired} run(s) without a baseline run of the same task "
                         f"and seed, {c.baseline_unpaired} baseline run(s) without a partner: left out of the "
                         "differences")
    unfinished = [r for r in report.runs if r.status != "finished"]
    if unfinished:
        notes.append(f"{len(unfinished)} run(s) did not finish (status: "
                     f"{', '.join(sorted({r.status for r in unfinished}))}); they count with what they reached")
    notes += [f"skipped {s.path}: {s.reason}" for s in report.skipped]
    return notes


def _csv(report: Report) -> str:
    def cols(prefix: str, e: Estimate) -> dict[str, Any]:
        return {prefix: e.value, f"{prefix}_low": e.low, f"{prefix}_high": e.high}

    comparisons = {tuple(c.key.values()): c for c in report.comparisons}
    rows: list[dict[str, Any]] = []
    for g in report.groups:
        row: dict[str, Any] = {**g.key, "runs": g.runs, "tasks": g.tasks, "finished": g.finished}
        for s in SELECTIONS:
            for f in OUTCOME_FIELDS:
                row.update(cols(f"{s}_{f}", g.selections[s][f]))
        for f in OUTCOME_FIELDS:
            row.update(cols(f"gap_{f}", g.gap[f]))
        row.update({"mean_steps": g.steps, "mean_valid_nodes": g.valid_nodes, "mean_cost_usd": g.cost_usd})
        row.update({**cols("score", g.score), **cols("validation", g.validation), **cols("cost_usd", g.cost),
                    "no_test_answers": g.no_test, "fewest_runs": g.fewest[1]})
        if report.baseline is not None:
            c = comparisons.get(tuple(g.key.values()))
            row["baseline_pairs"] = c.pairs if c else None
            for name in PAIRED:
                row.update(cols(f"diff_{name}", c.diffs[name]) if c else
                           {f"diff_{name}": None, f"diff_{name}_low": None, f"diff_{name}_high": None})
        rows.append(row)
    columns = list(rows[0]) if rows else [*report.by, "runs", "tasks", "finished"]
    table = Table(columns)
    for row in rows:
        table.add(*("" if row[c] is None else f"{row[c]:.6g}" if isinstance(row[c], float) else str(row[c])
                    for c in columns))
    return table.csv()


def render_report(report: Report, fmt: str, *, wide: bool = False) -> str:
    """The ``aira-dsl report`` output in ``fmt`` (text, markdown, csv or json).

    ``wide`` chooses the full tables (every outcome with its interval, the selection gap) over
    the compact one; CSV and JSON always hold everything.
    """
    if fmt == "json":
        return to_json(report.to_dict())
    if fmt == "csv":
        return _csv(report)
    tables = [_results_table(report), _gap_table(report)] if wide else [_compact_table(report)]
    if report.baseline is not None:
        tables.append(_baseline_table(report, wide=wide))
    notes, warnings = _notes(report, wide=wide), report.warnings
    if fmt == "markdown":
        return ("\n".join(t.markdown() for t in tables) + "\n" + "".join(f"- **warning**: {w}\n" for w in warnings)
                + "".join(f"- {n}\n" for n in notes))
    lines = [f"warning: {w}" for w in warnings] + [f"note: {n}" for n in notes]
    return "\n".join(t.text() for t in tables) + "\n" + "".join(f"{_wrap(line)}\n" for line in lines)


def _wrap(line: str) -> str:
    """Prose lines folded to :data:`WIDTH` columns (paths and other long words are never split)."""
    return textwrap.fill(line, WIDTH, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)
