"""The callable submitit runs on a SLURM node: one :class:`~aira_dsl.sweep.job.JobRunner` attempt.

It is ``Checkpointable``: when SLURM signals the job before its time limit (or on preemption),
submitit calls :meth:`SlurmSweepJob.checkpoint`, which stops the run cleanly, records the
attempt as preempted, and returns a fresh copy of this job; submitit then requeues it, and the
new attempt continues the run with ``--resume`` (its run directory already holds one).
"""

from __future__ import annotations

from typing import Any

import submitit

from aira_dsl.sweep.job import JobRunner, JobSpec

__all__ = ["SlurmSweepJob"]


class SlurmSweepJob(submitit.helpers.Checkpointable):
    def __init__(self, spec: dict[str, Any], grace: float = 60.0):
        self.spec = spec
        self.grace = grace
        self._runner: JobRunner | None = None

    def __call__(self) -> dict[str, Any]:
        self._runner = JobRunner(JobSpec.from_dict(self.spec))
        return self._runner.run()

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        runner = self._runner
        if runner is not None and runner.proc is not None:
            runner.stop("preempted", grace=self.grace)
            runner.record_end()
        return submitit.helpers.DelayedSubmission(SlurmSweepJob(self.spec, self.grace))

    def __getstate__(self) -> dict[str, Any]:
        return {"spec": self.spec, "grace": self.grace}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.spec = state["spec"]
        self.grace = state.get("grace", 60.0)
        self._runner = None
