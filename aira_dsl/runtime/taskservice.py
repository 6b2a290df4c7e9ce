"""The task, loaded and graded in a helper process.

Grading needs pandas and scikit-learn (over 120 MB once imported) and holds the GIL while it
parses CSV files. Keeping both out of the orchestrator keeps its memory small and its event
loop responsive with many workers. The helper process loads the task once; the engine asks it
for the task's description, the data preview, and a grade per submission, and gets plain
values back. ``in_process=True`` runs the same functions directly (for tools and tests).

The helper never outlives the orchestrator: it asks the kernel for SIGKILL when its parent dies
(``PR_SET_PDEATHSIG``, when the pool is started from the main thread, the thread the kernel
watches) and a watchdog thread also waits on a pidfd of the orchestrator and exits the moment it
ends, so a SIGKILLed run leaves no grading process (and its hundreds of MB) behind. A helper that
dies while grading (a submission that exhausts its memory) is replaced on the next request, and
the request that killed it fails with :class:`TaskServiceError` (its node is marked buggy).

Submissions reach the helper only as host copies made by the safe reader (see
:mod:`aira_dsl.runtime.outputs`), never as workspace paths.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import select
import signal
import threading
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aira_dsl.runtime.records import Grade, SubmissionCheck

__all__ = ["TaskInfo", "TaskService", "TaskServiceError"]


class TaskServiceError(Exception):
    """The task could not be loaded or graded; message and hint come from the task layer."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class TaskInfo:
    id: str
    name: str
    description: str
    metric: str
    direction: str
    public_dir: Path
    has_hidden_validation: bool
    data_preview: str
    data_notes: str = ""
    benchmark: str | None = None
    has_test_score: bool = True
    notes: tuple[str, ...] = ()


_TASK: Any = None  # the loaded task, in the helper process


PR_SET_PDEATHSIG = 1


def _watch_parent(parent: int) -> None:
    """Exit as soon as ``parent`` (the orchestrator) ends, however it ends."""
    try:
        fd = os.pidfd_open(parent)
    except OSError:
        fd = -1
    if os.getppid() != parent:  # it died before we could watch it
        os._exit(0)
    if fd >= 0:
        select.select([fd], [], [])
        os._exit(0)
    while os.getppid() == parent:  # no pidfd (Linux < 5.3): poll
        threading.Event().wait(0.5)
    os._exit(0)


