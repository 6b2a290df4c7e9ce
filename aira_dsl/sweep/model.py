"""The typed sweep: what a checked sweep file says, with every default filled in.

These are plain values (no I/O), so the grid, the dry run, the manifest and the executors can
all be tested without a cluster. Durations are seconds; paths are absolute.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "EXECUTOR_KINDS",
    "ExecutorConfig",
    "Job",
    "LocalSettings",
    "RaySettings",
    "RunSettings",
    "SlurmSettings",
    "Sweep",
    "Variant",
    "slug",
]

EXECUTOR_KINDS = ("local", "slurm", "ray")


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
    workers: int | None = None
    mlebench_data_dir: Path | None = None
    hidden_validation: float | None = None


@dataclass(frozen=True)
class LocalSettings:
    parallel: int = 1
    gpus_per_job: int = 0
    gpus: tuple[int, ...] | None = None


@dataclass(frozen=True)
class SlurmSettings:
    partition: str | None = None
    gpus_per_job: int = 0
    gpu_type: str | None = None
    cpus_per_job: int = 1
    mem_gb: float | None = None
    time: float = 3600.0
    signal_delay: float = 120.0
    max_requeues: int = 3
    array_parallelism: int = 64
    account: str | None = None
    qos: str | None = None
    sbatch: dict[str, str | int | float | bool] = field(default_factory=dict)

    @property
    def gres(self) -> str | None:
        if not self.gpus_per_job:
            return None
        return f"gpu:{self.gpu_type}:{self.gpus_per_job}" if self.gpu_type else f"gpu:{self.gpus_per_job}"


@dataclass(frozen=True)
class RaySettings:
    address: str | None = None
    gpus_per_job: float = 0.0
    cpus_per_job: float = 1.0
    num_cpus: int | None = None
    num_gpus: int | None = None


@dataclass(frozen=True)
class ExecutorConfig:
    kind: str = "local"
    local: LocalSettings = LocalSettings()
    slurm: SlurmSettings = SlurmSettings()
    ray: RaySettings = RaySettings()

    def with_kind(self, kind: str | None) -> ExecutorConfig:
        return self if kind is None or kind == self.kind else ExecutorConfig(kind, self.local, self.slurm, self.ray)

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
        local = dict(data.get("local") or {})
        if local.get("gpus") is not None:
            local["gpus"] = tuple(local["gpus"])
        return cls(kind=data.get("kind", "local"), local=LocalSettings(**local),
                   slurm=SlurmSettings(**(data.get("slurm") or {})), ray=RaySettings(**(data.get("ray") or {})))


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
