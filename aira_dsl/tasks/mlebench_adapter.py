"""MLE-bench competitions as tasks: ``mlebench:<competition-id>`` with ``--mlebench-data-dir``.

Users prepare competitions with the ``mlebench`` tool on their own machines; its layout is
``<data-dir>/<id>/prepared/public/`` (what agents see, including ``description.md`` and
``sample_submission.csv``) and ``<data-dir>/<id>/prepared/private/`` (the answers). This module
reads that layout into a :class:`~aira_dsl.tasks.model.Task` without needing the package, and
grades through the ``mlebench`` package's own grader (``competition.grader``) when it is
installed, so scores and medals are exactly MLE-bench's. Without the package, grading raises a
:class:`TaskError` that says how to install it.

Before MLE-bench's grader runs, the submission gets the checks that hold for every
competition (the file exists and parses as CSV under the size limit, its columns are the
sample's, its ids are the sample's); value checks are left to the competition's grader.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from aira_dsl.tasks.csvread import CsvProblem, read_table
from aira_dsl.tasks.errors import TaskError
from aira_dsl.tasks.grading import GradeReport
from aira_dsl.tasks.medals import load_leaderboard
from aira_dsl.tasks.model import Direction, MlebenchRef, SubmissionFormat, Task, Thresholds
from aira_dsl.tasks.submission import check_against_sample

__all__ = ["INSTALL_HINT", "grade_with_mlebench", "load_mlebench_task", "mlebench_available",
           "score_with_mlebench_grader"]

INSTALL_HINT = ("install MLE-bench's Python package (`pip install -e .` in a clone of "
                "github.com/openai/mle-bench), then rerun")
_DATA_DIR_ENV = "MLEBENCH_DATA_DIR"


def mlebench_available() -> bool:
    """Whether the ``mlebench`` package can be imported here."""
    try:
        import mlebench  # noqa: F401
    except ImportError:
        return False
    return True


def _competition(competition_id: str, data_dir: Path) -> Any:
    """MLE-bench's Competition object, or None when the package is not installed."""
    try:
        from mlebench.registry import registry
    except ImportError:
        return None
    try:
        return registry.set_data_dir(data_dir).get_competition(competition_id)
    except Exception as exc:  # unknown id: mlebench raises whatever its YAML loader raises
        raise TaskError(f"mlebench does not know the competition '{competition_id}': {exc}",
                        hint="check the id against `mlebench prepare --list` or its competitions folder") from exc


def _first_csv(directory: Path, preferred: tuple[str, ...]) -> Path | None:
    for name in preferred:
        if (directory / name).is_file():
            return directory / name
    found = sorted(directory.glob("*.csv"))
    return found[0] if len(found) == 1 else None


def _direction_from_leaderboard(path: Path) -> Direction | None:
    """MLE-bench's rule: lower is better when the top score is below the bottom one."""
    try:
        table = read_table(path, label="leaderboard")
        scores = [float(s) for s in table.frame["score"].str.strip() if s]
    except (CsvProblem, KeyError, ValueError):
        return None
    if len(scores) < 2:
        return None
    return "minimize" if scores[0] < scores[-1] else "maximize"


def load_mlebench_task(competition_id: str, data_dir: Path | None) -> Task:
    """Read an MLE-bench prepared competition (see the module docstring)."""
    if data_dir is None:
        env = os.environ.get(_DATA_DIR_ENV)
        if not env:
            raise TaskError(f"mlebench:{competition_id} needs the directory where mlebench prepared it",
                            hint=f"pass --mlebench-data-dir DIR (or set {_DATA_DIR_ENV}); DIR holds "
                                 f"{competition_id}/prepared/public and .../private")
        data_dir = Path(env)
    data_dir = Path(data_dir).expanduser().resolve()
    prepared = data_dir / competition_id / "prepared"
    public, private = prepared / "public", prepared / "private"
    for directory in (public, private):
        if not directory.is_dir():
            raise TaskError(f"mlebench:{competition_id} is not prepared in {data_dir}: {directory} is missing",
                            hint=f"run `mlebench prepare -c {competition_id} --data-dir {data_dir}` on a "
                                 "machine with Kaggle access and copy the folder here")
    competition = _competition(competition_id, data_dir)
    notes: list[str] = []
    if competition is not None:
        sample, answers = Path(competition.sample_submission), Path(competition.answers)
        grader_name = f"mlebench:{competition.grader.name}"
    else:
        found_sample = _first_csv(public, ("sample_submission.csv",))
        if found_sample is None:
            raise TaskError(f"no sample submission in {public}",
                            hint="MLE-bench's prepared public dir holds sample_submission.csv")
        sample = found_sample
        answers = _first_csv(private, ("test.csv", "answers.csv")) or private / "test.csv"
        grader_name = "mlebench"
        notes.append("the mlebench package is not installed: the task can run but not be graded")
    try:
        columns = read_table(sample, label="sample submission").columns
    except CsvProblem as exc:
        raise TaskError(f"cannot read the sample submission of mlebench:{competition_id}: {exc.reason}") from exc
    if len(columns) < 2:
        raise TaskError(f"the sample submission {sample} has fewer than two columns (id + targets)")
    description_path = public / "description.md"
    if description_path.is_file():
        description = description_path.read_text(encoding="utf-8", errors="replace")
    elif competition is not None:
        description = str(competition.description)
    else:
        description = ""
        notes.append(f"{description_path} is missing: agents get no task description")
    direction, thresholds = _ranking(competition, data_dir / competition_id / "leaderboard.csv", notes)
    return Task(
        id=competition_id, name=str(competition.name) if competition is not None else competition_id,
        description=description, public_dir=public, private_dir=private, answers=answers,
        metric=grader_name, direction=direction,
        submission=SubmissionFormat(sample=sample, id_column=columns[0], target_columns=tuple(columns[1:]),
                                    values="any"),
        thresholds=thresholds, source="mlebench", mlebench=MlebenchRef(competition_id, data_dir),
        notes=tuple(notes))


