"""Best score so far, as a run progressed: the curve both the viewer and the PNG plots draw.

Nodes are taken in the order they finished (with several workers that is not id order); the
x axes are the number of steps done (nodes finished, buggy or not) and the seconds since the
run started. A point is emitted each time the validation-selected node changes, plus one at
the end so the curve spans the whole run. ``test`` is the hidden test score of that node, for
showing how the submitted node's real quality moved; it never influenced the search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from aira_dsl.report.model import NodeView

__all__ = ["ProgressPoint", "best_so_far"]


@dataclass(frozen=True)
class ProgressPoint:
    """The best valid node after ``step`` steps / ``elapsed`` seconds."""

    step: int
    elapsed: float
    node: int
    metric: float | None
    test: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def best_so_far(nodes: Sequence[NodeView], start: float | None) -> list[ProgressPoint]:
    """The step curve of the best validation fitness over finished nodes."""
    done = sorted((n for n in nodes if n.record.status == "done"),
                  key=lambda n: (n.record.finished_at or n.record.created_at, n.id))
    if not done:
        return []
    origin = start if start is not None else min(n.record.created_at for n in done)
    points: list[ProgressPoint] = []
    best: NodeView | None = None
    step = 0
    for step, node in enumerate(done, start=1):
        fit = node.record.fitness
        if node.valid and fit is not None and (best is None or fit > (best.record.fitness or 0.0)):
            best = node
            points.append(_point(step, node, best, origin))
    if best is not None and points[-1].step != step:
        points.append(_point(step, done[-1], best, origin))
    return points


def _point(step: int, at: NodeView, best: NodeView, origin: float) -> ProgressPoint:
    when = at.record.finished_at or at.record.created_at
    return ProgressPoint(step=step, elapsed=max(0.0, when - origin), node=best.id, metric=best.record.metric,
                         test=best.grade.test_score if best.grade else None)
