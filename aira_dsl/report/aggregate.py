"""Aggregating runs over seeds and tasks: the tables ``aira-dsl report`` prints.

Runs are grouped (by default by agent spec); within a group, each rate is a mean over tasks
with a stratified-bootstrap interval (see :mod:`aira_dsl.report.stats`). For each group there
are two tables' worth of numbers: the result of what the agent handed in (V/V: valid
submission, above median, any medal, silver or better, gold) and the selection gap: the same
outcomes had the final node been chosen by test score (V/T) or by test score among the top-k
by validation, with V/T minus V/V as a paired, bootstrapped difference. Beside the rates: the
mean hidden test score of the submitted node and the mean LLM cost per run, each with its
interval. Intervals are withheld ("n/a", with a warning) when a task has fewer than
``min_runs`` runs in the group (see :data:`aira_dsl.report.stats.MIN_RUNS`).

With a baseline agent (``--baseline SPEC``), every other agent's runs are paired with the
baseline's runs of the same task and seed, and each outcome, the score and the cost get a
paired difference (variant minus baseline) with a stratified bootstrap over the pairs: pairing
removes the task-and-seed variation both share, so the interval is about the agents, not the
luck of the draw.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_dsl.report.discover import find_runs, runs_below
from aira_dsl.report.errors import ReportError
from aira_dsl.report.load import load_run
from aira_dsl.report.selection import OUTCOME_FIELDS, Outcome
from aira_dsl.report.stats import MIN_RUNS, Estimate, stratified_bootstrap
from aira_dsl.report.summary import RunSummary, summarize_run

__all__ = ["GROUP_KEYS", "PAIRED", "SELECTIONS", "Comparison", "GroupReport", "Report", "Skipped", "build_report",
           "collect_runs", "group_key", "list_runs", "parse_group_keys"]

GROUP_KEYS = ("spec", "task", "plan_hash")
"""What runs can be grouped by (``--by``)."""

SELECTIONS = ("vv", "vt", "top_k")
"""Final-node choices: by validation (what the agent submits), by test (oracle), top-k oracle."""

PAIRED = (*OUTCOME_FIELDS, "score", "cost_usd")
"""What a baseline comparison differences: the V/V outcomes, the test score, the cost per run."""


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
    score: Estimate
    """Hidden test score of the submitted node, mean over tasks (no value when metrics mix)."""
    validation: Estimate
    """Validation score of the submitted node, mean over tasks (no value when metrics mix)."""
    cost: Estimate
    """LLM cost per run in dollars, mean over tasks."""
    no_test: int
    """Runs on tasks without test answers (only their validity counts)."""
    fewest: tuple[str, int]
    """The task with the fewest runs in this group, and how many."""
    mixed_metrics: bool
    """The group spans tasks with different metrics, so scores are not averaged."""

    @property
    def label(self) -> str:
        return " / ".join(self.key.values())

    def estimates(self) -> list[Estimate]:
        """Every estimate of the group (rates of each selection, gaps, score, validation, cost)."""
        return [e for fields in self.selections.values() for e in fields.values()] + [
            *self.gap.values(), self.score, self.validation, self.cost]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "runs": self.runs, "tasks": self.tasks, "finished": self.finished,
                "mean_valid_nodes": self.valid_nodes, "mean_steps": self.steps, "mean_cost_usd": self.cost_usd,
                "selections": {s: {f: e.to_dict() for f, e in fields.items()}
                               for s, fields in self.selections.items()},
                "gap": {f: e.to_dict() for f, e in self.gap.items()}, "unknown": self.unknown,
                "score": self.score.to_dict(), "validation": self.validation.to_dict(),
                "cost_usd": self.cost.to_dict(), "no_test_answers": self.no_test,
                "fewest_runs": {"task": self.fewest[0], "runs": self.fewest[1]},
                "mixed_metrics": self.mixed_metrics}


@dataclass
class Comparison:
    """One agent against the baseline: paired differences (variant minus baseline) over (task, seed)."""

    key: dict[str, str]
    """The variant group's key."""
    baseline: str
    pairs: int
    """(task, seed) cells where both the variant and the baseline have a run."""
    unpaired: int
    """Variant runs with no baseline run of the same task and seed (left out)."""
    baseline_unpaired: int
    """Baseline runs (of the tasks this group covers) with no variant partner (left out)."""
    diffs: dict[str, Estimate]
    """:data:`PAIRED` name → estimate of the mean paired difference."""
    fewest: tuple[str, int]
    """The task with the fewest pairs, and how many."""

    @property
    def label(self) -> str:
        return " / ".join(self.key.values())

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "baseline": self.baseline, "pairs": self.pairs, "unpaired": self.unpaired,
                "baseline_unpaired": self.baseline_unpaired,
                "diffs": {name: e.to_dict() for name, e in self.diffs.items()},
                "fewest_pairs": {"task": self.fewest[0], "pairs": self.fewest[1]}}


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
    min_runs: int = MIN_RUNS
    baseline: str | None = None
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """Groups and comparisons whose intervals were withheld for too few runs in a task."""
        if self.n_boot <= 0:
            return []  # no intervals were asked for: nothing is withheld
        out: list[str] = []
        for label, (task, count), what in (
                [(g.label, g.fewest, "run(s)") for g in self.groups]
                + [(f"{c.label} vs {c.baseline}", c.fewest, "pair(s)") for c in self.comparisons]):
            if 0 < count < self.min_runs:
                out.append(f"{label}: {count} {what} in task {task}, fewer than {self.min_runs}: "
                           "intervals are n/a (add seeds, or lower --min-runs)")
        # Enough runs, but some estimate has too few known values in a task (unknowns are left out).
        for label, fewest, estimates in (
                [(g.label, g.fewest[1], g.estimates()) for g in self.groups]
                + [(f"{c.label} vs {c.baseline}", c.fewest[1], list(c.diffs.values())) for c in self.comparisons]):
            if fewest >= self.min_runs and any(e.too_few for e in estimates):
                out.append(f"{label}: some estimates have fewer than {self.min_runs} known values in a task "
                           "(ungraded or unscored runs are left out): their intervals are n/a")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"by": list(self.by), "bootstrap": self.n_boot, "seed": self.seed, "top_k": self.top_k,
                "confidence": 0.95, "rate": "mean over tasks of the per-task rate", "min_runs": self.min_runs,
                "groups": [g.to_dict() for g in self.groups], "runs": [r.to_dict() for r in self.runs],
                "baseline": None if self.baseline is None else {
                    "spec": self.baseline, "pairing": ["task", "seed"],
                    "difference": "variant minus baseline, mean over tasks of the per-task mean paired difference",
                    "comparisons": [c.to_dict() for c in self.comparisons]},
                "warnings": self.warnings,
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