def _ranking(competition: Any, local_leaderboard: Path, notes: list[str]) -> tuple[Direction, Thresholds | None]:
    if competition is not None:
        from mlebench.data import get_leaderboard

        board = get_leaderboard(competition)
        lower = bool(competition.grader.is_lower_better(board))
        info = competition.grader.rank_score(None, board)
        return ("minimize" if lower else "maximize"), Thresholds(
            gold=info["gold_threshold"], silver=info["silver_threshold"], bronze=info["bronze_threshold"],
            median=info["median_threshold"], kind="kaggle", source="mlebench", num_teams=len(board))
    if local_leaderboard.is_file():
        direction = _direction_from_leaderboard(local_leaderboard) or "maximize"
        return direction, load_leaderboard(local_leaderboard, direction)
    notes.append("direction unknown without mlebench or a leaderboard.csv; assuming higher is better")
    return "maximize", None


def score_with_mlebench_grader(task: Task, submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """Score frames with the competition's own ``grade_fn`` (hidden validation of MLE-bench tasks).

    Raises :class:`TaskError` when ``mlebench`` is missing; re-raises the grader's own exception
    (MLE-bench's signal for an invalid submission) for the caller to report.
    """
    assert task.mlebench is not None
    if not mlebench_available():
        raise TaskError(f"scoring mlebench:{task.mlebench.competition_id} needs the mlebench package, which "
                        "is not installed", hint=INSTALL_HINT)
    competition = _competition(task.mlebench.competition_id, task.mlebench.data_dir)
    return round(float(competition.grader.grade_fn(submission, answers)), 5)


def grade_with_mlebench(task: Task, path: Path) -> GradeReport:
    """Grade with MLE-bench's own grader (``TaskError`` when ``mlebench`` is not installed)."""
    assert task.mlebench is not None
    ref = task.mlebench
    try:
        from mlebench.data import get_leaderboard
        from mlebench.grade_helpers import InvalidSubmissionError
        from mlebench.utils import load_answers, read_csv
    except ImportError as exc:
        raise TaskError(f"grading mlebench:{ref.competition_id} needs the mlebench package, which is not "
                        "installed", hint=INSTALL_HINT) from exc
    competition = _competition(ref.competition_id, ref.data_dir)
    if not Path(competition.answers).is_file():
        raise TaskError(f"the answers of mlebench:{ref.competition_id} are missing ({competition.answers})",
                        hint=f"run `mlebench prepare -c {ref.competition_id}` again")
    exists = path.is_file() and path.suffix.lower() == ".csv"
    reason = check_against_sample(task, path).reason
    score: float | None = None
    if reason is None:
        try:
            raw = competition.grader.grade_fn(read_csv(path), load_answers(competition.answers))
            score = round(float(raw), 5)
        except InvalidSubmissionError as exc:
            reason = f"invalid submission: {exc}"
        except Exception as exc:  # MLE-bench treats any grader failure as an invalid submission
            reason = f"the mlebench grader failed: {type(exc).__name__}: {exc}"
    board = get_leaderboard(competition)
    info = competition.grader.rank_score(score, board)
    return GradeReport(
        competition_id=ref.competition_id, score=score,
        gold_threshold=info["gold_threshold"], silver_threshold=info["silver_threshold"],
        bronze_threshold=info["bronze_threshold"], median_threshold=info["median_threshold"],
        any_medal=bool(info["gold_medal"] or info["silver_medal"] or info["bronze_medal"]),
        gold_medal=bool(info["gold_medal"]), silver_medal=bool(info["silver_medal"]),
        bronze_medal=bool(info["bronze_medal"]), above_median=bool(info["above_median"]),
        submission_exists=exists, valid_submission=score is not None,
        is_lower_better=bool(competition.grader.is_lower_better(board)),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), submission_path=str(path),
        reason=reason, metric=task.metric, threshold_kind="kaggle")
