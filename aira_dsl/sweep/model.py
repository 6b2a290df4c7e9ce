"""The typed sweep: what a checked sweep file says, with every default filled in.

These are plain values (no I/O), so the grid, the dry run, the manifest and the executors can
all be tested without a cluster. Durations are seconds; paths are absolute.

The sweep file itself is declared here once (:class:`SweepFile` and the sections it holds, fields
declared with :func:`~aira_dsl.settings.fields.setting`): its JSON Schema
(``schema/sweep.schema.json``, written by ``python -m aira_dsl.schemagen``), the key reference in
``docs/sweeps.md`` and the defaults :mod:`aira_dsl.sweep.load` fills in all come from these
declarations. The executor sections (:class:`ExecutorConfig` and its :class:`LocalSettings`,
:class:`SlurmSettings`, :class:`RaySettings`) are at once the declarations and what the executors
receive.
"""

from __future__ import annotations

import re
import typing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from aira_dsl.settings.fields import Duration, build, setting

__all__ = [
    "EXECUTOR_KINDS",
    "ExecutorConfig",
    "ExecutorKind",
    "Job",
    "LocalSettings",
    "RaySettings",
    "RunSection",
    "RunSettings",
    "SlurmSettings",
    "SpecEntry",
    "Sweep",
    "SweepFile",
    "Variant",
    "slug",
]

ExecutorKind = Literal["local", "slurm", "ray"]
EXECUTOR_KINDS: tuple[str, ...] = typing.get_args(ExecutorKind)

LABEL_PATTERN = "^[a-z0-9][a-z0-9-]*$"
"""What a sweep, spec or variant label looks like (lowercase letters, digits, '-')."""
OVERRIDE_KEY_PATTERN = "^[A-Za-z0-9_]+(\\.[A-Za-z0-9_]+)*$"
"""A ``--set``-style key: a dotted path of the agent spec."""


def slug(text: str) -> str:
    """Lowercase letters, digits and '-' only (job keys, folder names)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "x"


@dataclass(frozen=True)
class Variant:
    """One spec of the grid: a spec file plus overrides, compiled once into a frozen plan."""

    id: str
    """Label in job keys and reports, and the frozen plan's name: ``<spec>`` or ``<spec>-<variant>``."""
    spec: Path
    variant: str | None
    overrides: tuple[str, ...]
    """Every ``--set`` applied, in order: sweep-wide run settings, then the variant's own."""


@dataclass(frozen=True)
class RunSettings:
    """The run settings a sweep's jobs get besides the compiled overrides (paths resolved)."""

    workers: int | None = None
    mlebench_data_dir: Path | None = None
    hidden_validation: float | None = None


# --------------------------------------------------------------------------------------------
# Executors: declarations and runtime values at once


@dataclass(frozen=True)
class LocalSettings:
    __schema_doc__: ClassVar[str] = "Resources of the local executor (a process pool on this machine)."

    parallel: int = setting(1, ge=1, doc="Jobs at a time.")
    gpus_per_job: int = setting(0, ge=0, doc="GPUs each job gets; concurrent jobs get disjoint sets.")
    gpus: tuple[int, ...] | None = setting(
        None, show_default=False, item={"ge": 0}, schema={"uniqueItems": True},
        doc="GPU ids to hand out; default: the GPUs nvidia-smi shows, limited by CUDA_VISIBLE_DEVICES.")


@dataclass(frozen=True)
class SlurmSettings:
    __schema_doc__: ClassVar[str] = "Resources of the SLURM executor (job arrays through submitit)."

    partition: str | None = setting(None, min_length=1, show_default=False,
                                    doc="Partition; default: the cluster's default partition.")
    gpus_per_job: int = setting(0, ge=0, doc="GPUs per job, asked as --gres=gpu:N.")
    gpu_type: str | None = setting(None, min_length=1, show_default=False,
                                   doc="GPU type in the gres request (--gres=gpu:TYPE:N), e.g. h100.")
    cpus_per_job: int = setting(1, ge=1, doc="CPUs per job (--cpus-per-task).")
    mem_gb: float | None = setting(None, gt=0, show_default=False, doc="Memory per job in GB (--mem).")
    time: Duration = setting(3600.0, doc="Time limit per job (--time). SLURM signals the job before it "
                                         "(signal_delay) so it can checkpoint and requeue itself.")
    signal_delay: Duration = setting(120.0, doc="How long before the time limit the job is signalled to "
                                                "checkpoint.")
    max_requeues: int = setting(3, ge=0, doc="How many times a job that reaches its time limit is requeued to "
                                             "continue its run.")
    array_parallelism: int = setting(64, ge=1, doc="At most this many jobs of the array run at once.")
    account: str | None = setting(None, min_length=1, show_default=False, doc="--account.")
    qos: str | None = setting(None, min_length=1, show_default=False, doc="--qos.")
    sbatch: dict[str, str | int | float | bool] = setting(
        default_factory=dict, key_pattern="^[a-z][a-z0-9-_]*$",
        schema={"additionalProperties": {"type": ["string", "number", "boolean"]}},
        doc="Extra sbatch options, name -> value (e.g. {constraint: h100, reservation: x}); `true` for a flag.")

    @property
    def gres(self) -> str | None:
        if not self.gpus_per_job:
            return None
        return f"gpu:{self.gpu_type}:{self.gpus_per_job}" if self.gpu_type else f"gpu:{self.gpus_per_job}"


