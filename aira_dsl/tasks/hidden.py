"""Hidden validation: a slice of the labelled training rows that only the framework can score.

Agents report their own validation numbers, and those numbers can be wrong, leaky or chosen
after the fact. A hidden validation split (AIRA₂'s "hidden consistent evaluation") holds back
``fraction`` of the training rows; the solution sees only the rest, plus the held-back rows'
features without labels, and must predict them too. The host scores those predictions with the
task's metric, so every node of a search is compared on the same, unseen rows.

Files (the runtime and prompts rely on these names):

* ``./data/hidden_val_features.csv`` (public): the held-back rows, every column except targets;
* ``./data/<train_file>`` (public): the training file without the held-back rows;
* ``./submission/hidden_val_predictions.csv`` (written by the solution): id column + target
  columns, one row per held-back id, checked exactly like a submission;
* ``hidden_val_answers.csv``: ids and targets of the held-back rows, kept outside every public
  directory (under the cache dir), read only by :func:`score_hidden_validation`.

The derived public directory lives under ``<cache_dir>/hidden/`` and is keyed by the source
file's path, size and mtime and the split settings, so it is built once and rebuilt when the
data changes. Other public files are hard-linked (copied across file systems).
"""

from __future__ import annotations

import csv
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from aira_dsl.tasks.errors import TaskError
from aira_dsl.tasks.grading import InvalidByGrader, score_aligned
from aira_dsl.tasks.model import (
    HIDDEN_ANSWERS_FILE,
    HIDDEN_FEATURES_FILE,
    HIDDEN_PREDICTIONS_FILE,
    HiddenValidation,
    HiddenValidationConfig,
    Task,
)
from aira_dsl.tasks.submission import SubmissionCheck, prepare_submission

__all__ = [
    "HIDDEN_FORMAT_VERSION",
    "apply_hidden_validation",
    "check_hidden_validation",
    "hidden_section",
    "score_hidden_validation",
]

HIDDEN_FORMAT_VERSION = 1
_DONE = ".complete"


