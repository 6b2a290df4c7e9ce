"""PNG plots of a report, drawn with matplotlib (the optional ``plots`` extra).

Three figures: medal rates per agent with their 95% intervals, the selection gap (V/V, V/T,
top-k) per agent, and every run's best validation score over time, one panel per task
(scores of different tasks are not comparable, so they never share an axis). matplotlib is
imported only here, and only when plots are asked for, so the core needs no plotting library.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aira_dsl.report.aggregate import Report, group_key
from aira_dsl.report.errors import ReportError
from aira_dsl.report.selection import OUTCOME_FIELDS
from aira_dsl.report.stats import Estimate

__all__ = ["MAX_TASK_PANELS", "PLOT_FILES", "require_matplotlib", "write_plots"]

PLOT_FILES = ("medal_rates.png", "selection_gap.png", "best_score_over_time.png")
MAX_TASK_PANELS = 12
"""The time plot draws at most this many tasks (the first ones by name)."""

_TITLES = {"valid_submission": "valid submission", "above_median": "above median", "any_medal": "any medal",
           "silver_or_better": "silver or better", "gold": "gold"}


def require_matplotlib() -> Any:
    """``matplotlib.pyplot`` with the file-only Agg backend, or a :class:`ReportError` saying how to get it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ReportError(f"plots need matplotlib, which is not installed ({exc})",
                          "pip install 'aira-dsl[plots]'") from None
    return plt


def _bars(plt: Any, labels: Sequence[str], series: dict[str, list[Estimate]], title: str, path: Path) -> None:
    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(labels) * max(len(series), 1) * 0.45 + 3), 4.2))
    for i, (name, estimates) in enumerate(series.items()):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(labels))]
        values = [100 * (e.value or 0.0) for e in estimates]
        low = [100 * ((e.value or 0.0) - e.low) if e.low is not None else 0.0 for e in estimates]
        high = [100 * (e.high - (e.value or 0.0)) if e.high is not None else 0.0 for e in estimates]
        bars = ax.bar(xs, values, width=width * 0.95, label=name, yerr=[low, high], capsize=3)
        ax.bar_label(bars, labels=[f"{v:.0f}" for v in values], fontsize=7, padding=2)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=20 if len(labels) > 3 else 0, ha="right" if len(labels) > 3 else "center")
    ax.set_ylabel("% of runs (mean over tasks)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, ncols=min(len(series), 5), loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _time_plot(plt: Any, report: Report, path: Path) -> None:
    tasks = sorted({r.task for r in report.runs})
    shown = tasks[:MAX_TASK_PANELS]
    cols = min(3, max(len(shown), 1))
    rows = max(1, -(-len(shown) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False)
    labels = sorted({" / ".join(group_key(r, report.by)) for r in report.runs})
    colours = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    longest = max((p.elapsed for r in report.runs for p in r.progress), default=0.0)
    unit, scale = ("hours", 3600.0) if longest > 7200 else ("minutes", 60.0) if longest > 120 else ("seconds", 1.0)
    by_task: dict[str, list[Any]] = defaultdict(list)
    for run in report.runs:
        by_task[run.task].append(run)
    for index, ax in enumerate(axes.flat):
        if index >= len(shown):
            ax.axis("off")
            continue
        task = shown[index]
        seen: set[str] = set()
        for run in by_task[task]:
            points = [p for p in run.progress if p.metric is not None]
            if not points:
                continue
            label = " / ".join(group_key(run, report.by))
            ax.step([p.elapsed / scale for p in points], [p.metric for p in points], where="post",
                    color=colours[label], alpha=0.75, linewidth=1.2, label=None if label in seen else label)
            seen.add(label)
        direction = by_task[task][0].direction
        ax.set_title(f"{task} ({'lower' if direction == 'minimize' else 'higher'} is better)", fontsize=9)
        ax.set_xlabel(f"{unit} since the start", fontsize=8)
        ax.set_ylabel("best validation score", fontsize=8)
        ax.grid(alpha=0.3)
        if seen:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no valid node", ha="center", va="center", transform=ax.transAxes)
    extra = f" (first {MAX_TASK_PANELS} of {len(tasks)} tasks)" if len(tasks) > len(shown) else ""
    fig.suptitle(f"Best validation score over time, one line per run{extra}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(report: Report, out_dir: Path) -> list[Path]:
    """Write the report's PNG plots into ``out_dir`` (created if needed); returns their paths."""
    plt = require_matplotlib()
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create {out_dir}: {exc.strerror or exc}", "choose another --plots folder") from None
    labels = [g.label for g in report.groups]
    paths = [out_dir / name for name in PLOT_FILES]
    medal_fields = ("valid_submission", "above_median", "any_medal", "silver_or_better", "gold")
    assert set(medal_fields) == set(OUTCOME_FIELDS)
    try:
        _bars(plt, labels, {_TITLES[f]: [g.selections["vv"][f] for g in report.groups] for f in medal_fields},
              "Validation-selected final node (V/V), 95% stratified-bootstrap CI", paths[0])
        _bars(plt, labels, {"V/V (by validation)": [g.selections["vv"]["any_medal"] for g in report.groups],
                            "V/T (by test, oracle)": [g.selections["vt"]["any_medal"] for g in report.groups],
                            f"top-{report.top_k} by validation, then test":
                                [g.selections["top_k"]["any_medal"] for g in report.groups]},
              "Any-medal rate by how the final node is chosen, 95% CI", paths[1])
        _time_plot(plt, report, paths[2])
    except OSError as exc:
        raise ReportError(f"cannot write plots to {out_dir}: {exc.strerror or exc}",
                          "choose another --plots folder") from None
    return paths
