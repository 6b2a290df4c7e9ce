"""GPU discovery and assignment, and the ``hardware`` description prompts show the model.

Parallel workers must not share a GPU (two trainings on one card slow both and can run it out
of memory), so each worker gets a disjoint set. The set is enforced twice: the sandbox gets only
those ``/dev/nvidiaN`` device nodes (namespaced local isolation) or those device ids (Docker),
and ``CUDA_VISIBLE_DEVICES`` names them. The prompt's ``hardware`` block is built from the same
information so the model is told what the code will actually get.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from aira_dsl.sandbox.base import SandboxError

__all__ = [
    "GpuInfo",
    "assign_gpus",
    "detect_hardware",
    "list_gpus",
    "nvidia_device_nodes",
]

GpuInfo = dict[str, Any]
"""``{"index": int, "name": str, "memory_gb": float}``."""

NVIDIA_SHARED_NODES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")
"""Device nodes every CUDA process needs besides its ``/dev/nvidiaN``."""


@cache
def list_gpus() -> tuple[GpuInfo, ...]:
    """The GPUs nvidia-smi reports (index, name, memory); empty without nvidia-smi or a GPU."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ()
    try:
        done = subprocess.run([smi, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    if done.returncode != 0:
        return ()
    gpus = []
    for line in done.stdout.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[0].isdigit():
            try:
                memory_gb = round(float(parts[2]) / 1024, 1)
            except ValueError:
                memory_gb = 0.0
            gpus.append({"index": int(parts[0]), "name": parts[1], "memory_gb": memory_gb})
    return tuple(gpus)


def _visible_indices() -> list[int] | None:
    """GPU indices the host's own ``CUDA_VISIBLE_DEVICES`` restricts us to (None: no restriction)."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    indices = [int(v) for v in value.split(",") if v.strip().isdigit()]
    return indices


def available_gpu_indices() -> list[int]:
    """Indices of the GPUs this process may hand out."""
    indices = [gpu["index"] for gpu in list_gpus()]
    allowed = _visible_indices()
    return [i for i in indices if allowed is None or i in allowed]


def assign_gpus(n_workers: int, gpus_per_worker: int, available: Sequence[int] | None = None) -> list[list[int]]:
    """Split ``available`` GPU indices into ``n_workers`` disjoint sets of ``gpus_per_worker``.

    ``available`` defaults to the GPUs nvidia-smi reports. Raises :class:`SandboxError` (with
    what would fit) when there are not enough.
    """
    if n_workers < 1:
        raise SandboxError("the number of workers must be at least 1")
    if gpus_per_worker < 0:
        raise SandboxError("gpus_per_worker must not be negative")
    if gpus_per_worker == 0:
        return [[] for _ in range(n_workers)]
    pool = list(dict.fromkeys(available if available is not None else available_gpu_indices()))
    needed = n_workers * gpus_per_worker
    if needed > len(pool):
        fits = len(pool) // gpus_per_worker
        raise SandboxError(
            f"{n_workers} worker(s) × {gpus_per_worker} GPU(s) need {needed} GPU(s), but "
            f"{len(pool)} {'is' if len(pool) == 1 else 'are'} available"
            + (f" ({', '.join(map(str, pool))})" if pool else ""),
            hint=(f"use at most {fits} worker(s) with {gpus_per_worker} GPU(s) each, or lower "
                  "gpus_per_worker" if fits else "run on a machine with GPUs or set gpus_per_worker: 0"))
    return [pool[i * gpus_per_worker:(i + 1) * gpus_per_worker] for i in range(n_workers)]


def nvidia_device_nodes(gpus: Sequence[int], dev: Path = Path("/dev")) -> list[Path]:
    """The device nodes a sandbox needs for ``gpus``: each ``nvidiaN`` plus the shared ones.

    Empty when ``gpus`` is empty: a sandbox without GPUs gets no NVIDIA node at all, so CUDA
    finds no device even if it ignores ``CUDA_VISIBLE_DEVICES``.
    """
    if not gpus:
        return []
    nodes = [dev / f"nvidia{i}" for i in gpus]
    missing = [str(n) for n in nodes if not n.exists()]
    if missing:
        raise SandboxError(f"GPU device node(s) {', '.join(missing)} do not exist",
                           hint="check `nvidia-smi` and the GPU indices assigned to this worker")
    nodes += [dev / name for name in NVIDIA_SHARED_NODES if (dev / name).exists()]
    if (dev / "nvidia-caps").is_dir():
        nodes.append(dev / "nvidia-caps")
    return nodes


def _memory_total_bytes() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    match = re.search(r"^MemTotal:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def detect_hardware(gpus: Sequence[int] | None = None, memory_limit: int | None = None,
                    cpus: float | None = None) -> dict[str, Any]:
    """The prompts' ``hardware`` block: ``{gpus: [{name, memory_gb}], cpus, memory_gb}``.

    ``gpus`` are the indices the sandbox gets (None: every GPU of the machine); ``memory_limit``
    and ``cpus`` are the sandbox's limits when set, else the machine's totals.
    """
    known = {gpu["index"]: gpu for gpu in list_gpus()}
    chosen = list(known) if gpus is None else list(gpus)
    gpu_list = [{"name": known[i]["name"], "memory_gb": known[i]["memory_gb"]} if i in known
                else {"name": f"GPU {i}", "memory_gb": None} for i in chosen]
    host_cpus = len(os.sched_getaffinity(0))
    cpu_count = max(1, min(host_cpus, int(cpus))) if cpus else host_cpus
    memory = memory_limit if memory_limit is not None else _memory_total_bytes()
    return {"gpus": gpu_list, "cpus": cpu_count,
            "memory_gb": round(memory / 2**30, 1) if memory else None}