def _field(run: RunSummary, selection: str, name: str) -> bool | None:
    """An outcome of ``run``'s ``selection``; ``None`` when unknown (ungraded, or no test answers)."""
    if not run.has_test_score and (selection, name) != ("vv", "valid_submission"):
        return None  # only validity is known without test answers
    chosen: Outcome | None = getattr(run, selection)
    return None if chosen is None else bool(getattr(chosen, name))


def _value(run: RunSummary, name: str) -> float | None:
    """A :data:`PAIRED` quantity of one run."""
    if name == "score":
        return run.best_test
    if name == "cost_usd":
        return run.cost_usd
    known = _field(run, "vv", name)
    return None if known is None else float(known)


def _mixed_metrics(runs: Sequence[RunSummary]) -> bool:
    """Whether ``runs`` span tasks scored on different metrics (a mean of their scores means nothing)."""
    return len({(r.metric or f"task {r.task}", r.direction) for r in runs}) > 1


def _fewest(counts: dict[str, int]) -> tuple[str, int]:
    if not counts:
        return ("-", 0)
    task = min(sorted(counts), key=lambda t: counts[t])
    return (task, counts[task])


def _group(key: dict[str, str], runs: Sequence[RunSummary], n_boot: int, seed: int, min_runs: int) -> GroupReport:
    def est(value: Any) -> Estimate:
        return stratified_bootstrap(_by_task(runs, value), n_boot=n_boot, seed=seed, min_runs=min_runs)

    selections = {s: {f: est(lambda r, s=s, f=f: _field(r, s, f)) for f in OUTCOME_FIELDS} for s in SELECTIONS}

    def diff(run: RunSummary, name: str) -> float | None:
        vt, vv = _field(run, "vt", name), _field(run, "vv", name)
        return None if vt is None or vv is None else float(vt) - float(vv)

    gap = {f: est(lambda r, f=f: diff(r, f)) for f in OUTCOME_FIELDS}
    mixed = _mixed_metrics(runs)
    nothing = Estimate(None, None, None, 0, 0, 0, min_runs)
    n = len(runs)
    return GroupReport(
        key=key, runs=n, tasks=len({r.task for r in runs}), finished=sum(r.status == "finished" for r in runs),
        valid_nodes=sum(r.valid_nodes for r in runs) / n, steps=sum(r.steps for r in runs) / n,
        cost_usd=sum(r.cost_usd for r in runs) / n, selections=selections, gap=gap,
        # Without test answers V/T and top-k do not exist (not "unknown yet"); V/V's validity does.
        unknown={s: sum(getattr(r, s) is None and (r.has_test_score or s == "vv") for r in runs)
                 for s in SELECTIONS},
        score=nothing if mixed else est(lambda r: r.best_test),
        validation=nothing if mixed else est(lambda r: r.best_validation),
        cost=est(lambda r: r.cost_usd), no_test=sum(not r.has_test_score for r in runs),
        fewest=_fewest(Counter(r.task for r in runs)), mixed_metrics=mixed)


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _compare(key: dict[str, str], variant: Sequence[RunSummary], baseline: Sequence[RunSummary], name: str,
             n_boot: int, seed: int, min_runs: int) -> Comparison:
    """Pair ``variant`` with ``baseline`` by (task, seed) and bootstrap every paired difference.

    Several runs of one side in the same cell (a re-run) enter through their mean; runs without
    a seed, or without a partner, are left out and counted.
    """
    def cells(runs: Sequence[RunSummary]) -> dict[tuple[str, int], list[RunSummary]]:
        table: dict[tuple[str, int], list[RunSummary]] = defaultdict(list)
        for run in runs:
            if run.seed is not None:
                table[(run.task, run.seed)].append(run)
        return table

    v, b = cells(variant), cells(baseline)
    shared = sorted(v.keys() & b.keys())
    tasks = {r.task for r in variant}
    diffs: dict[str, Estimate] = {}
    for what in PAIRED:
        table: dict[str, list[float]] = defaultdict(list)
        if what != "score" or not _mixed_metrics([r for cell in shared for r in (*v[cell], *b[cell])]):
            for cell in shared:
                x, y = _mean(_value(r, what) for r in v[cell]), _mean(_value(r, what) for r in b[cell])
                if x is not None and y is not None:
                    table[cell[0]].append(x - y)
        diffs[what] = stratified_bootstrap(table, n_boot=n_boot, seed=seed, min_runs=min_runs)
    return Comparison(
        key=key, baseline=name, pairs=len(shared),
        unpaired=sum(len(runs) for cell, runs in v.items() if cell not in b) + sum(r.seed is None for r in variant),
        baseline_unpaired=sum(len(runs) for cell, runs in b.items() if cell not in v and cell[0] in tasks),
        diffs=diffs, fewest=_fewest(Counter(task for task, _ in shared)))


