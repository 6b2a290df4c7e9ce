"""Checking a submission before it is scored: an invalid submission is never scored.

The checks run in a fixed order and stop at the first failure, whose reason names the column,
the line and the offending value: the file exists and parses (see :mod:`csvread`); its columns
are the sample's; its ids are exactly the answers' ids (no missing, extra or duplicate rows);
every target value is present, finite and of the metric's kind (probabilities in [0, 1],
whole numbers for kappa, non-negative for RMSLE...), and for class labels one of the answers'
classes (a ``nan`` or a made-up label is no prediction, and scoring it as a wrong one would let
a submission that predicts nothing pass as valid).

A valid submission comes back aligned with the answers (same ids, same order, converted types),
ready for a metric: :func:`prepare_submission` returns both.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from aira_dsl.tasks.csvread import CsvProblem, Table, format_bytes, read_table
from aira_dsl.tasks.errors import TaskError
from aira_dsl.tasks.metrics import ValueKind, get_metric
from aira_dsl.tasks.model import Task

__all__ = [
    "DEFAULT_MIN_LIMIT",
    "SAMPLE_SIZE_FACTOR",
    "Aligned",
    "SubmissionCheck",
    "check_against_sample",
    "check_submission",
    "check_table",
    "load_answers",
    "prepare_submission",
    "submission_limit",
    "value_kind",
]

DEFAULT_MIN_LIMIT = 16 * 1024 * 1024
"""A submission may always be this big (16 MiB) unless ``submission.max_bytes`` says otherwise."""
SAMPLE_SIZE_FACTOR = 32
"""...or this many times the sample submission's size, whichever is larger."""

_SHOWN = 3  # offending ids/values quoted in a message
_NAN_WORDS = frozenset({"nan", "-nan", "+nan"})


@dataclass(frozen=True)
class SubmissionCheck:
    """The verdict on a submission: ``valid``, and if not, why (``reason``, ``code``).

    ``notes`` lists harmless oddities that were tolerated (a byte-order mark, spaces around
    names): worth telling the author, never a reason to reject.
    """

    valid: bool
    reason: str | None = None
    code: str | None = None
    notes: tuple[str, ...] = ()


@dataclass
class Aligned:
    """A valid submission lined up with the answers: same ids in the same order."""

    y_true: pd.DataFrame
    y_pred: pd.DataFrame
    submission: pd.DataFrame
    """The whole submission with converted target columns (what ``module:function`` graders get)."""
    answers: pd.DataFrame
    notes: list[str] = field(default_factory=list)


class _Invalid(Exception):
    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(reason)


def submission_limit(task: Task) -> int:
    """The largest submission (bytes) this task reads; bigger files are rejected unread."""
    if task.submission.max_bytes is not None:
        return task.submission.max_bytes
    try:
        sample_size = task.submission.sample.stat().st_size
    except OSError:
        sample_size = 0
    return max(DEFAULT_MIN_LIMIT, SAMPLE_SIZE_FACTOR * sample_size)


def value_kind(task: Task) -> ValueKind | None:
    """What the target values must be: from ``submission.values`` or the metric; None = anything."""
    declared = task.submission.values
    if declared is not None:
        return None if declared == "any" else declared  # type: ignore[return-value]
    metric = get_metric(task.metric) if task.grader is None else None
    return metric.values if metric is not None else None


@functools.lru_cache(maxsize=8)
def _answers_cached(path: str, _mtime_ns: int, _size: int) -> Table:
    return read_table(Path(path), label="answers")


