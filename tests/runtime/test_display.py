"""The progress lines a run prints (PlainDisplay: logs, CI, pipes) and the live panel's best row."""

from __future__ import annotations

import io

from aira_dsl.runtime.display import LiveDisplay, PlainDisplay
from aira_dsl.runtime.engine import NodeEvent


def event(node_id: int, buggy: bool, metric: float | None, best_id: int | None,
          best_metric: float | None) -> NodeEvent:
    return NodeEvent(node_id=node_id, role="draft", buggy=buggy, metric=metric, best_id=best_id,
                     best_metric=best_metric, error="exit code 1" if buggy else None, steps_done=node_id + 1,
                     elapsed=1.5, cost_usd=0.01, tokens=100)


def test_progress_line_before_any_valid_node_says_so() -> None:
    """Issue 16: a buggy first node printed ``best=- (node None)``."""
    out = io.StringIO()
    PlainDisplay(out).node(event(0, True, None, None, None))
    line = out.getvalue()
    assert "node None" not in line and "(node None)" not in line
    assert "best=none yet (no valid node)" in line


def test_progress_line_names_the_best_node() -> None:
    out = io.StringIO()
    PlainDisplay(out).node(event(3, False, 0.81, 2, 0.875))
    assert "metric=0.81  best=0.875 (node 2)  steps=4" in out.getvalue()


def test_live_panel_best_row_before_and_after_a_valid_node() -> None:
    display = LiveDisplay({"steps": 10})
    rows = lambda: [str(cell) for column in display._render().columns for cell in column._cells]  # noqa: E731
    assert "none yet (no valid node)" in rows()
    display.last = event(1, False, 0.5, 1, 0.5)
    assert "0.5 (node 1)" in rows()