def _rows(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from csv.reader(handle)


def _split_key(task: Task, config: HiddenValidationConfig, train: Path) -> str:
    stat = train.stat()
    material = json.dumps([HIDDEN_FORMAT_VERSION, str(train.resolve()), stat.st_size, stat.st_mtime_ns,
                           config.fraction, config.seed, config.train_file, task.submission.id_column,
                           list(task.submission.target_columns)])
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _link_tree(source: Path, dest: Path, skip: set[Path]) -> None:
    """Mirror ``source`` into ``dest`` with hard links (copies where links are impossible)."""
    for root, dirs, files in os.walk(source):
        dirs.sort()
        rel = Path(root).relative_to(source)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for name in sorted(files):
            src = Path(root) / name
            if src.resolve() in skip:
                continue
            target = dest / rel / name
            try:
                os.link(src, target)
            except OSError:
                shutil.copy2(src, target)


def _write_split(task: Task, config: HiddenValidationConfig, train: Path, out: Path) -> int:
    fmt = task.submission
    header = next(_rows(train), None)
    if header is None:
        raise TaskError(f"the training file {train} is empty; cannot hold rows back")
    names = [h.strip() for h in header]
    try:
        id_index = names.index(fmt.id_column)
        target_index = [names.index(t) for t in fmt.target_columns]
    except ValueError:
        raise TaskError(f"{train} must hold the id column '{fmt.id_column}' and the target columns "
                        f"{', '.join(fmt.target_columns)} to hold rows back") from None
    seen: set[str] = set()
    total = 0
    for number, row in enumerate(_rows(train)):
        if number == 0 or not row:
            continue
        key = row[id_index].strip() if id_index < len(row) else ""
        if key in seen:
            # A repeated id could put one copy in the public rows and one in the hidden ones.
            raise TaskError(f"{train} repeats the id {key!r} (line {number + 1}); hidden validation needs "
                            "unique ids")
        seen.add(key)
        total += 1
    count = round(config.fraction * total)
    if count < 1 or count >= total:
        raise TaskError(f"hidden validation fraction {config.fraction} of {total} rows holds back {count}; "
                        "at least one row must be held back and one kept")
    rng = np.random.default_rng(config.seed)
    hidden = np.zeros(total, dtype=bool)
    hidden[rng.choice(total, size=count, replace=False)] = True
    feature_index = [i for i in range(len(names)) if i not in target_index]
    public, private = out / "public", out / "hidden"
    private.mkdir(parents=True, exist_ok=True)
    kept_path = public / config.train_file
    kept_path.parent.mkdir(parents=True, exist_ok=True)
    with kept_path.open("w", encoding="utf-8", newline="") as kept_file, \
            (public / HIDDEN_FEATURES_FILE).open("w", encoding="utf-8", newline="") as features_file, \
            (private / HIDDEN_ANSWERS_FILE).open("w", encoding="utf-8", newline="") as answers_file:
        kept = csv.writer(kept_file, lineterminator="\n")
        features = csv.writer(features_file, lineterminator="\n")
        answers = csv.writer(answers_file, lineterminator="\n")
        kept.writerow(names)
        features.writerow([names[i] for i in feature_index])
        answers.writerow([fmt.id_column, *fmt.target_columns])
        rows = _rows(train)
        next(rows)
        index = 0  # among non-blank data rows, as counted above
        for row in rows:
            if not row:
                continue
            held_back = hidden[index]
            index += 1
            if not held_back:
                kept.writerow(row)
                continue
            if len(row) != len(names):
                raise TaskError(f"{train}: the row with id {row[id_index]!r} has {len(row)} fields, not "
                                f"{len(names)}")
            features.writerow([row[i] for i in feature_index])
            answers.writerow([row[id_index].strip(), *(row[i].strip() for i in target_index)])
    return count


def _build_split(task: Task, config: HiddenValidationConfig, train: Path, dest: Path) -> None:
    """Write the split into a staging dir and move it into place only when complete."""
    source = task.public_dir
    staging = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        public = staging / "public"
        public.mkdir(parents=True)
        count = _write_split(task, config, train, staging)
        _link_tree(source, public, {train.resolve(), (source / HIDDEN_FEATURES_FILE).resolve()})
        (staging / _DONE).write_text(json.dumps({"rows": count}) + "\n", encoding="utf-8")
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def hidden_section(task: Task, rows: int, train_file: str) -> str:
    """The paragraph appended to the task description so solutions know what to write."""
    columns = ", ".join([task.submission.id_column, *task.submission.target_columns])
    return (
        "\n\n## Hidden validation\n\n"
        f"{rows} labelled rows were held back from `{train_file}` as a validation set that only the "
        f"framework can score. Their features are in `./data/{HIDDEN_FEATURES_FILE}` (the same "
        "columns as the training file, without the targets). In addition to "
        "`./submission/submission.csv`, write your predictions for these rows to "
        f"`./submission/{HIDDEN_PREDICTIONS_FILE}` with the columns `{columns}` (one row per "
        "held-back id, formatted like the submission). They are scored with the task's metric.\n")


def apply_hidden_validation(task: Task, config: HiddenValidationConfig | None = None, *,
                            cache_dir: Path) -> Task:
    """``task`` with a hidden validation split carved out (``config`` or the task's own), or as is."""
    config = config or task.hidden_validation_config
    if config is None:
        return task
    if task.hidden_validation is not None:
        raise TaskError(f"task {task.id} already has a hidden validation split")
    if task.blind is not None:
        raise TaskError(f"hidden validation is not available for {task.source}: tasks (there is no grader "
                        "to score the held-back rows with)", hint="run without --hidden-validation")
    if task.mlebench is not None:
        from aira_dsl.tasks.mlebench_adapter import INSTALL_HINT, mlebench_available

        if not mlebench_available():
            raise TaskError(f"hidden validation of mlebench:{task.id} is scored by the mlebench package, "
                            "which is not installed", hint=INSTALL_HINT)
    source = task.public_dir
    train = source / config.train_file
    if not train.is_file():
        raise TaskError(f"hidden validation needs the labelled file {config.train_file} in {source}",
                        hint="set hidden_validation.train_file to the training CSV")
    dest = Path(cache_dir) / "hidden" / f"{task.id}-{_split_key(task, config, train)}"
    if not (dest / _DONE).is_file():
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with (dest.parent / f".{dest.name}.lock").open("a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; others reuse its result
                if not (dest / _DONE).is_file():
                    _build_split(task, config, train, dest)
        except OSError as exc:
            raise TaskError(f"cannot write the hidden validation split under {dest.parent}: {exc}",
                            hint="pass a writable --cache-dir or set AIRA_DSL_CACHE") from exc
    count = int(json.loads((dest / _DONE).read_text(encoding="utf-8"))["rows"])
    hidden = HiddenValidation(config=config, features=dest / "public" / HIDDEN_FEATURES_FILE,
                              answers=dest / "hidden" / HIDDEN_ANSWERS_FILE, num_rows=count,
                              source_public_dir=source)
    return dataclasses.replace(task, public_dir=dest / "public", hidden_validation=hidden,
                               hidden_validation_config=config,
                               description=task.description + hidden_section(task, count, config.train_file))


def _check_copy(task: Task, hv: HiddenValidation, path: Path) -> tuple[SubmissionCheck, float | None]:
    check, aligned = prepare_submission(task, path, answers_path=hv.answers,
                                        label="hidden validation predictions")
    if aligned is None:
        return check, None
    try:
        return check, score_aligned(task, aligned)
    except InvalidByGrader as exc:
        return SubmissionCheck(False, str(exc), "grader-rejected", check.notes), None


def check_hidden_validation(task: Task, location: Path) -> tuple[SubmissionCheck, float | None]:
    """Check and score a solution's hidden-validation predictions; (verdict, score or None).

    ``location`` is the predictions CSV (the runtime passes the host copy it staged) or a
    solution's ``submission/`` folder. Either way the file is first read back through the safe
    reader (:func:`aira_dsl.sandbox.readback.read_back`: no link followed, regular single-link
    files only, size-capped) into a private temporary copy, and only that copy is parsed.
    """
    import tempfile

    from aira_dsl.sandbox.readback import MAX_SUBMISSION_BYTES, Refusal, read_back

    hv = task.hidden_validation
    if hv is None:
        return SubmissionCheck(False, f"task {task.id} has no hidden validation split", "no-hidden-split"), None
    location = Path(location)
    folder, name = (location.parent, location.name) if location.suffix == ".csv" and not location.is_dir() \
        else (location, HIDDEN_PREDICTIONS_FILE)
    with tempfile.TemporaryDirectory(prefix="aira-hidden-") as private:
        copy = Path(private) / HIDDEN_PREDICTIONS_FILE
        result = read_back(folder, name, max_bytes=MAX_SUBMISSION_BYTES, dest=copy)
        if isinstance(result, Refusal):
            code = "missing-file" if not result.exists else "refused"
            return SubmissionCheck(False, f"hidden validation predictions: {result.reason}", code), None
        return _check_copy(task, hv, copy)


def score_hidden_validation(task: Task, location: Path) -> float | None:
    """The task metric on the hidden-validation predictions; None if absent, refused or invalid.

    ``location`` is a host copy of the CSV, or the solution's ``submission/`` directory (read
    back safely, see :func:`check_hidden_validation`).
    """
    return check_hidden_validation(task, location)[1]
