"""Reports on runs: the HTML viewer, run listings, multi-seed statistics and plots.

Everything here reads a run directory (``run.json``, ``plan.json``, ``journal.sqlite``) and never
writes into the journal. Typical use from a notebook::

    from aira_dsl.report import load_run, summarize_run, collect_runs, build_report, render_report
    run = load_run("runs/aira-greedy-penguins-s0")      # nodes with execution, review, grade, usage
    print(summarize_run(run).medal)
    runs, skipped = collect_runs(["runs/sweep"])        # every run below a folder
    print(render_report(build_report(runs, by=("spec",)), "markdown"))
    frames = run.to_pandas()                            # DataFrames: nodes, calls, executions
"""

from __future__ import annotations

from aira_dsl.report.aggregate import (
    Comparison,
    GroupReport,
    Report,
    Skipped,
    build_report,
    collect_runs,
    parse_group_keys,
)
from aira_dsl.report.discover import find_runs, is_run_dir, runs_below
from aira_dsl.report.errors import ReportError
from aira_dsl.report.frames import RunFrames
from aira_dsl.report.layout import Position, tree_layout
from aira_dsl.report.load import load_run
from aira_dsl.report.model import Execution, Grade, NodeView, Review, RunData, Usage
from aira_dsl.report.present import render_report, render_runs
from aira_dsl.report.selection import Outcome, select_test, select_top_k, select_validation
from aira_dsl.report.series import ProgressPoint, best_so_far
from aira_dsl.report.stats import MIN_RUNS, Estimate, stratified_bootstrap
from aira_dsl.report.summary import RunSummary, summarize_run
from aira_dsl.report.viewer import operator_table, render_viewer, write_viewer

__all__ = [
    "MIN_RUNS", "Comparison", "Estimate", "Execution", "Grade", "GroupReport", "NodeView", "Outcome", "Position",
    "ProgressPoint", "Report", "ReportError", "Review", "RunData", "RunFrames", "RunSummary", "Skipped", "Usage",
    "best_so_far", "build_report", "collect_runs", "find_runs", "is_run_dir", "load_run", "operator_table",
    "parse_group_keys", "render_report", "render_runs", "render_viewer", "runs_below", "select_test",
    "select_top_k", "select_validation", "stratified_bootstrap", "summarize_run", "tree_layout",
    "write_viewer",
]
