"""One sweep job: run ``aira-dsl run`` on the frozen plan, and say how it went.

Every executor runs the same :class:`JobRunner`: the local pool as ``python -m
aira_dsl.sweep.job JOB.json``, SLURM inside the submitit callable, Ray inside a remote task. It

- continues the run with ``--resume`` when its run directory already holds one (a relaunched,
  requeued or preempted job loses no finished node), else starts it from ``plans/<variant>.json``;
- records each attempt (host, pid, engine id, the GPUs it got, outcome) in ``jobs/<key>/``;
- passes its GPUs on with ``--gpus`` (from the local pool, or the ``CUDA_VISIBLE_DEVICES`` that
  SLURM or Ray set);
- can be stopped cleanly (:meth:`JobRunner.stop`): SIGINT lets the run's in-flight nodes finish,
  a second one aborts them, SIGKILL ends it after the grace time.

The run is a child process that dies with the job (``PR_SET_PDEATHSIG``, set by an exec shim) and ignores SIGUSR2,
the signal SLURM sends before a time limit, which is the job's to handle (checkpoint, requeue).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aira_dsl.sweep.records import append_attempt, read_attempts, write_state

__all__ = ["JobRunner", "JobSpec", "main", "visible_gpus"]

POLL_S = 0.2
LOG_TAIL = 4000
_STOP_REASONS = {"preempted": "preempted", "cancelled": "stopped from aira-dsl sweep (Ctrl-C or SIGTERM)"}
"""Why a run was stopped on request; ``preempted`` is matched as is by the state reconciliation."""


@dataclass
class JobSpec:
    """Everything a job needs, as plain JSON (it travels in a file, a pickle or a Ray task)."""

    sweep_dir: str
    key: str
    plan: str
    task: str
    seed: int
    run_dir: str
    executor: str
    launch: int = 1
    """Which launch of the sweep (launch, resume, resume...) this is: records of older launches
    are not mistaken for this one's."""
    mlebench_data_dir: str | None = None
    hidden_validation: float | None = None
    gpus: list[int] | None = None
    """GPUs assigned by the local pool; None: whatever CUDA_VISIBLE_DEVICES says."""
    python: str = field(default_factory=lambda: sys.executable)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @property
    def job_dir(self) -> Path:
        return Path(self.sweep_dir) / "jobs" / self.key


