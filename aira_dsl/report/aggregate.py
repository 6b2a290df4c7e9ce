"""Aggregating runs over seeds and tasks: the tables ``aira-dsl report`` prints.

Runs are grouped (by default by agent spec); within a group, each rate is a mean over tasks
with a stratified-bootstrap interval (see :mod:`aira_dsl.report.stats`). For each group there
are two tables' worth of numbers: the result of what the agent handed in (V/V: valid
submission, above median, any medal, silver or better, gold) and the selection gap: the same
outcomes had the final node been chosen by test score (V/T) or by test score among the top-k
by validation, with V/T minus V/V as a paired, bootstrapped difference.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_dsl.report.discover import find_runs, runs_below
from aira_dsl.report.errors import ReportError
from aira_dsl.report.load import load_run
from aira_dsl.report.selection import OUTCOME_FIELDS, Outcome
from aira_dsl.report.stats import Estimate, stratified_bootstrap
from aira_dsl.report.summary import RunSummary, summarize_run

__all__ = ["GROUP_KEYS", "SELECTIONS", "GroupReport", "Report", "Skipped", "build_report", "collect_runs",
           "group_key", "list_runs", "parse_group_keys"]

GROUP_KEYS = ("spec", "task", "plan_hash")
"""What runs can be grouped by (``--by``)."""

SELECTIONS = ("vv", "vt", "top_k")
"""Final-node choices: by validation (what the agent submits), by test (oracle), top-k oracle."""


@dataclass(frozen=True)
class Skipped:
    """A run that could not be read, and why."""

    path: str
    reason: str


@dataclass
class GroupReport:
    """The statistics of one group of runs."""

    key: dict[str, str]
    runs: int
    tasks: int
    finished: int
    valid_nodes: float
    """Mean number of valid nodes per run."""
    steps: float
    cost_usd: float
    """Mean cost per run."""
    selections: dict[str, dict[str, Estimate]]
    """``vv``/``vt``/``top_k`` → outcome field → estimate."""
    gap: dict[str, Estimate]
    """Outcome field → paired V/T minus V/V estimate."""
    unknown: dict[str, int]
    """Selection → runs whose chosen node was never graded (left out of its rates)."""

    @property
    def label(self) -> str:
        return " / ".join(self.key.values())

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "runs": self.runs, "tasks": self.tasks, "finished": self.finished,
                "mean_valid_nodes": self.valid_nodes, "mean_steps": self.steps, "mean_cost_usd": self.cost_usd,
                "selections": {s: {f: e.to_dict() for f, e in fields.items()}
                               for s, fields in self.selections.items()},
                "gap": {f: e.to_dict() for f, e in self.gap.items()}, "unknown": self.unknown}


@dataclass
class Report:
    """Every group's statistics, the runs they came from, and the runs that were skipped."""

    by: tuple[str, ...]
    n_boot: int
    seed: int
    top_k: int
    groups: list[GroupReport]
    runs: list[RunSummary]
    skipped: list[Skipped] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"by": list(self.by), "bootstrap": self.n_boot, "seed": self.seed, "top_k": self.top_k,
                "confidence": 0.95, "rate": "mean over tasks of the per-task rate",
                "groups": [g.to_dict() for g in self.groups], "runs": [r.to_dict() for r in self.runs],
                "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped]}


def parse_group_keys(text: str) -> tuple[str, ...]:
    """``"spec,task"`` → ``("spec", "task")``; unknown keys are a :class:`ReportError`."""
    aliases = {"agent": "spec", "plan": "plan_hash", "plan-hash": "plan_hash"}
    keys = [aliases.get(k.strip(), k.strip()) for k in text.split(",") if k.strip()]
    bad = [k for k in keys if k not in GROUP_KEYS]
    if bad or not keys:
        raise ReportError(f"cannot group by {', '.join(bad) or repr(text)}",
                          f"--by takes a comma-separated list of: {', '.join(GROUP_KEYS)}")
    return tuple(dict.fromkeys(keys))