def _comparisons(groups: dict[tuple[str, ...], list[RunSummary]], by: Sequence[str], runs: Sequence[RunSummary],
                 baseline: str, n_boot: int, seed: int, min_runs: int) -> list[Comparison]:
    if "spec" not in by:
        raise ReportError("--baseline compares agents, but the runs are not grouped by spec",
                          "add spec to --by (e.g. --by spec or --by spec,task)")
    specs = sorted({r.spec for r in runs})
    if baseline not in specs:
        raise ReportError(f"no run of the baseline agent '{baseline}'",
                          f"--baseline takes a spec name of the runs: {', '.join(specs) or '(none)'}")
    ours = [r for r in runs if r.spec == baseline]
    out: list[Comparison] = []
    for values, members in sorted(groups.items()):
        key = dict(zip(by, values, strict=True))
        if key["spec"] == baseline:
            continue
        partners = [r for r in ours if "task" not in key or r.task == key["task"]]
        out.append(_compare(key, members, partners, baseline, n_boot, seed, min_runs))
    return out


def build_report(runs: Sequence[RunSummary], *, by: Sequence[str] = ("spec",), n_boot: int = 1000,
                 seed: int = 0, top_k: int = 3, skipped: Sequence[Skipped] = (), min_runs: int = MIN_RUNS,
                 baseline: str | None = None) -> Report:
    """Group ``runs`` by ``by`` and compute every rate with its stratified-bootstrap interval.

    ``min_runs``: fewest runs per task for an interval (below it, "n/a" and a warning).
    ``baseline``: a spec name; every other agent gets paired differences against it (pairs by
    task and seed). Raises :class:`ReportError` when ``baseline`` ran nowhere or runs are not
    grouped by spec.
    """
    groups: dict[tuple[str, ...], list[RunSummary]] = defaultdict(list)
    for run in runs:
        groups[group_key(run, by)].append(run)
    comparisons = ([] if baseline is None
                   else _comparisons(groups, by, runs, baseline, n_boot, seed, min_runs))
    reports = [_group(dict(zip(by, key, strict=True)), members, n_boot, seed, min_runs)
               for key, members in sorted(groups.items())]
    return Report(by=tuple(by), n_boot=n_boot, seed=seed, top_k=top_k, groups=reports, runs=list(runs),
                  skipped=list(skipped), min_runs=min_runs, baseline=baseline, comparisons=comparisons)