def _init_helper(parent: int, pdeathsig: bool) -> None:
    """Initializer of the helper process.

    Ctrl-C reaches the whole process group; the engine decides what it means, so the helper
    keeps grading until the engine shuts it down. It must not outlive the engine, though.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if pdeathsig:
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0)
    threading.Thread(target=_watch_parent, args=(parent,), name="aira-parent-watch", daemon=True).start()


def _load(ref: str, mlebench_data_dir: Path | None, cache_dir: Path | None,
          hidden_validation: float | None, options: dict[str, Any] | None = None) -> tuple[str, Any]:
    global _TASK
    from aira_dsl.tasks import TaskError, data_preview, resolve_task

    try:
        _TASK = resolve_task(ref, mlebench_data_dir=mlebench_data_dir, cache_dir=cache_dir,
                             hidden_validation=hidden_validation, options=options)
    except TaskError as exc:
        return "error", (str(exc), getattr(exc, "hint", None))
    task = _TASK
    return "ok", TaskInfo(id=task.id, name=task.name, description=task.description, metric=task.metric,
                          direction=task.direction, public_dir=Path(task.public_dir),
                          has_hidden_validation=task.hidden_validation is not None,
                          data_preview=data_preview(task.public_dir), data_notes=task.data_notes,
                          benchmark=task.benchmark, has_test_score=task.blind is None, notes=tuple(task.notes))


_PREPARED: OrderedDict[tuple[str, int, int, int], Any] = OrderedDict()
"""Valid submissions checked but not graded yet: (path, inode, size, mtime) → what
``prepare_submission`` returned. The engine checks every submission and then grades the valid
ones, so the grade reuses the check's parse and alignment instead of reading the CSV again (about
half of the grading work per node on small tasks). Entries leave when graded; the bound only
matters if grades never come."""

_PREPARED_MAX = 16


def _file_key(path: str) -> tuple[str, int, int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (path, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _own_metric_task() -> bool:
    """Whether the loaded task is graded by aira-dsl's own checks and metrics (not by a blind
    task's or MLE-bench's grader), the only case where a prepared submission can be reused."""
    return _TASK.blind is None and _TASK.mlebench is None


def _check(path: str) -> SubmissionCheck:
    from aira_dsl.tasks import check_submission
    from aira_dsl.tasks.submission import prepare_submission

    exists = Path(path).is_file()
    if not exists:
        return SubmissionCheck.missing()
    key = _file_key(path)
    if _own_metric_task() and key is not None:
        prepared = prepare_submission(_TASK, Path(path))
        check = prepared[0]
        if prepared[1] is not None and _file_key(path) == key:  # unchanged while it was read
            _PREPARED[key] = prepared
            while len(_PREPARED) > _PREPARED_MAX:
                _PREPARED.popitem(last=False)
    else:
        check = check_submission(_TASK, Path(path))
    return SubmissionCheck(True, bool(check.valid), None if check.valid else check.reason)


def _grade(path: str) -> Grade:
    from aira_dsl.tasks import grade_submission

    key = _file_key(path)
    prepared = _PREPARED.pop(key, None) if key is not None else None
    report = grade_submission(_TASK, Path(path), prepared=prepared)
    return Grade(hidden_score=None, test_score=report.score, valid_submission=bool(report.valid_submission),
                 gold=bool(report.gold_medal), silver=bool(report.silver_medal), bronze=bool(report.bronze_medal),
                 above_median=bool(report.above_median), report=report.to_dict())


def _hidden(predictions: str) -> float | None:
    from aira_dsl.tasks import score_hidden_validation

    return score_hidden_validation(_TASK, Path(predictions))


class TaskService:
    """A task loaded in a helper process (or in this one), answering grading requests."""

    def __init__(self, ref: str, *, mlebench_data_dir: Path | None = None, cache_dir: Path | None = None,
                 hidden_validation: float | None = None, in_process: bool = False,
                 options: dict[str, Any] | None = None):
        self._pool: ProcessPoolExecutor | None = None
        self._in_process = in_process
        self._args = (ref, mlebench_data_dir, cache_dir, hidden_validation, options)
        self._lock = threading.Lock()
        if in_process:
            status, value = _load(*self._args)
        else:
            status, value = self._start()
        if status != "ok":
            self.close()
            message, hint = value
            raise TaskServiceError(message, hint)
        self.info: TaskInfo = value

    def _start(self) -> tuple[str, Any]:
        # The helper is forked by the thread that first submits work, here: PDEATHSIG follows
        # that thread, so it is only asked for when this is the main thread (which lives as
        # long as the process); the pidfd watchdog covers every case.
        main = threading.current_thread() is threading.main_thread()
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init_helper, initargs=(os.getpid(), main))
        return self._pool.submit(_load, *self._args).result()

    def _call(self, function: Any, *args: Any) -> Any:
        with self._lock:
            pool = self._pool
        if pool is None:
            raise TaskServiceError("the task service is closed")
        try:
            return pool.submit(function, *args).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:  # the first to notice replaces it
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._start()
            raise TaskServiceError("the grading process died while handling this request (e.g. the "
                                   "submission exhausted its memory); it was restarted") from None

    @property
    def has_hidden_validation(self) -> bool:
        return self.info.has_hidden_validation

    def check(self, submission: Path) -> SubmissionCheck:
        """Is the file (a host copy) a valid submission? Format only; no score."""
        if self._in_process:
            return _check(str(submission))
        return self._call(_check, str(submission))  # type: ignore[no-any-return]

    def grade(self, submission: Path) -> Grade:
        """Score a submission (a host copy) on the private answers (never seen by the agent)."""
        if self._in_process:
            return _grade(str(submission))
        return self._call(_grade, str(submission))  # type: ignore[no-any-return]

    def hidden_score(self, predictions: Path) -> float | None:
        """The task metric on hidden-validation predictions (a host copy of the CSV)."""
        if self._in_process:
            return _hidden(str(predictions))
        return self._call(_hidden, str(predictions))  # type: ignore[no-any-return]

    def pid(self) -> int | None:
        """The helper process's pid (None in process or before it started)."""
        processes = getattr(self._pool, "_processes", None) or {}
        return next(iter(processes), None)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
