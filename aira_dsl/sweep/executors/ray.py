"""The Ray executor: one Ray task per job, asking for ``num_gpus`` and ``num_cpus``.

Ray places each task where its resources are free and sets its ``CUDA_VISIBLE_DEVICES`` to the
GPUs it reserved, so concurrent jobs never share one. Tasks are not retried by Ray
(``max_retries=0``): a job whose worker dies is recorded as failed and ``sweep resume``
continues its run from the journal. ``aira-dsl sweep`` is the Ray driver, so it stays until
every job has ended; Ctrl-C cancels the tasks (their runs stop cleanly and are recorded as
cancelled).

The cluster is ``executor.ray.address`` (``host:port``, ``ray://host:port``, or ``auto`` for
the cluster ``ray start`` runs on this machine); without one, ``$RAY_ADDRESS``, else a private
Ray instance that the sweep starts and stops (``num_cpus`` / ``num_gpus`` declare its
resources; fake GPUs are fine: Ray still hands each task distinct GPU ids). The
variables the runs need (endpoint, API keys, caches) are passed to the workers through the
task's runtime environment, since a remote worker does not share the driver's environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import Any

from aira_dsl.sweep.errors import SweepError
from aira_dsl.sweep.executors.base import Changes, Executor, LaunchContext, require_module
from aira_dsl.sweep.executors.local import outcome_changes
from aira_dsl.sweep.model import RaySettings
from aira_dsl.sweep.records import read_state

__all__ = ["RayExecutor"]

WAIT_S = 0.5


class RayExecutor(Executor):
    kind = "ray"
    attached = True

    def __init__(self, settings: RaySettings):
        self.settings = settings

    def preflight(self) -> None:
        require_module("ray", "ray", "ray")

    def resources(self) -> dict[str, Any]:
        s = self.settings
        return {"executor": "ray", "address": s.address or os.environ.get("RAY_ADDRESS") or "local",
                "gpus_per_job": s.gpus_per_job, "cpus_per_job": s.cpus_per_job,
                "jobs_at_once": "as many as the cluster's free resources allow"}

    def _connect(self, ctx: LaunchContext) -> Any:
        import ray

        s = self.settings
        env_vars = {name: os.environ[name] for name in sorted(ctx.env_names) if name in os.environ}
        kwargs: dict[str, Any] = {"runtime_env": {"env_vars": env_vars}, "include_dashboard": False,
                                  "log_to_driver": False, "logging_level": "ERROR"}
        address = s.address or os.environ.get("RAY_ADDRESS") or "local"
        if address == "local":
            kwargs.update({k: v for k, v in (("num_cpus", s.num_cpus), ("num_gpus", s.num_gpus)) if v is not None})
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = "a new local instance" if address == "local" else address
            raise SweepError(f"cannot reach a Ray cluster at {where}: {str(exc).splitlines()[0] if str(exc) else exc}",
                             "start one with `ray start --head` (and set executor.ray.address or RAY_ADDRESS), "
                             "or leave the address out to start a private Ray instance") from None
        return ray

    def launch(self, ctx: LaunchContext) -> None:
        ray = self._connect(ctx)

        def on_term(signum: int, frame: object) -> None:
            raise KeyboardInterrupt  # SIGTERM stops the sweep like Ctrl-C: tasks are cancelled cleanly

        previous = None
        with contextlib.suppress(ValueError):
            previous = signal.signal(signal.SIGTERM, on_term)
        try:
            self._drive(ray, ctx)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            ray.shutdown()

    def _drive(self, ray: Any, ctx: LaunchContext) -> None:
        from aira_dsl.sweep.executors.ray_task import run_sweep_job

        s = self.settings
        total = ray.cluster_resources()
        if s.gpus_per_job and total.get("GPU", 0) < s.gpus_per_job:
            raise SweepError(f"each job asks for {s.gpus_per_job} GPU(s) but the Ray cluster has "
                             f"{total.get('GPU', 0):g}", "lower executor.ray.gpus_per_job, or add GPU nodes")
        remote = ray.remote(run_sweep_job)
        refs: dict[Any, str] = {}
        started: set[str] = set()
        for spec in ctx.specs:
            ref = remote.options(num_gpus=s.gpus_per_job, num_cpus=s.cpus_per_job, max_retries=0,
                                 name=f"aira-sweep:{spec.key}").remote(spec.to_dict())
            refs[ref] = spec.key
        ctx.on_change({key: {"state": "queued", "engine_id": f"ray:{ref.task_id().hex()}", "submitted_at": time.time(),
                             "reason": None} for ref, key in refs.items()})
        ctx.say(f"submitted {len(refs)} task(s) to Ray")
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=len(pending), timeout=WAIT_S)
                changes: Changes = {}
                for ref in done:
                    changes[refs[ref]] = change = self._ended(ray, ctx, ref, refs[ref])
                    why = change.get("reason")
                    ctx.say(f"{refs[ref]}: {change['state']}" + (f" ({why})" if why else ""))
                for ref in pending:
                    key = refs[ref]
                    record = read_state(ctx.sweep_dir.job_dir(key))
                    if key not in started and record and record.get("state") == "running" \
                            and record.get("launch") == _launch_of(ctx, key):
                        started.add(key)
                        changes[key] = {"state": "running", "started_at": record.get("started_at"),
                                        "gpus": record.get("gpus")}
                        ctx.say(f"{key}: running" + (f" on GPU {record['gpus']}" if record.get("gpus") else ""))
                if changes:
                    ctx.on_change(changes)
        except KeyboardInterrupt:
            ctx.say("stopping the sweep: cancelling the Ray tasks (their runs stop cleanly)")
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref)
            changes = {}
            for ref in pending:
                changes[refs[ref]] = self._ended(ray, ctx, ref, refs[ref], cancelled=True)
            ctx.on_change(changes)
            raise

    def _ended(self, ray: Any, ctx: LaunchContext, ref: Any, key: str, cancelled: bool = False) -> dict[str, Any]:
        from ray.exceptions import RayError, TaskCancelledError

        try:
            ray.get(ref, timeout=60 if cancelled else None)
            desc = "ended"
        except TaskCancelledError:
            record = read_state(ctx.sweep_dir.job_dir(key))
            if record is None or record.get("launch") != _launch_of(ctx, key):
                return {"state": "pending", "reason": "not started: the sweep was stopped"}
            desc = "cancelled"
        except RayError as exc:
            desc = f"Ray: {type(exc).__name__}"
        record = read_state(ctx.sweep_dir.job_dir(key))
        if record is not None and record.get("launch") != _launch_of(ctx, key):
            record = None
        return outcome_changes(record, desc, interrupted_as="cancelled")


def _launch_of(ctx: LaunchContext, key: str) -> int:
    return next(s.launch for s in ctx.specs if s.key == key)