def load_answers(path: Path, id_column: str, target_columns: Sequence[str]) -> pd.DataFrame:
    """The answers file as stripped text, checked to hold the id and target columns.

    A problem here is the task's fault, not the submission's, so it raises :class:`TaskError`.
    """
    try:
        stat = path.stat()
        table = _answers_cached(str(path), stat.st_mtime_ns, stat.st_size)
    except (OSError, CsvProblem) as exc:
        reason = exc.reason if isinstance(exc, CsvProblem) else str(exc)
        raise TaskError(f"cannot read the task's answers: {reason}",
                        hint="the task's private answers are missing or broken; re-prepare the task") from exc
    missing = [c for c in (id_column, *target_columns) if c not in table.columns]
    if missing:
        raise TaskError(f"the answers file {path} lacks the column(s) {', '.join(missing)}",
                        hint="the answers must hold the id column and every target column")
    return pd.DataFrame({column: table.column(column) for column in (id_column, *target_columns)})


def _line(row: int) -> int:
    """Data row index (0-based) -> file line number (header is line 1)."""
    return row + 2


def _quote(values: Sequence[str], total: int) -> str:
    shown = ", ".join(repr(v) for v in values[:_SHOWN])
    more = total - min(total, _SHOWN)
    return shown + (f" and {more} more" if more > 0 else "")


def _check_columns(table: Table, expected: Sequence[str], label: str) -> list[str]:
    got = table.columns
    missing = [c for c in expected if c not in got]
    extra = [c for c in got if c not in expected]
    notes = []
    if missing:
        hint = ""
        lowered = {c.lower(): c for c in got}
        near = [f"'{lowered[m.lower()]}' for '{m}'" for m in missing if m.lower() in lowered]
        if near:
            hint = f" (names are case-sensitive: found {', '.join(near)})"
        raise _Invalid("missing-columns", f"{label} lacks the column(s) {', '.join(repr(c) for c in missing)}; "
                       f"expected exactly {', '.join(expected)}{hint}")
    if extra:
        raise _Invalid("extra-columns", f"{label} has column(s) the sample does not: "
                       f"{', '.join(repr(c) for c in extra)}; expected exactly {', '.join(expected)}")
    if list(got) != list(expected):
        notes.append("columns are in a different order from the sample (accepted)")
    return notes


def _numeric_equal(a: Sequence[str], b: Sequence[str]) -> bool:
    try:
        return sorted(float(x) for x in a) == sorted(float(x) for x in b)
    except ValueError:
        return False


def _check_ids(ids: pd.Series, expected: pd.Series, label: str) -> None:
    empty = ids == ""
    if empty.any():
        row = int(empty.to_numpy().argmax())
        raise _Invalid("empty-id", f"{label} line {_line(row)} has an empty id")
    duplicated = ids[ids.duplicated(keep="first")]
    if len(duplicated):
        first = duplicated.iloc[0]
        rows = [_line(int(i)) for i in np.flatnonzero((ids == first).to_numpy())[:2]]
        unique = duplicated.unique()
        raise _Invalid("duplicate-ids", f"{label} has {len(duplicated)} duplicate row(s): id {first!r} "
                       f"appears on lines {rows[0]} and {rows[1]}"
                       + (f" ({len(unique)} ids are repeated)" if len(unique) > 1 else ""))
    present = ids.isin(expected)
    wanted = expected.isin(ids)
    missing = expected[~wanted].tolist()
    extra = ids[~present].tolist()
    hint = ""
    if missing and extra and len(missing) == len(extra) and _numeric_equal(missing[:50], extra[:50]):
        hint = (f"; ids are compared as text, e.g. the answers have {missing[0]!r} and the "
                f"{label} has {extra[0]!r}")
    if missing:
        raise _Invalid("missing-ids", f"{label} lacks {len(missing)} of the {len(expected)} expected ids: "
                       f"{_quote(missing, len(missing))}{hint}")
    if extra:
        raise _Invalid("extra-ids", f"{label} has {len(extra)} id(s) that are not in the test set: "
                       f"{_quote(extra, len(extra))}")


def _first_bad(mask: np.ndarray) -> tuple[int, int]:
    return int(mask.argmax()), int(mask.sum())