def visible_gpus() -> list[int] | None:
    """GPU ids in ``CUDA_VISIBLE_DEVICES`` (None when unset or not plain ids)."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not all(p.isdigit() for p in parts):
        return None
    return [int(p) for p in parts]


def _engine_id(executor: str) -> str:
    if executor == "slurm":
        array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
        return f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID", "?")
    return f"{executor}:{os.getpid()}"


_SHIM = """import ctypes, os, signal, sys
try:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the job process
except Exception:
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(137)  # the job died before we could ask to die with it
signal.signal(signal.SIGUSR2, signal.SIG_IGN)  # SLURM's pre-time-limit signal is the job's to handle
os.execv(sys.argv[2], sys.argv[2:])
"""
"""Starts the run: a tiny exec shim rather than ``preexec_fn``, which is unsafe in threaded
processes such as Ray workers."""


class JobRunner:
    """Runs one job once (one attempt); :meth:`stop` may be called from a signal handler."""

    def __init__(self, spec: JobSpec, engine_id: str | None = None):
        self.spec = spec
        self.engine_id = engine_id or _engine_id(spec.executor)
        self.proc: subprocess.Popen[bytes] | None = None
        self.stop_requested: str | None = None
        self.state: dict[str, Any] = {}
        self._ended: dict[str, Any] | None = None

    # ------------------------------------------------------------------ the command

    def command(self) -> list[str]:
        spec = self.spec
        base = [spec.python, "-m", "aira_dsl", "run"]
        if _run_started(Path(spec.run_dir)):
            args = [*base, "--resume", spec.run_dir]
        else:
            args = [*base, spec.plan, "--task", spec.task, "--seed", str(spec.seed), "--out", spec.run_dir]
        args += ["--format", "json"]
        if spec.mlebench_data_dir:
            args += ["--mlebench-data-dir", spec.mlebench_data_dir]
        if spec.hidden_validation is not None:
            args += ["--hidden-validation", str(spec.hidden_validation)]
        gpus = self.gpus()
        if gpus:
            args += ["--gpus", ",".join(map(str, gpus))]
        return args

    def gpus(self) -> list[int] | None:
        return self.spec.gpus if self.spec.gpus is not None else visible_gpus()

    # ------------------------------------------------------------------ one attempt

    def run(self) -> dict[str, Any]:
        """Run the attempt to its end; returns the outcome (also written to the records)."""
        job_dir = self.spec.job_dir
        job_dir.mkdir(parents=True, exist_ok=True)
        with _exclusive(job_dir / ".lock") as mine:
            if not mine:
                return {"outcome": "duplicate", "reason": "another process is already running this job"}
            return self._run_locked(job_dir)

    def _run_locked(self, job_dir: Path) -> dict[str, Any]:
        attempt = 1 + sum(1 for e in read_attempts(job_dir) if e.get("event") == "start")
        env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
        if self.spec.gpus is not None:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, self.spec.gpus))
        command = self.command()
        self.state = {"key": self.spec.key, "state": "running", "launch": self.spec.launch, "attempt": attempt,
                      "engine": self.spec.executor, "engine_id": self.engine_id, "host": socket.gethostname(), "pid": os.getpid(),
                      "run_pid": None, "gpus": self.gpus(), "cuda_visible_devices": env.get("CUDA_VISIBLE_DEVICES"),
                      "resumed": "--resume" in command, "started_at": time.time(), "ended_at": None}
        append_attempt(job_dir, {"event": "start", **self.state})
        write_state(job_dir, self.state)
        log_path = job_dir / "run.log"
        with open(log_path, "ab") as log:
            log.write(f"\n=== attempt {attempt} on {self.state['host']} ({self.engine_id}): "
                      f"{' '.join(command)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen([self.spec.python, "-c", _SHIM, str(os.getpid()), *command],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.state["run_pid"] = self.proc.pid
        write_state(job_dir, self.state)
        self._wait()
        return self.record_end()

    def record_end(self) -> dict[str, Any]:
        """Record how the attempt ended (once; also called by a checkpoint before requeueing)."""
        if self._ended is not None:
            return self._ended
        assert self.proc is not None
        rc = self.proc.poll()
        outcome = self._outcome(rc if rc is not None else -signal.SIGKILL, self.spec.job_dir / "run.log")
        self.state.update(outcome, state=outcome["outcome"], ended_at=time.time())
        append_attempt(self.spec.job_dir, {"event": "end", **self.state})
        write_state(self.spec.job_dir, self.state)
        self._ended = outcome
        return outcome

    def _wait(self) -> None:
        # A poll loop, not Popen.wait(): stop() may run inside a signal handler of this thread,
        # and Popen.wait() holds a lock that stop()'s own polling would then never get.
        assert self.proc is not None
        while True:
            try:
                if self.proc.poll() is not None:
                    return
                time.sleep(POLL_S)
            except KeyboardInterrupt:  # Ray's cancel, or Ctrl-C: stop the run cleanly, then report
                self.stop("cancelled", grace=30.0)

    def _outcome(self, rc: int, log_path: Path) -> dict[str, Any]:
        info = _read_json(Path(self.spec.run_dir) / "run.json")
        status = info.get("status")
        base = {"rc": rc, "run_status": status, "stop_reason": info.get("stop_reason"),
                "steps": info.get("steps")}
        if rc == 0 and status == "finished":
            return {"outcome": "finished", "reason": None, **base}
        if status == "interrupted" or (self.stop_requested and rc in (0, -signal.SIGKILL, 130)):
            why = _STOP_REASONS.get(self.stop_requested or "", "the run was interrupted (SIGINT or SIGTERM)")
            return {"outcome": "interrupted", "reason": why, **base}
        if rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = f"signal {-rc}"
            return {"outcome": "failed", "reason": f"the run was killed by {name}", **base}
        detail = _last_error(log_path)
        reason = f"aira-dsl run exited with {rc}" + (f": {detail}" if detail else "")
        if status == "failed" and info.get("stop_reason"):
            reason = f"the run failed: {info['stop_reason']}"
        return {"outcome": "failed", "reason": reason, **base}

    # ------------------------------------------------------------------ stopping

    def stop(self, why: str, grace: float = 60.0) -> None:
        """Stop the run: SIGINT, SIGINT again after half the grace time, SIGKILL at its end."""
        self.stop_requested = why
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        deadline = time.monotonic() + grace
        second = time.monotonic() + grace / 2
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGINT)
        sent_second = False
        while proc.poll() is None and time.monotonic() < deadline:
            if not sent_second and time.monotonic() >= second:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGINT)
                sent_second = True
            time.sleep(POLL_S)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)


def _run_started(run_dir: Path) -> bool:
    return (run_dir / "run.json").is_file() and (run_dir / "journal.sqlite").is_file()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _last_error(log_path: Path) -> str | None:
    """The last ``error:``-ish line the run printed (what a user needs first)."""
    try:
        with open(log_path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - LOG_TAIL))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        text = line.strip()
        if text.startswith(("error", "aira-dsl:", "Error", "hint")) or ": error" in text:
            return text[:300]
    return lines[-1].strip()[:300] if lines else None


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[bool]:
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main(argv: list[str] | None = None) -> int:
    """``python -m aira_dsl.sweep.job JOB.json`` (the local executor's job process).

    SIGINT and SIGTERM stop the run cleanly (the outcome is still recorded); the exit code is 0
    for a finished run, 1 otherwise.
    """
    args = sys.argv[1:] if argv is None else argv
    spec = JobSpec.from_dict(json.loads(Path(args[0]).read_text(encoding="utf-8")))
    runner = JobRunner(spec)

    def on_signal(signum: int, frame: object) -> None:
        if runner.stop_requested is None:
            runner.stop_requested = "cancelled"
            if runner.proc is not None and runner.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(runner.proc.pid, signal.SIGINT)
        elif runner.proc is not None and runner.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(runner.proc.pid, signal.SIGINT)  # second request: abort in-flight nodes

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    outcome = runner.run()
    return 0 if outcome.get("outcome") == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