@dataclass(frozen=True)
class RaySettings:
    __schema_doc__: ClassVar[str] = "Resources of the Ray executor (one Ray task per job)."

    address: str | None = setting(
        None, min_length=1, show_default=False,
        doc="Ray cluster address: host:port, ray://host:port, auto (the cluster `ray start` runs on this machine) "
            "or local. Default: $RAY_ADDRESS, else a private local Ray instance the sweep starts and stops.")
    gpus_per_job: float = setting(0.0, ge=0, doc="num_gpus of each job's task.")
    cpus_per_job: float = setting(1.0, ge=0, doc="num_cpus of each job's task.")
    num_cpus: int | None = setting(None, ge=1, show_default=False,
                                   doc="CPUs of the private local instance (only when no cluster is used).")
    num_gpus: int | None = setting(None, ge=0, show_default=False,
                                   doc="GPUs the private local instance declares (only without a cluster address); "
                                       "they may be fake: Ray still gives each task distinct GPU ids.")


@dataclass(frozen=True)
class ExecutorConfig:
    __schema_doc__: ClassVar[str] = ("Where jobs run. `kind` picks one; the sections hold each kind's resources (a "
                                     "file may carry all three, and `aira-dsl sweep --executor` picks another).")

    kind: ExecutorKind = setting("local", doc="local: a process pool on this machine; slurm: job arrays through "
                                              "submitit; ray: one Ray task per job.")
    local: LocalSettings = setting(default_factory=LocalSettings, doc=LocalSettings.__schema_doc__)
    slurm: SlurmSettings = setting(default_factory=SlurmSettings, doc=SlurmSettings.__schema_doc__)
    ray: RaySettings = setting(default_factory=RaySettings, doc=RaySettings.__schema_doc__)

    def with_kind(self, kind: str | None) -> ExecutorConfig:
        if kind is None or kind == self.kind:
            return self
        if kind not in EXECUTOR_KINDS:
            raise ValueError(f"unknown executor {kind!r}; expected one of {', '.join(EXECUTOR_KINDS)}")
        return ExecutorConfig(typing.cast(ExecutorKind, kind), self.local, self.slurm, self.ray)

    def settings(self) -> LocalSettings | SlurmSettings | RaySettings:
        """The settings of the chosen kind."""
        if self.kind == "slurm":
            return self.slurm
        return self.ray if self.kind == "ray" else self.local

    def to_dict(self) -> dict[str, Any]:
        """Every section (so a resume can switch executors), as JSON values."""
        return {"kind": self.kind, "local": _plain(asdict(self.local)), "slurm": _plain(asdict(self.slurm)),
                "ray": _plain(asdict(self.ray))}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecutorConfig:
        """Back from :meth:`to_dict` (a sweep directory's manifest); absent keys take the declared
        defaults."""
        config: ExecutorConfig = build(cls, data)
        return config


# --------------------------------------------------------------------------------------------
# The sweep file


