"""MLE-bench competitions as tasks: ``mlebench:<competition-id>`` with ``--mlebench-data-dir``.

Users prepare competitions with the ``mlebench`` tool on their own machines; its layout is
``<data-dir>/<id>/prepared/public/`` (what agents see, including ``description.md`` and usually
``sample_submission.csv``) and ``<data-dir>/<id>/prepared/private/`` (the answers). This module
reads that layout into a :class:`~aira_dsl.tasks.model.Task` without needing the package, and
grades through the ``mlebench`` package's own grader when it is installed, so scores and medals
are exactly MLE-bench's. Without the package, grading raises a :class:`TaskError` that says how
to install it.

Validity follows MLE-bench's ``validate_submission`` (the file exists, is a CSV, and the
competition's grader accepts it) when the package is importable; the stricter built-in
pre-check (the sample's columns and ids) runs first only when the task option
``submission.strict`` is on. Without the package, the built-in pre-check is all there is.

Leaderboards: mlebench reads ``leaderboard.csv`` from inside its installed package. A clone
without Git LFS holds pointer files there instead of data; this module recognises those and says
so. ``<data-dir>/<id>/leaderboard.csv``, when present, overrides the package's leaderboard.
"""

from __future__ import annotations

import difflib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from aira_dsl.tasks.csvread import CsvProblem, read_table
from aira_dsl.tasks.datanotes import shape_note, submission_shape
from aira_dsl.tasks.errors import TaskError
from aira_dsl.tasks.grading import GradeReport
from aira_dsl.tasks.links import public_link_problems, summarize
from aira_dsl.tasks.medals import load_leaderboard
from aira_dsl.tasks.model import Direction, MlebenchRef, SubmissionFormat, Task, Thresholds
from aira_dsl.tasks.submission import SubmissionCheck, check_against_sample, submission_limit

__all__ = ["INSTALL_HINT", "LFS_POINTER_PREFIX", "check_with_mlebench", "competition_ids", "grade_with_mlebench",
           "is_lfs_pointer", "load_mlebench_task", "mlebench_available", "registry_competition",
           "registry_leaderboard", "score_with_mlebench_grader"]

INSTALL_HINT = ("install MLE-bench's Python package (`pip install -e .` in a clone of "
                "github.com/openai/mle-bench), then rerun")
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/"
"""How a Git LFS pointer file starts (what a clone without ``git lfs pull`` holds)."""
_DATA_DIR_ENV = "MLEBENCH_DATA_DIR"
_LEADERBOARD = "leaderboard.csv"


def mlebench_available() -> bool:
    """Whether the ``mlebench`` package can be imported here."""
    try:
        import mlebench  # noqa: F401
    except ImportError:
        return False
    return True


def is_lfs_pointer(path: Path) -> bool:
    """Whether ``path`` is a Git LFS pointer rather than the file it stands for."""
    try:
        with path.open("rb") as handle:
            return handle.read(len(LFS_POINTER_PREFIX)) == LFS_POINTER_PREFIX
    except OSError:
        return False


def competition_ids() -> list[str] | None:
    """Every competition id the installed ``mlebench`` registry knows; None without the package."""
    try:
        from mlebench.registry import registry
    except ImportError:
        return None
    return list(registry.list_competition_ids())


def registry_competition(competition_id: str, data_dir: Path | None) -> Any:
    """MLE-bench's Competition object; None when the package is not installed.

    An id the registry does not know is a :class:`TaskError` with the closest known ids.
    """
    try:
        from mlebench.registry import registry
    except ImportError:
        return None
    known = list(registry.list_competition_ids())
    if competition_id not in known:
        close = difflib.get_close_matches(competition_id, known, n=3, cutoff=0.5)
        raise TaskError(f"MLE-bench does not know the competition '{competition_id}'",
                        hint=(f"did you mean {', '.join(repr(c) for c in close)}? " if close else "")
                        + f"the installed mlebench knows {len(known)} competitions (`mlebench prepare --help` lists them)")
    chosen = registry.set_data_dir(data_dir) if data_dir is not None else registry
    try:
        return chosen.get_competition(competition_id)
    except Exception as exc:  # a broken config.yaml in the installed package
        raise TaskError(f"mlebench cannot load the competition '{competition_id}': {type(exc).__name__}: {exc}",
                        hint="reinstall the mlebench package") from exc


