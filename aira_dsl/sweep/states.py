"""The states a sweep job goes through, and which of them ``sweep resume`` relaunches.

``pending``: never launched. ``queued``: handed to the engine, not started. ``running``: its
``aira-dsl run`` is going. ``finished``: the run ended normally (its budget or policy stopped
it). ``failed``: the run or its job ended without finishing (an error, a crash, a killed
process, a job cancelled or timed out in the engine). ``cancelled``: stopped on purpose from
``aira-dsl sweep`` (Ctrl-C). ``preempted``: stopped by the engine to be continued (a SLURM
preemption or time limit that was not requeued).
"""

from __future__ import annotations

__all__ = ["ACTIVE", "ALL_STATES", "RELAUNCH", "TERMINAL"]

ALL_STATES = ("pending", "queued", "running", "finished", "failed", "cancelled", "preempted")
ACTIVE = frozenset({"queued", "running"})
"""The engine has the job: resume leaves it alone."""
RELAUNCH = frozenset({"pending", "failed", "cancelled", "preempted"})
"""What ``sweep resume`` launches again (a run that had started continues with ``--resume``)."""
TERMINAL = frozenset({"finished", "failed", "cancelled", "preempted"})