def _numeric(column: pd.Series, name: str, ids: pd.Series, kind: ValueKind, label: str,
             metric: str) -> pd.Series:
    text = column
    empty = (text == "").to_numpy()
    if empty.any():
        row, count = _first_bad(empty)
        raise _Invalid("missing-values", f"{label} column '{name}' is empty on line {_line(row)} "
                       f"(id {ids.iloc[row]!r}){_more(count)}")
    values = pd.to_numeric(text, errors="coerce")
    lowered = text.str.lower()
    nan_words = lowered.isin(_NAN_WORDS).to_numpy()
    bad = values.isna().to_numpy() & ~nan_words
    if bad.any():
        row, count = _first_bad(bad)
        raise _Invalid("wrong-type", f"{label} column '{name}' must hold numbers; line {_line(row)} "
                       f"(id {ids.iloc[row]!r}) has {text.iloc[row]!r}{_more(count)}")
    if nan_words.any():
        row, count = _first_bad(nan_words)
        raise _Invalid("nan-values", f"{label} column '{name}' has NaN on line {_line(row)} "
                       f"(id {ids.iloc[row]!r}){_more(count)}")
    array = values.to_numpy(dtype=float)
    infinite = np.isinf(array)
    if infinite.any():
        row, count = _first_bad(infinite)
        raise _Invalid("infinite-values", f"{label} column '{name}' has an infinite value on line "
                       f"{_line(row)} (id {ids.iloc[row]!r}){_more(count)}")
    if kind == "probability":
        outside = (array < 0) | (array > 1)
        if outside.any():
            row, count = _first_bad(outside)
            raise _Invalid("out-of-range", f"{label} column '{name}' must hold probabilities in [0, 1] "
                           f"({metric}); line {_line(row)} (id {ids.iloc[row]!r}) has {text.iloc[row]}"
                           f"{_more(count)}")
    elif kind == "nonnegative":
        negative = array < 0
        if negative.any():
            row, count = _first_bad(negative)
            raise _Invalid("out-of-range", f"{label} column '{name}' must be >= 0 for {metric}; line "
                           f"{_line(row)} (id {ids.iloc[row]!r}) has {text.iloc[row]}{_more(count)}")
    elif kind == "integer":
        fractional = array != np.round(array)
        if fractional.any():
            row, count = _first_bad(fractional)
            raise _Invalid("wrong-type", f"{label} column '{name}' must hold whole numbers for {metric}; "
                           f"line {_line(row)} (id {ids.iloc[row]!r}) has {text.iloc[row]}{_more(count)}")
    return pd.Series(array, index=column.index, name=name)


def _more(count: int) -> str:
    return f" ({count - 1} more row(s) like it)" if count > 1 else ""


def _all_numeric(column: pd.Series) -> bool:
    return bool(pd.to_numeric(column, errors="coerce").notna().all()) and len(column) > 0


def _labels(column: pd.Series, numeric: bool, name: str, ids: pd.Series, label: str) -> pd.Series:
    """Class labels in file order: text, or numbers when the answers' labels are all numeric."""
    empty = (column == "").to_numpy()
    if empty.any():
        row, count = _first_bad(empty)
        raise _Invalid("missing-values", f"{label} column '{name}' is empty on line {_line(row)} "
                       f"(id {ids.iloc[row]!r}){_more(count)}")
    if not numeric:
        return column.astype(str)
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna().to_numpy() | np.isinf(values.to_numpy(dtype=float))
    if bad.any():
        row, count = _first_bad(bad)
        raise _Invalid("wrong-type", f"{label} column '{name}' holds numeric class labels in this task; "
                       f"line {_line(row)} (id {ids.iloc[row]!r}) has {column.iloc[row]!r}{_more(count)}")
    return values.astype(float)