def registry_leaderboard(competition: Any, override: Path | None) -> tuple[pd.DataFrame, Path]:
    """The leaderboard MLE-bench ranks against: ``override`` when it is a file, else the package's.

    Raises :class:`TaskError` (never a pandas error) for a Git LFS pointer, a missing file or a
    file without a ``score`` column.
    """
    path = override if override is not None and override.is_file() else Path(competition.leaderboard)
    hint = (f"put the competition's leaderboard (Kaggle's CSV: ...,score) at {override}, or install mlebench "
            "from a clone with Git LFS (`git lfs pull`)" if override is not None else
            "install mlebench from a clone with Git LFS (`git lfs pull`)")
    if not path.is_file():
        raise TaskError(f"the leaderboard of {competition.id} is missing ({path})", hint=hint)
    if is_lfs_pointer(path):
        raise TaskError(f"the leaderboard of {competition.id} in the installed mlebench package is a Git LFS "
                        f"pointer, not data ({path})", hint=hint)
    try:
        board = pd.read_csv(path)
    except Exception as exc:  # pandas raises parser, encoding and empty-data errors
        raise TaskError(f"cannot read the leaderboard {path}: {type(exc).__name__}: {exc}", hint=hint) from exc
    if "score" not in board.columns or len(board) == 0:
        raise TaskError(f"the leaderboard {path} has no 'score' column or no rows", hint=hint)
    return board, path


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


