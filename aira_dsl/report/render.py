"""Rendering run lists and aggregate reports as text, markdown, CSV or JSON.

Text and markdown are for people: rates in percent with their 95% interval, then notes
(skipped runs, ungraded choices). CSV and JSON are for programs: fractions in [0, 1], one CSV
row per group with every estimate flattened into ``<selection>_<outcome>[_low|_high]`` columns.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aira_dsl.report.aggregate import SELECTIONS, Report
from aira_dsl.report.selection import OUTCOME_FIELDS
from aira_dsl.report.stats import Estimate
from aira_dsl.report.summary import RunSummary
from aira_dsl.report.tables import Table

__all__ = ["FORMATS", "render_report", "render_runs", "to_json"]

FORMATS = ("text", "markdown", "csv", "json")

_OUTCOME_TITLES = {"valid_submission": "valid sub", "above_median": "> median", "any_medal": "any medal",
                   "silver_or_better": ">= silver", "gold": "gold"}


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


def _num(value: float | None, digits: int = 5) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _est(e: Estimate, *, points: bool = False) -> str:
    if e.value is None:
        return "-"
    value = f"{100 * e.value:+.1f}" if points else _pct(e.value)
    if e.low is None or e.high is None:
        return value
    return f"{value} [{100 * e.low:.1f}, {100 * e.high:.1f}]"


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
        table.add(_display_path(r.path, root), r.spec, (r.plan_hash or "-")[:8], r.task,
                  "-" if r.seed is None else str(r.seed), status, str(r.steps), _num(r.best_validation),
                  _num(r.best_test), r.medal or "-", f"{r.cost_usd:.2f}")
    return table


def render_runs(runs: Sequence[RunSummary], fmt: str, *, root: Path | None = None) -> str:
    """The ``aira-dsl runs`` listing in ``fmt`` (text, markdown, csv or json)."""
    if fmt == "json":
        return to_json([r.to_dict() for r in runs])
    table = _runs_table(runs, root)
    return table.markdown() if fmt == "markdown" else table.csv() if fmt == "csv" else table.text()


# -- aggregate report -------------------------------------------------------------------------

def _results_table(report: Report) -> Table:
    rates = [_OUTCOME_TITLES[f] + " %" for f in OUTCOME_FIELDS]
    table = Table([*report.by, "runs", "tasks", *rates],
                  title="Results of the validation-selected final node (V/V): % of runs, mean over tasks, "
                        "[95% stratified-bootstrap CI]",
                  right=frozenset(["runs", "tasks", *rates]))
    for g in report.groups:
        table.add(*g.key.values(), str(g.runs), str(g.tasks),
                  *(_est(g.selections["vv"][f]) for f in OUTCOME_FIELDS))
    return table


def _gap_table(report: Report) -> Table:
    k = report.top_k
    cols = ["V/V medal %", "V/T medal %", "gap (pts)", f"top-{k} medal %", "V/V > median %", "V/T > median %"]
    table = Table([*report.by, "runs", *cols],
                  title="Selection gap: final node chosen by validation (V/V) vs by test score (V/T), "
                        f"and by test score among the top {k} by validation",
                  right=frozenset(["runs", *cols]))
    for g in report.groups:
        table.add(*g.key.values(), str(g.runs), _est(g.selections["vv"]["any_medal"]),
                  _est(g.selections["vt"]["any_medal"]), _est(g.gap["any_medal"], points=True),
                  _est(g.selections["top_k"]["any_medal"]), _est(g.selections["vv"]["above_median"]),
                  _est(g.selections["vt"]["above_median"]))
    return table


def _notes(report: Report) -> list[str]:
    notes = [f"{len(report.runs)} run(s); rates are means over tasks of per-task rates; CIs from "
             f"{report.n_boot} bootstrap replicates resampling runs within each task (seed {report.seed})."]
    if report.n_boot == 0:
        notes[0] = f"{len(report.runs)} run(s); rates are means over tasks of per-task rates (no bootstrap)."
    for g in report.groups:
        for selection, count in g.unknown.items():
            if count:
                notes.append(f"{g.label}: {count} run(s) left out of the {selection.upper().replace('_', '-')} "
                             "rates: the chosen node has no grade yet")
    unfinished = [r for r in report.runs if r.status != "finished"]
    if unfinished:
        notes.append(f"{len(unfinished)} run(s) did not finish (status: "
                     f"{', '.join(sorted({r.status for r in unfinished}))}); they count with what they reached")
    notes += [f"skipped {s.path}: {s.reason}" for s in report.skipped]
    return notes


def _csv(report: Report) -> str:
    def cols(prefix: str, e: Estimate) -> dict[str, Any]:
        return {prefix: e.value, f"{prefix}_low": e.low, f"{prefix}_high": e.high}

    rows: list[dict[str, Any]] = []
    for g in report.groups:
        row: dict[str, Any] = {**g.key, "runs": g.runs, "tasks": g.tasks, "finished": g.finished}
        for s in SELECTIONS:
            for f in OUTCOME_FIELDS:
                row.update(cols(f"{s}_{f}", g.selections[s][f]))
        for f in OUTCOME_FIELDS:
            row.update(cols(f"gap_{f}", g.gap[f]))
        row.update({"mean_steps": g.steps, "mean_valid_nodes": g.valid_nodes, "mean_cost_usd": g.cost_usd})
        rows.append(row)
    columns = list(rows[0]) if rows else [*report.by, "runs", "tasks", "finished"]
    table = Table(columns)
    for row in rows:
        table.add(*("" if row[c] is None else f"{row[c]:.6g}" if isinstance(row[c], float) else str(row[c])
                    for c in columns))
    return table.csv()


def render_report(report: Report, fmt: str) -> str:
    """The ``aira-dsl report`` output in ``fmt`` (text, markdown, csv or json)."""
    if fmt == "json":
        return to_json(report.to_dict())
    if fmt == "csv":
        return _csv(report)
    tables = [_results_table(report), _gap_table(report)]
    notes = _notes(report)
    if fmt == "markdown":
        return "\n".join(t.markdown() for t in tables) + "\n" + "".join(f"- {n}\n" for n in notes)
    return "\n".join(t.text() for t in tables) + "\n" + "".join(f"note: {n}\n" for n in notes)