@dataclass(frozen=True, kw_only=True)
class SpecEntry:
    """The long form of a ``specs`` entry."""

    path: str = setting(min_length=1, doc="Path of an agent spec, relative to this file.")
    name: str | None = setting(None, pattern=LABEL_PATTERN, max_length=60, show_default=False,
                               doc="Label of this spec in job names and reports; default: the spec's own name.")
    variants: dict[str, dict[str, Any]] = setting(
        default_factory=dict, show_default=False, min_items=1,
        schema={"propertyNames": {"type": "string", "pattern": LABEL_PATTERN, "maxLength": 60},
                "additionalProperties": {
                    "type": "object", "propertyNames": {"pattern": OVERRIDE_KEY_PATTERN},
                    "description": "--set-style overrides: a dotted path of the agent spec -> its value, e.g. "
                                   "{policy.num_drafts: 3, budget.steps: 20}."}},
        doc="Named variants: variant name -> --set-style overrides. Each variant is one spec in the grid, "
            "labelled <name>-<variant>.")


@dataclass(frozen=True, kw_only=True)
class RunSection:
    __schema_doc__: ClassVar[str] = "Settings every run of the sweep gets; they are compiled into the frozen plans."

    workers: int | None = setting(None, ge=1, show_default=False,
                                  doc="Parallel workers inside each run (execution.workers).")
    budget: dict[str, Any] = setting(
        default_factory=dict, schema={"$ref": "#/$defs/budget_overrides"},
        doc="Budget overrides for every variant (a variant's own overrides win): the keys of an agent spec's "
            "budget.")
    set: dict[str, Any] = setting(default_factory=dict, key_pattern=OVERRIDE_KEY_PATTERN,
                                  doc="Other overrides for every variant (applied before the variant's own).")
    mlebench_data_dir: str | None = setting(
        None, min_length=1, show_default=False,
        doc="Where MLE-bench prepared data lives (for mlebench:<id> tasks), relative to this file or absolute.")
    hidden_validation: float | None = setting(
        None, ge=0.05, le=0.5, show_default=False,
        doc="Hold back this fraction of training rows as framework-owned validation data.")


@dataclass(frozen=True, kw_only=True)
class SweepFile:
    """A sweep file as written, defaults filled in (paths still relative)."""

    __schema_doc__: ClassVar[str] = ("A grid of agent spec variants x tasks x seeds, each cell one `aira-dsl run`, "
                                     "launched on a local process pool, SLURM (submitit) or Ray.")

    version: Literal[1] = setting(1, schema={"const": 1}, doc="Format version of this file; only 1 exists.")
    name: str | None = setting(
        None, pattern=LABEL_PATTERN, max_length=60, show_default=False,
        doc="Name of the sweep (lowercase letters, digits, '-'); default: the file name. Used for the default "
            "output folder sweeps/<name> and SLURM job names.")
    description: str = setting("", doc="What the sweep is for.")
    specs: tuple[str | SpecEntry, ...] = setting(
        min_items=1, item={"min_length": 1, "doc": "Path of an agent spec (or compiled plan), relative to this "
                                                   "file, or {path, name, variants}."},
        doc="Agent specs to run: a path (relative to this file), or {path, name, variants}.")
    tasks: tuple[str, ...] = setting(
        min_items=1, item={"min_length": 1},
        doc="Tasks: bundled ids (penguins), task directories or task.yaml files (relative to this file), "
            "mlebench:<competition-id>, or a named list: mlebench:lite (the 22 low-complexity MLE-bench "
            "competitions).")
    seeds: int | tuple[int, ...] = setting(1, ge=1, le=10000, min_items=1, item={"ge": 0},
                                           schema={"uniqueItems": True},
                                           doc="A count n (seeds 0..n-1) or a list of seeds.")
    run: RunSection = setting(default_factory=RunSection, doc=RunSection.__schema_doc__)
    executor: ExecutorConfig = setting(default_factory=ExecutorConfig, doc=ExecutorConfig.__schema_doc__)


@dataclass(frozen=True)
class Job:
    """One cell of the grid: a variant on a task with a seed, run as one ``aira-dsl run``."""

    key: str
    variant: str
    task: str
    seed: int

    @property
    def run_dir(self) -> str:
        """The run directory, relative to the sweep directory."""
        return f"runs/{self.key}"


@dataclass(frozen=True)
class Sweep:
    """A checked sweep file."""

    name: str
    file: Path
    sha256: str
    """Of the sweep file's bytes: a sweep directory belongs to exactly one sweep file."""
    variants: tuple[Variant, ...]
    tasks: tuple[str, ...]
    seeds: tuple[int, ...]
    run: RunSettings
    executor: ExecutorConfig
    description: str = ""

    def jobs(self) -> list[Job]:
        """The grid in launch order: variant, then task, then seed."""
        from aira_dsl.sweep.grid import expand

        return expand(self)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
