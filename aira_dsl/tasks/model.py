"""What a loaded task is: plain frozen dataclasses, no I/O.

A :class:`Task` is everything the runtime and the graders need to know about a problem, with
every path already resolved to an absolute :class:`~pathlib.Path`. It is built by
:mod:`aira_dsl.tasks.taskfile` (from a ``task.yaml``), by :mod:`aira_dsl.tasks.mlebench_adapter`
(from an MLE-bench prepared competition) and never by hand in normal use.

:class:`ResourceHints` and :class:`HiddenValidationConfig` are both what a loaded task holds and
the declarations of the ``task.yaml`` sections of the same name (fields declared with
:func:`~aira_dsl.settings.fields.setting`; see :mod:`aira_dsl.tasks.schema`), so their defaults,
ranges and descriptions are written once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from aira_dsl.settings.fields import Duration, setting

__all__ = [
    "DEFAULT_THRESHOLD_KIND",
    "HIDDEN_ANSWERS_FILE",
    "HIDDEN_FEATURES_FILE",
    "HIDDEN_PREDICTIONS_FILE",
    "BlindRef",
    "Direction",
    "HiddenValidation",
    "HiddenValidationConfig",
    "MlebenchRef",
    "ResourceHints",
    "SubmissionFormat",
    "Task",
    "Thresholds",
]

Direction = Literal["maximize", "minimize"]

HIDDEN_FEATURES_FILE = "hidden_val_features.csv"
"""In the public data dir: the held-back training rows without their target columns."""
HIDDEN_PREDICTIONS_FILE = "hidden_val_predictions.csv"
"""In the solution's ``./submission/`` dir: its predictions for the hidden rows."""
HIDDEN_ANSWERS_FILE = "hidden_val_answers.csv"
"""Framework-owned (never public): the held-back rows' ids and targets."""


@dataclass(frozen=True)
class SubmissionFormat:
    """The shape a submission must have: the sample's columns, one row per answer id."""

    sample: Path
    id_column: str
    target_columns: tuple[str, ...]
    max_bytes: int | None = None
    """Largest submission accepted; ``None`` means the default (see ``submission.py``)."""
    values: str | None = None
    """Kind of the target values (``label``, ``probability``... or ``any``); None: the metric's."""
    strict: bool = False
    """MLE-bench tasks: run the built-in format pre-check (the sample's columns and ids) before
    MLE-bench's own validation, instead of MLE-bench's validation alone (task option
    ``submission.strict``). Task directories are always checked in full."""


DEFAULT_THRESHOLD_KIND = "custom"
"""Where thresholds come from when a task does not say (``thresholds.kind`` in ``task.yaml``)."""


@dataclass(frozen=True)
class Thresholds:
    """Score cut-offs for medals and the median.

    ``kind`` says where they come from so reports never pass a reference number off as a
    Kaggle medal: ``kaggle`` (a Kaggle leaderboard or thresholds copied from one),
    ``reference`` (scores of documented reference solutions), ``custom`` (user-chosen).
    """

    gold: float | None
    silver: float | None
    bronze: float | None
    median: float | None
    kind: str = DEFAULT_THRESHOLD_KIND
    source: str = "task.yaml"
    num_teams: int | None = None


@dataclass(frozen=True)
class ResourceHints:
    """What a solution may expect to use; advisory, shown to agents and used by schedulers."""

    __schema_doc__: ClassVar[str] = "Resource hints for solutions (advisory)."

    cpus: int | None = setting(None, ge=1, show_default=False, doc="CPU cores.")
    memory_gb: float | None = setting(None, gt=0, show_default=False, doc="Memory in GB.")
    gpus: int | None = setting(None, ge=0, show_default=False, doc="GPUs.")
    time_limit_s: Duration | None = setting(None, gt=0, key="time_limit", show_default=False,
                                            doc="Expected wall time per solution run.")


@dataclass(frozen=True)
class HiddenValidationConfig:
    """The request in ``task.yaml``: hold back ``fraction`` of ``train_file``'s rows."""

    __schema_doc__: ClassVar[str] = (
        "Hold back a fraction of the labelled training rows as framework-owned validation data: solutions see "
        f"their features in ./data/{HIDDEN_FEATURES_FILE} and must write ./submission/{HIDDEN_PREDICTIONS_FILE}.")

    fraction: float = setting(gt=0, lt=1, doc="Share of the training rows held back.")
    seed: int = setting(0, ge=0, doc="Seed of the random choice of rows.")
    train_file: str = setting("train.csv", min_length=1,
                              doc="Labelled CSV in public_dir to split (it must hold the id column and the target "
                                  "columns).")


@dataclass(frozen=True)
class HiddenValidation:
    """A hidden validation split that has been materialised on disk.

    ``public_dir`` of the task then points at a derived copy of the data in which
    ``train_file`` lacks the hidden rows and :data:`HIDDEN_FEATURES_FILE` holds them without
    targets; ``answers`` (outside any public dir) holds their ids and targets.
    """

    config: HiddenValidationConfig
    features: Path
    answers: Path
    num_rows: int
    source_public_dir: Path
    predictions_file: str = HIDDEN_PREDICTIONS_FILE


@dataclass(frozen=True)
class MlebenchRef:
    """Where an MLE-bench competition lives, for grading through the ``mlebench`` package."""

    competition_id: str
    data_dir: Path


@dataclass(frozen=True)
class BlindRef:
    """A task seen from inside MLE-bench's harness (``mlebench-public:DIR``): no answers here.

    Validity comes from the harness's validation endpoint when there is one (``validate_url``),
    else from format checks; there is never a test score.
    """

    competition_id: str | None
    validate_url: str | None
    validate_source: str
    """Where ``validate_url`` came from (an option, an environment variable, a script), or why there is none."""


@dataclass(frozen=True)
class Task:
    """A resolved task; see the module docstring."""

    id: str
    name: str
    description: str
    public_dir: Path
    private_dir: Path
    answers: Path
    metric: str
    direction: Direction
    submission: SubmissionFormat
    metric_params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    grader: str | None = None
    """``module:function`` entry point used instead of a named metric."""
    thresholds: Thresholds | None = None
    resources: ResourceHints = field(default_factory=ResourceHints)
    hidden_validation: HiddenValidation | None = None
    hidden_validation_config: HiddenValidationConfig | None = None
    root: Path | None = None
    """The task directory (holding ``task.yaml``), when there is one."""
    source: str = "dir"
    """``bundled``, ``dir``, ``mlebench`` or ``mlebench-public``."""
    mlebench: MlebenchRef | None = None
    notes: tuple[str, ...] = ()
    data_notes: str = ""
    """Facts about the public data for prompts (``task.data_notes``): which archives were unpacked
    and where, a submission format known only from private files. Built from what is on disk."""
    data_source: Path | None = None
    """The public folder the task declares, when ``public_dir`` is an unpacked view of it."""
    benchmark: str | None = None
    """``mlebench`` for MLE-bench competitions: their benchmark rules precede the description."""
    blind: BlindRef | None = None

    @property
    def is_lower_better(self) -> bool:
        return self.direction == "minimize"

    @property
    def original_public_dir(self) -> Path:
        """The public dir as the task declares it, before any hidden split was carved out."""
        if self.data_source is not None:
            return self.data_source
        if self.hidden_validation is not None:
            return self.hidden_validation.source_public_dir
        return self.public_dir

    def metric_info(self) -> dict[str, Any]:
        """``{name, direction}`` as prompt templates see it (``task.metric``)."""
        return {"name": self.metric, "direction": self.direction}
