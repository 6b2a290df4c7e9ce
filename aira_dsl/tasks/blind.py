"""``mlebench-public:DIR``: an MLE-bench competition seen from inside MLE-bench's agent harness.

In the harness's container the agent gets the competition's public folder (``/home/data``, with
``description.md``) and a validation endpoint, never the answers. So this task form has no test
score: the description comes from ``DIR/description.md``; the metric direction and the medal
thresholds come from the installed ``mlebench`` registry when it knows the competition (its id
from the ``competition_id`` option or ``$COMPETITION_ID``, as the harness sets it) and its
leaderboard is real data, else from the ``direction`` option, which is then required; validity
is the harness's answer (its validation endpoint: the ``validate_url`` option, else
``$MLEBENCH_VALIDATE_URL``, else the URL in ``validate_submission.sh`` next to ``DIR``) and,
without an endpoint, the built-in format checks against ``DIR/sample_submission.csv``.
MLE-bench grades the final submission itself after the run.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aira_dsl.tasks.csvread import CsvProblem, read_table
from aira_dsl.tasks.endpoint import EndpointError, url_from_script, validate_remotely
from aira_dsl.tasks.errors import TaskError
from aira_dsl.tasks.grading import GradeReport
from aira_dsl.tasks.model import BlindRef, Direction, SubmissionFormat, Task, Thresholds
from aira_dsl.tasks.submission import SubmissionCheck, check_against_sample, submission_limit

__all__ = ["COMPETITION_ENV", "NO_TEST_SCORE", "VALIDATE_SCRIPT_ENV", "VALIDATE_URL_ENV", "grade_blind",
           "load_blind_task"]

COMPETITION_ENV = "COMPETITION_ID"
"""Set by MLE-bench's runner in every competition container."""
VALIDATE_URL_ENV = "MLEBENCH_VALIDATE_URL"
VALIDATE_SCRIPT_ENV = "MLEBENCH_VALIDATE_SCRIPT"
NO_TEST_SCORE = ("no hidden test score: mlebench-public tasks have no answers here; MLE-bench grades the "
                 "final submission after the run")
_NO_PRIVATE = Path("/nonexistent/mlebench-public/private")


def _validate_url(public: Path, option: str | None) -> tuple[str | None, str]:
    if option is not None:
        return (option or None), ("the validate_url option" if option else "switched off by the validate_url option")
    env = os.environ.get(VALIDATE_URL_ENV)
    if env:
        return env, f"${VALIDATE_URL_ENV}"
    script = Path(os.environ.get(VALIDATE_SCRIPT_ENV) or public.parent / "validate_submission.sh")
    if script.is_file():
        url = url_from_script(script)
        if url:
            return url, str(script)
        return None, f"{script} names no SERVER_URL"
    return None, f"no validation endpoint ({script} does not exist, ${VALIDATE_URL_ENV} is not set)"


def _from_registry(competition_id: str | None, notes: list[str]) -> tuple[Any, Direction | None, Thresholds | None]:
    """(competition, direction, thresholds) from the installed mlebench, as far as it can tell."""
    from aira_dsl.tasks.mlebench_adapter import competition_ids, registry_competition, registry_leaderboard

    if competition_id is None:
        notes.append(f"no competition id (--competition-id or ${COMPETITION_ENV}): the mlebench registry is not "
                     "consulted")
        return None, None, None
    if competition_ids() is None:
        notes.append("the mlebench package is not installed: direction and thresholds are not known from it")
        return None, None, None
    competition = registry_competition(competition_id, None)
    try:
        board, path = registry_leaderboard(competition, None)
    except TaskError as exc:
        notes.append(f"{exc.message}: no thresholds")
        return competition, None, None
    lower = bool(competition.grader.is_lower_better(board))
    info = competition.grader.rank_score(None, board)
    thresholds = Thresholds(gold=info["gold_threshold"], silver=info["silver_threshold"],
                            bronze=info["bronze_threshold"], median=info["median_threshold"], kind="kaggle",
                            source=str(path), num_teams=len(board))
    return competition, ("minimize" if lower else "maximize"), thresholds


