"""The function a Ray worker runs for one job (a module-level function, importable by workers)."""

from __future__ import annotations

from typing import Any

from aira_dsl.sweep.job import JobRunner, JobSpec

__all__ = ["run_sweep_job"]


def run_sweep_job(spec: dict[str, Any]) -> dict[str, Any]:
    """One attempt of one job; Ray has set ``CUDA_VISIBLE_DEVICES`` to the GPUs it reserved."""
    import ray

    task_id = ray.get_runtime_context().get_task_id()
    return JobRunner(JobSpec.from_dict(spec), engine_id=f"ray:{task_id}").run()
