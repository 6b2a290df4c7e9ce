"""Small real tasks built offline from data that installed packages ship.

Our machines cannot download Kaggle data, so the project carries four tasks of different
kinds, generated on first use by :func:`prepare_bundled` into a cache directory (nothing large is
committed): ``penguins`` (tabular multi-class with missing values, accuracy), ``breast-cancer``
(binary, ROC AUC), ``diabetes`` (regression, RMSE) and ``digits`` (PNG image files with labels
in a CSV, accuracy). Each gets a Kaggle-style ``description.md``, a sample submission, private
answers and *reference thresholds*: the scores of documented reference solutions (see the
modules of each task), never Kaggle medals.
"""

from __future__ import annotations

from dataclasses import dataclass

from aira_dsl.tasks.bundled import breast_cancer, diabetes, digits, penguins
from aira_dsl.tasks.bundled._common import BundledTask, Reference

__all__ = ["BUNDLED", "BundledInfo", "BundledTask", "Reference", "bundled_ids", "get_bundled", "list_bundled"]

BUNDLED: dict[str, BundledTask] = {t.id: t for t in (penguins.TASK, breast_cancer.TASK, diabetes.TASK, digits.TASK)}


@dataclass(frozen=True)
class BundledInfo:
    """One row of ``aira-dsl tasks list``."""

    id: str
    name: str
    kind: str
    metric: str
    direction: str
    summary: str
    source: str

    def to_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


def bundled_ids() -> list[str]:
    return list(BUNDLED)


def get_bundled(task_id: str) -> BundledTask | None:
    return BUNDLED.get(task_id)


def list_bundled() -> list[BundledInfo]:
    """The bundled tasks, in a fixed order."""
    from aira_dsl.tasks.metrics import get_metric

    out = []
    for task in BUNDLED.values():
        metric = get_metric(task.metric)
        assert metric is not None
        out.append(BundledInfo(task.id, task.name, task.kind, task.metric, metric.direction, task.summary,
                               task.source))
    return out