def _check_classes(labels: pd.Series, known: pd.Series, extra: Collection[object], name: str, ids: pd.Series,
                   label: str) -> None:
    """Every predicted label is one of the answers' classes (or of ``extra``: the test answers'
    classes when a hidden split's answers are used, which may lack a rare class)."""
    classes = set(known.tolist()) | set(extra)
    unknown = (~labels.isin(classes)).to_numpy()
    if unknown.any():
        row, count = _first_bad(unknown)
        value = labels.iloc[row]
        shown = repr(value) if isinstance(value, str) else f"{value:g}"
        raise _Invalid("unknown-label", f"{label} column '{name}' holds {shown} on line {_line(row)} "
                       f"(id {ids.iloc[row]!r}), which is not one of this task's {len(classes)} classes"
                       f"{_more(count)}")


def _answer_values(column: pd.Series, name: str, kind: ValueKind | None) -> pd.Series:
    if kind in ("probability", "real", "nonnegative", "integer"):
        values = pd.to_numeric(column, errors="coerce")
        if values.isna().any():
            row = int(values.isna().to_numpy().argmax())
            raise TaskError(f"the answers column '{name}' is not numeric (line {_line(row)}) but the metric "
                            "needs numbers")  # the private value itself is not quoted
        return values.astype(float)
    return column


def check_table(table: Table, *, id_column: str, target_columns: Sequence[str], answers: pd.DataFrame,
                kind: ValueKind | None, metric: str, label: str = "submission",
                extra_classes: Mapping[str, Collection[object]] | None = None) -> Aligned:
    """Validate a parsed table against the answers; raise ``_Invalid`` or return it aligned.

    ``extra_classes`` (column → labels) widens the class set of label columns beyond the answers'."""
    notes = list(table.notes)
    notes.extend(_check_columns(table, [id_column, *target_columns], label))
    frame = table.frame
    ids = table.column(id_column)
    if len(frame) == 0:
        raise _Invalid("no-rows", f"{label} has a header but no rows; expected {len(answers)}")
    _check_ids(ids, answers[id_column], label)
    converted = pd.DataFrame({id_column: ids})
    truth = answers.set_index(id_column, drop=False)
    order = pd.Index(ids)
    y_true = pd.DataFrame(index=range(len(answers)))
    y_pred = pd.DataFrame(index=range(len(answers)))
    position = pd.Series(np.arange(len(ids)), index=order)
    take = position.loc[answers[id_column]].to_numpy()
    for name in target_columns:
        raw = table.column(name)
        if kind in ("probability", "real", "nonnegative", "integer"):
            values = _numeric(raw, name, ids, kind, label, metric)
            converted[name] = values
            y_pred[name] = values.to_numpy()[take]
            y_true[name] = _answer_values(truth[name], name, kind).to_numpy()
        elif kind == "label":
            numeric = _all_numeric(truth[name])
            labels = _labels(raw, numeric, name, ids, label)
            known = pd.to_numeric(truth[name]).astype(float) if numeric else truth[name].astype(str)
            _check_classes(labels, known, _as_classes((extra_classes or {}).get(name, ()), numeric), name, ids,
                           label)
            converted[name] = labels
            y_pred[name] = labels.to_numpy()[take]
            y_true[name] = known.to_numpy()
        else:  # ranking labels or anything a custom grader accepts
            if kind is None:
                empty = (raw == "").to_numpy()
                if empty.any():
                    row, count = _first_bad(empty)
                    raise _Invalid("missing-values", f"{label} column '{name}' is empty on line "
                                   f"{_line(row)} (id {ids.iloc[row]!r}){_more(count)}")
            converted[name] = raw
            y_pred[name] = raw.to_numpy()[take]
            y_true[name] = truth[name].to_numpy()
    if kind is None:
        # Custom graders get numbers where the text is numeric, as pandas would read it.
        for name in target_columns:
            numeric = pd.to_numeric(converted[name], errors="coerce")
            if numeric.notna().all():
                converted[name] = numeric
    return Aligned(y_true=y_true, y_pred=y_pred, submission=converted,
                   answers=answers.reset_index(drop=True), notes=notes)