def _is_inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def load_mlebench_task(competition_id: str, data_dir: Path | None, *, strict: bool = False) -> Task:
    """Read an MLE-bench prepared competition (see the module docstring)."""
    if data_dir is None:
        env = os.environ.get(_DATA_DIR_ENV)
        if not env:
            raise TaskError(f"mlebench:{competition_id} needs the directory where mlebench prepared it",
                            hint=f"pass --mlebench-data-dir DIR (or set {_DATA_DIR_ENV}); DIR holds "
                                 f"{competition_id}/prepared/public and .../private")
        data_dir = Path(env)
    data_dir = Path(data_dir).expanduser().resolve()
    competition = registry_competition(competition_id, data_dir)
    prepared = data_dir / competition_id / "prepared"
    public, private = prepared / "public", prepared / "private"
    for directory in (public, private):
        if not directory.is_dir():
            raise TaskError(f"mlebench:{competition_id} is not prepared in {data_dir}: {directory} is missing",
                            hint=f"run `mlebench prepare -c {competition_id} --data-dir {data_dir}` on a "
                                 "machine with Kaggle access and copy the folder here")
    leaks = public_link_problems(public, private)
    if leaks:  # the agent would read the answers through the public folder
        raise TaskError(f"the public folder of mlebench:{competition_id} links to private files: {summarize(leaks)}",
                        hint=f"re-prepare the competition (`mlebench prepare -c {competition_id}`); public files "
                             "must be copies, never links to the private ones")
    notes: list[str] = []
    if competition is not None:
        sample, answers = Path(competition.sample_submission), Path(competition.answers)
        grader_name = f"mlebench:{competition.grader.name}"
        if not sample.is_file():
            raise TaskError(f"the sample submission of mlebench:{competition_id} is missing ({sample})",
                            hint=f"run `mlebench prepare -c {competition_id} --data-dir {data_dir}` again")
    else:
        found_sample = _first_csv(public, ("sample_submission.csv",)) or _first_csv(private, ("sample_submission.csv",))
        if found_sample is None:
            raise TaskError(f"no sample submission in {public} (nor in {private})",
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
    data_notes = ""
    if not _is_inside(sample, public):
        # MLE-bench issue #47: some competitions keep the sample among the private files. Tell the
        # agent its shape (columns, row count) and nothing else of it.
        data_notes = shape_note(submission_shape(sample))
    description_path = public / "description.md"
    if description_path.is_file():
        description = description_path.read_text(encoding="utf-8", errors="replace")
    elif competition is not None:
        description = str(competition.description)
    else:
        description = ""
        notes.append(f"{description_path} is missing: agents get no task description")
    direction, thresholds = _ranking(competition, data_dir / competition_id / _LEADERBOARD, notes)
    return Task(
        id=competition_id, name=str(competition.name) if competition is not None else competition_id,
        description=description, public_dir=public, private_dir=private, answers=answers,
        metric=grader_name, direction=direction,
        submission=SubmissionFormat(sample=sample, id_column=columns[0], target_columns=tuple(columns[1:]),
                                    values="any", strict=strict),
        thresholds=thresholds, source="mlebench", mlebench=MlebenchRef(competition_id, data_dir),
        notes=tuple(notes), data_notes=data_notes, benchmark="mlebench")


def _ranking(competition: Any, local_leaderboard: Path, notes: list[str]) -> tuple[Direction, Thresholds | None]:
    if competition is not None:
        board, path = registry_leaderboard(competition, local_leaderboard)
        if path == local_leaderboard:
            notes.append(f"leaderboard from {local_leaderboard} (overrides the mlebench package's)")
        lower = bool(competition.grader.is_lower_better(board))
        info = competition.grader.rank_score(None, board)
        return ("minimize" if lower else "maximize"), Thresholds(
            gold=info["gold_threshold"], silver=info["silver_threshold"], bronze=info["bronze_threshold"],
            median=info["median_threshold"], kind="kaggle", source=str(path), num_teams=len(board))
    if local_leaderboard.is_file() and not is_lfs_pointer(local_leaderboard):
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
    competition = registry_competition(task.mlebench.competition_id, task.mlebench.data_dir)
    return round(float(competition.grader.grade_fn(submission, answers)), 5)


def _size_guard(task: Task, path: Path) -> SubmissionCheck | None:
    """Refuse a file over the size limit before MLE-bench reads it whole (a guard, not a format rule)."""
    try:
        size = path.stat().st_size
    except OSError:
        return None
    limit = submission_limit(task)
    if size > limit:
        return SubmissionCheck(False, f"submission is {size} bytes, over the limit of {limit} bytes "
                                      "(the larger of 16 MiB and 32 times the sample submission's size)",
                               "too-large")
    return None


def check_with_mlebench(task: Task, path: Path, competition: Any = None) -> SubmissionCheck:
    """Validity as MLE-bench's ``validate_submission`` decides it (plus the strict pre-check if asked).

    Without the mlebench package this is the built-in pre-check alone.
    """
    assert task.mlebench is not None
    if task.submission.strict or not mlebench_available():
        check = check_against_sample(task, path)
        if not check.valid or not mlebench_available():
            return check
    guard = _size_guard(task, path)
    if guard is not None:
        return guard
    from mlebench.grade import validate_submission

    competition = competition or registry_competition(task.mlebench.competition_id, task.mlebench.data_dir)
    try:
        valid, message = validate_submission(path, competition)
    except Exception as exc:  # the answers are missing or unreadable: a task problem, not the submission's
        raise TaskError(f"MLE-bench cannot validate submissions of {task.id}: {type(exc).__name__}: {exc}",
                        hint=f"run `mlebench prepare -c {task.id}` again") from exc
    return SubmissionCheck(bool(valid), None if valid else str(message), None if valid else "mlebench-invalid")


def grade_with_mlebench(task: Task, path: Path) -> GradeReport:
    """Grade with MLE-bench's own grader (``TaskError`` when ``mlebench`` is not installed)."""
    assert task.mlebench is not None
    ref = task.mlebench
    try:
        from mlebench.utils import load_answers, read_csv
    except ImportError as exc:
        raise TaskError(f"grading mlebench:{ref.competition_id} needs the mlebench package, which is not "
                        "installed", hint=INSTALL_HINT) from exc
    competition = registry_competition(ref.competition_id, ref.data_dir)
    if not Path(competition.answers).is_file():
        raise TaskError(f"the answers of mlebench:{ref.competition_id} are missing ({competition.answers})",
                        hint=f"run `mlebench prepare -c {ref.competition_id}` again")
    exists = path.is_file() and path.suffix.lower() == ".csv"
    reason = check_with_mlebench(task, path, competition).reason
    score: float | None = None
    if reason is None:
        try:
            raw = competition.grader.grade_fn(read_csv(path), load_answers(competition.answers))
            score = round(float(raw), 5)
        except Exception as exc:  # MLE-bench treats any grader failure as an invalid submission
            reason = f"the mlebench grader failed: {type(exc).__name__}: {exc}"
    board, _ = registry_leaderboard(competition, ref.data_dir / ref.competition_id / _LEADERBOARD)
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