def load_blind_task(directory: str, *, competition_id: str | None = None, direction: str | None = None,
                    validate_url: str | None = None, strict: bool = False) -> Task:
    """The task ``mlebench-public:DIR`` names (see the module docstring)."""
    if not directory:
        raise TaskError("mlebench-public: needs the competition's public data folder, e.g. "
                        "mlebench-public:/home/data")
    public = Path(directory).expanduser()
    if not public.is_dir():
        raise TaskError(f"mlebench-public:{directory}: {public} is not a folder",
                        hint="give the folder holding the competition's public files and description.md "
                             "(/home/data in MLE-bench's container)")
    public = public.resolve()
    description_path = public / "description.md"
    if not description_path.is_file():
        raise TaskError(f"mlebench-public:{directory} has no description.md ({description_path} is missing)",
                        hint="MLE-bench puts the competition's description.md into the public data folder; "
                             "point mlebench-public: at that folder")
    competition_id = competition_id or os.environ.get(COMPETITION_ENV) or None
    notes = [NO_TEST_SCORE]
    competition, known_direction, thresholds = _from_registry(competition_id, notes)
    if direction is not None and direction not in ("maximize", "minimize"):
        raise TaskError(f"direction must be maximize or minimize, not {direction!r}")
    if direction is not None and known_direction is not None and direction != known_direction:
        notes.append(f"the direction given ({direction}) overrides the leaderboard's ({known_direction})")
    chosen: Direction | None = known_direction
    if direction == "maximize":
        chosen = "maximize"
    elif direction == "minimize":
        chosen = "minimize"
    if chosen is None:
        raise TaskError(f"mlebench-public:{directory} needs the metric's direction, which cannot be read from "
                        "an MLE-bench leaderboard here",
                        hint="pass --direction maximize|minimize (what the competition's metric rewards); "
                             f"why it is unknown: {notes[-1]}")
    sample = public / "sample_submission.csv"
    data_notes = ""
    if sample.is_file():
        try:
            columns = read_table(sample, label="sample submission").columns
        except CsvProblem as exc:
            raise TaskError(f"cannot read {sample}: {exc.reason}") from exc
        if len(columns) < 2:
            raise TaskError(f"the sample submission {sample} has fewer than two columns (id + targets)")
        fmt = SubmissionFormat(sample=sample, id_column=columns[0], target_columns=tuple(columns[1:]),
                               values="any", strict=strict)
    else:
        fmt = SubmissionFormat(sample=sample, id_column="", target_columns=(), values="any", strict=strict)
        data_notes = ("- There is no sample submission among the data files: follow the submission format the "
                      "competition description gives.")
        notes.append("no sample_submission.csv: format checks only parse the CSV")
    url, source = _validate_url(public, validate_url)
    if url is None:
        notes.append(f"validity from the built-in format checks: {source}")
    task_id = competition_id or public.name
    return Task(
        id=task_id, name=str(competition.name) if competition is not None else task_id,
        description=description_path.read_text(encoding="utf-8", errors="replace"), public_dir=public,
        private_dir=_NO_PRIVATE, answers=_NO_PRIVATE / "answers.csv",
        metric=f"mlebench:{competition.grader.name}" if competition is not None else "competition metric",
        direction=chosen, submission=fmt, thresholds=thresholds, source="mlebench-public",
        notes=tuple(notes), data_notes=data_notes, benchmark="mlebench",
        blind=BlindRef(competition_id=competition_id, validate_url=url, validate_source=source))


def _format_check(task: Task, path: Path) -> SubmissionCheck:
    if task.submission.sample.is_file():
        return check_against_sample(task, path)
    try:
        read_table(path, label="submission", max_bytes=submission_limit(task))
    except CsvProblem as exc:
        return SubmissionCheck(False, exc.reason, exc.code)
    return SubmissionCheck(True)


def check_blind(task: Task, path: Path) -> tuple[SubmissionCheck, list[str]]:
    """The verdict on a submission and notes on how it was reached."""
    assert task.blind is not None
    notes: list[str] = []
    if not path.is_file():
        return SubmissionCheck(False, f"no submission file at {path.name}", "missing-file"), notes
    if task.submission.strict or task.blind.validate_url is None:
        check = _format_check(task, path)
        if not check.valid or task.blind.validate_url is None:
            return check, notes
    try:
        answer = validate_remotely(task.blind.validate_url, path, max_upload=submission_limit(task))
    except EndpointError as exc:
        notes.append(f"{exc}; the built-in format checks decided instead")
        return _format_check(task, path), notes
    notes.append(f"validity from the validation endpoint {task.blind.validate_url}")
    return SubmissionCheck(answer.valid, None if answer.valid else answer.message,
                           None if answer.valid else "endpoint-invalid"), notes


def grade_blind(task: Task, path: Path) -> GradeReport:
    """A report with the harness's verdict and no score (there are no answers to score against)."""
    check, notes = check_blind(task, path)
    t = task.thresholds
    return GradeReport(
        competition_id=task.id, score=None,
        gold_threshold=t.gold if t else None, silver_threshold=t.silver if t else None,
        bronze_threshold=t.bronze if t else None, median_threshold=t.median if t else None,
        any_medal=False, gold_medal=False, silver_medal=False, bronze_medal=False, above_median=False,
        submission_exists=path.is_file(), valid_submission=check.valid, is_lower_better=task.is_lower_better,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), submission_path=str(path),
        reason=check.reason, metric=task.metric, threshold_kind=t.kind if t else None,
        notes=(NO_TEST_SCORE, *check.notes, *notes))