def collect_runs(paths: Iterable[Path], *, top_k: int = 3) -> tuple[list[RunSummary], list[Skipped]]:
    """Load and summarise every run at or below ``paths``; unreadable runs are skipped, with why."""
    return _summarize_all(find_runs(paths), top_k)


def list_runs(root: Path, *, top_k: int = 3) -> tuple[list[RunSummary], list[Skipped]]:
    """Like :func:`collect_runs` for one folder, but a folder with no runs gives empty lists.

    Raises :class:`ReportError` only when ``root`` does not exist or is not a folder.
    """
    if not root.is_dir():
        raise ReportError(f"{root}: {'not a directory' if root.exists() else 'no such file or directory'}",
                          "pass a folder that holds runs (default: the current folder)")
    return _summarize_all(runs_below(root), top_k)


def _summarize_all(run_dirs: Iterable[Path], top_k: int) -> tuple[list[RunSummary], list[Skipped]]:
    summaries: list[RunSummary] = []
    skipped: list[Skipped] = []
    for run_dir in run_dirs:
        try:
            summaries.append(summarize_run(load_run(run_dir), top_k=top_k))
        except ReportError as exc:
            skipped.append(Skipped(str(run_dir), exc.message))
    return summaries, skipped


def group_key(run: RunSummary, by: Sequence[str]) -> tuple[str, ...]:
    """The values of ``by`` (spec, task, plan hash prefix) for ``run``."""
    values = {"spec": run.spec, "task": run.task, "plan_hash": (run.plan_hash or "unknown")[:12]}
    return tuple(values[k] for k in by)


def _by_task(runs: Sequence[RunSummary], value: Any) -> dict[str, list[float]]:
    table: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        x = value(run)
        if x is not None:
            table[run.task].append(float(x))
    return table


def _field(outcome: Outcome | None, name: str) -> bool | None:
    return None if outcome is None else bool(getattr(outcome, name))


def _group(key: dict[str, str], runs: Sequence[RunSummary], n_boot: int, seed: int) -> GroupReport:
    def est(value: Any) -> Estimate:
        return stratified_bootstrap(_by_task(runs, value), n_boot=n_boot, seed=seed)

    selections = {s: {f: est(lambda r, s=s, f=f: _field(getattr(r, s), f)) for f in OUTCOME_FIELDS}
                  for s in SELECTIONS}

    def diff(run: RunSummary, name: str) -> float | None:
        vt, vv = _field(run.vt, name), _field(run.vv, name)
        return None if vt is None or vv is None else float(vt) - float(vv)

    gap = {f: est(lambda r, f=f: diff(r, f)) for f in OUTCOME_FIELDS}
    n = len(runs)
    return GroupReport(
        key=key, runs=n, tasks=len({r.task for r in runs}), finished=sum(r.status == "finished" for r in runs),
        valid_nodes=sum(r.valid_nodes for r in runs) / n, steps=sum(r.steps for r in runs) / n,
        cost_usd=sum(r.cost_usd for r in runs) / n, selections=selections, gap=gap,
        unknown={s: sum(getattr(r, s) is None for r in runs) for s in SELECTIONS})


def build_report(runs: Sequence[RunSummary], *, by: Sequence[str] = ("spec",), n_boot: int = 1000,
                 seed: int = 0, top_k: int = 3, skipped: Sequence[Skipped] = ()) -> Report:
    """Group ``runs`` by ``by`` and compute every rate with its stratified-bootstrap interval."""
    groups: dict[tuple[str, ...], list[RunSummary]] = defaultdict(list)
    for run in runs:
        groups[group_key(run, by)].append(run)
    reports = [_group(dict(zip(by, key, strict=True)), members, n_boot, seed)
               for key, members in sorted(groups.items())]
    return Report(by=tuple(by), n_boot=n_boot, seed=seed, top_k=top_k, groups=reports, runs=list(runs),
                  skipped=list(skipped))
