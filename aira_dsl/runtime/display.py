"""Progress while a run works: a live panel on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any, TextIO

from aira_dsl.runtime.engine import NodeEvent

__all__ = ["LiveDisplay", "PlainDisplay", "make_display"]


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _best(metric: float | None, node_id: int | None) -> str:
    """The best score so far and its node; before any valid node, says so (not ``- (node None)``)."""
    if node_id is None:
        return "none yet (no valid node)"
    return f"{_fmt(metric)} (node {node_id})"


class PlainDisplay:
    """One line per finished node (for logs, CI and pipes)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def node(self, event: NodeEvent) -> None:
        status = "buggy" if event.buggy else "valid"
        detail = f" ({event.error})" if event.error and event.buggy else ""
        self.stream.write(f"[{event.elapsed:7.1f}s] node {event.node_id:>4} {event.role:<9} {status:<5} "
                          f"metric={_fmt(event.metric)}  best={_best(event.best_metric, event.best_id)}  "
                          f"steps={event.steps_done} cost=${event.cost_usd:.4f}{detail[:160]}\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        self.stream.write(f"aira-dsl: {text}\n")
        self.stream.flush()


class LiveDisplay:
    """A rich live panel: nodes by status, best score, budget use, tokens and cost."""

    def __init__(self, budget: dict[str, Any]):
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self.budget = budget
        self.counts: Counter[str] = Counter()
        self.last: NodeEvent | None = None
        self.live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveDisplay:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.__exit__(*exc)

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(title="aira-dsl run", show_header=False, expand=False)
        event = self.last
        table.add_row("nodes", f"{self.counts['valid']} valid, {self.counts['buggy']} buggy")
        table.add_row("best validation", _best(None, None) if event is None else _best(event.best_metric, event.best_id))
        steps = self.budget.get("steps")
        done = 0 if event is None else event.steps_done
        table.add_row("steps", f"{done}" + (f" / {steps}" if steps else ""))
        elapsed = 0.0 if event is None else event.elapsed
        limit = self.budget.get("time")
        table.add_row("time", f"{elapsed:.0f}s" + (f" / {limit:.0f}s" if limit else ""))
        table.add_row("tokens / cost", "-" if event is None else f"{event.tokens} / ${event.cost_usd:.4f}")
        return table

    def node(self, event: NodeEvent) -> None:
        self.counts["buggy" if event.buggy else "valid"] += 1
        self.last = event
        self.live.update(self._render())

    def message(self, text: str) -> None:
        self.console.print(f"aira-dsl: {text}")


def make_display(budget: dict[str, Any], stream: TextIO | None = None) -> PlainDisplay | LiveDisplay:
    target = stream or sys.stderr
    if hasattr(target, "isatty") and target.isatty():
        return LiveDisplay(budget)
    return PlainDisplay(target)