def _as_classes(values: Collection[object], numeric: bool) -> list[object]:
    """Labels as the answers' column holds them: floats when the answers are numeric."""
    if not numeric:
        return [str(v) for v in values]
    converted = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce")
    return [float(v) for v in converted.dropna()]


def _test_classes(task: Task, answers_path: Path | None) -> dict[str, list[object]] | None:
    """The test answers' labels per target column, when other answers (a hidden split) are used."""
    if answers_path is None or answers_path == task.answers or value_kind(task) != "label":
        return None
    fmt = task.submission
    try:
        test = load_answers(task.answers, fmt.id_column, fmt.target_columns)
    except TaskError:
        return None
    return {name: test[name].unique().tolist() for name in fmt.target_columns}


def prepare_submission(task: Task, path: Path, *, answers_path: Path | None = None,
                       label: str = "submission") -> tuple[SubmissionCheck, Aligned | None]:
    """Check ``path`` against ``task`` and, when valid, align it with the answers.

    ``answers_path`` swaps in other answers (the hidden validation split's). Raises
    :class:`TaskError` only for problems of the task itself (unreadable answers).
    """
    fmt = task.submission
    answers = load_answers(answers_path or task.answers, fmt.id_column, fmt.target_columns)
    limit = submission_limit(task)
    try:
        table = read_table(Path(path), label=label, max_bytes=limit)
        aligned = check_table(table, id_column=fmt.id_column, target_columns=fmt.target_columns,
                              answers=answers, kind=value_kind(task), metric=task.metric, label=label,
                              extra_classes=_test_classes(task, answers_path))
    except CsvProblem as exc:
        reason = exc.reason
        if exc.code == "too-large":
            reason += (" (the limit is set by the task's submission.max_bytes" if task.submission.max_bytes
                       else " (the limit is the larger of 16 MiB and 32 times the sample submission's size")
            reason += f"; this task's sample is {format_bytes(task.submission.sample.stat().st_size)})" \
                if task.submission.sample.is_file() else ")"
        return SubmissionCheck(False, reason, exc.code), None
    except _Invalid as exc:
        return SubmissionCheck(False, exc.reason, exc.code, tuple(getattr(table, "notes", ()))), None
    return SubmissionCheck(True, None, None, tuple(aligned.notes)), aligned


def check_against_sample(task: Task, path: Path) -> SubmissionCheck:
    """The checks that hold whatever the answers look like: file, CSV, size, sample's columns and ids.

    Used for MLE-bench competitions, whose answers files have competition-specific layouts and
    whose value checks belong to the competition's own grader.
    """
    fmt = task.submission
    table: Table | None = None
    try:
        table = read_table(Path(path), label="submission", max_bytes=submission_limit(task))
        sample = read_table(fmt.sample, label="sample submission")
        notes = table.notes + _check_columns(table, sample.columns, "submission")
        sample_ids = sample.column(fmt.id_column)
        if not sample_ids.duplicated().any():
            _check_ids(table.column(fmt.id_column), sample_ids, "submission")
    except CsvProblem as exc:
        return SubmissionCheck(False, exc.reason, exc.code)
    except _Invalid as exc:
        return SubmissionCheck(False, exc.reason, exc.code, tuple(table.notes if table else ()))
    return SubmissionCheck(True, None, None, tuple(notes))


def check_submission(task: Task, path: Path) -> SubmissionCheck:
    """Is the file at ``path`` a valid submission for ``task``? Never scores it."""
    if task.blind is not None:
        from aira_dsl.tasks.blind import check_blind

        return check_blind(task, path)[0]
    if task.mlebench is not None:
        from aira_dsl.tasks.mlebench_adapter import check_with_mlebench

        return check_with_mlebench(task, path)
    return prepare_submission(task, path)[0]
