"""``task.yaml``: finding it, checking it (positioned diagnostics), and loading it as a Task.

:func:`check_task_dir` is what ``aira-dsl validate`` runs on a task: YAML problems, schema
problems (unknown keys with "did you mean", wrong types), then the checks only the files can
answer: the description, data dirs, answers and sample submission exist and agree (same ids,
the right columns), the metric is known and agrees with ``direction``, thresholds are ordered
the metric's way, the private dir is not inside the public one, and a hidden validation split
is possible. Every finding points at the ``task.yaml`` line it is about.

Every path the task names (description, data dirs, answers, sample, leaderboard, training file)
must resolve inside the allowed roots of ``task.yaml`` (:mod:`aira_dsl.roots`), which is checked
before the file is read, so a diagnostic never shows anything of a file outside them; the
description and the sample may not lie in the private dir (both are shown to the agent); the
public dir may hold no link into the private one (:mod:`aira_dsl.tasks.links`). Diagnostics
quote no value of the answers: they give line numbers.

:func:`load_task_file` runs the same checks and builds a :class:`~aira_dsl.tasks.model.Task`,
or raises :class:`~aira_dsl.tasks.errors.TaskError` carrying the diagnostics.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aira_dsl.diagnostics import Diagnostic, Severity
from aira_dsl.roots import OUTSIDE_CODE, allowed_roots, check_inside, is_inside, outside_hint
from aira_dsl.settings.fields import SettingError, build, default_of
from aira_dsl.spec.schema_check import schema_diagnostics
from aira_dsl.spec.yamlpos import YamlDocument, load_yaml_file
from aira_dsl.tasks.csvread import CsvProblem, Table, read_table
from aira_dsl.tasks.errors import TaskError
from aira_dsl.tasks.links import public_link_problems, summarize
from aira_dsl.tasks.medals import load_leaderboard
from aira_dsl.tasks.metrics import get_metric, metric_names, suggest_metric, validate_metric_params
from aira_dsl.tasks.model import (
    HIDDEN_FEATURES_FILE,
    Direction,
    HiddenValidationConfig,
    SubmissionFormat,
    Task,
    Thresholds,
)
from aira_dsl.tasks.schema import MetricSpec, SubmissionSettings, TaskFile, task_schema

__all__ = [
    "TASK_FILE_NAMES",
    "check_task_dir",
    "is_task_document",
    "load_task_file",
    "looks_like_task",
    "task_file_of",
]

TASK_FILE_NAMES = ("task.yaml", "task.yml")
_SPEC_KEYS = {"operators", "policy", "models", "extends", "abstract", "fitness"}
_NUMERIC_KINDS = {"probability", "real", "nonnegative", "integer"}


def task_file_of(path: Path) -> Path | None:
    """The task.yaml a path names: the file itself, or the one inside a directory."""
    if path.is_dir():
        for name in TASK_FILE_NAMES:
            if (path / name).is_file():
                return path / name
        return None
    return path


def is_task_document(data: object) -> bool:
    """Does parsed YAML look like a task (rather than an agent spec or a profile)?"""
    return (isinstance(data, dict) and "submission" in data and ("metric" in data or "grader" in data)
            and not (_SPEC_KEYS & set(data)))


def looks_like_task(path: Path) -> bool:
    """A task dir, a ``task.yaml``, or any YAML file whose content is a task."""
    file = task_file_of(path)
    if file is None or not file.is_file():
        return False
    if file.name in TASK_FILE_NAMES:
        return True
    if file.suffix not in (".yaml", ".yml"):
        return False
    return is_task_document(load_yaml_file(file, env_mode="off").data)


# --------------------------------------------------------------------------------------------
# Checking


class _Checker:
    """Collects diagnostics for one task.yaml whose data passed the schema; ``task`` is that data
    typed, every default filled in from the declarations (:class:`TaskFile`)."""

    def __init__(self, doc: YamlDocument, task: TaskFile, root: Path, task_file: Path | None = None) -> None:
        self.doc = doc
        self.task = task
        self.root = root
        self.out: list[Diagnostic] = []
        self.roots = allowed_roots(task_file if task_file is not None else root / "task.yaml")
        self.private: Path | None = None

    # helpers ---------------------------------------------------------------------------------

    def error(self, code: str, message: str, path: tuple[str | int, ...], hint: str | None = None,
              on_key: bool = False) -> None:
        self.out.append(self.doc.diagnostic(code, message, path, hint=hint, on_key=on_key))

    def warning(self, code: str, message: str, path: tuple[str | int, ...], hint: str | None = None) -> None:
        self.out.append(self.doc.diagnostic(code, message, path, hint=hint, severity=Severity.WARNING))

    def inside(self, path: Path, what: str, where: tuple[str | int, ...], *, shown: bool = False) -> bool:
        """Whether ``path`` may be read: inside the allowed roots, and (for files the agent is
        shown: ``shown``) not in the private dir. An error at ``where`` when not."""
        outside = check_inside(path, self.roots)
        if outside is not None:
            self.error(OUTSIDE_CODE, f"{what} is outside the allowed roots: {outside}", where,
                       hint=outside_hint("task paths"))
            return False
        if shown and self.private is not None and is_inside(path, [self.private.resolve()]):
            self.error("private-file-shown", f"{what} is inside private_dir: it would show the answers to "
                       "the agent", where, hint="keep files the agent reads in public_dir or beside task.yaml")
            return False
        return True

    def dir_at(self, key: str) -> Path | None:
        rel: str = getattr(self.task, key)
        path = self.root / rel
        if not self.inside(path, f"{key} '{rel}'", (key,)):
            return None
        if not path.is_dir():
            what = "does not exist" if not path.exists() else "is not a directory"
            self.error("missing-dir", f"{key} '{rel}' {what} ({path})", (key,),
                       hint=f"{key} is a directory relative to task.yaml (default '{default_of(TaskFile, key)}')")
            return None
        return path

    def table_at(self, path: Path, where: tuple[str | int, ...], label: str) -> Table | None:
        try:
            return read_table(path, label=label)
        except CsvProblem as exc:
            self.error("bad-data-file", exc.reason, where)
            return None

    # checks ----------------------------------------------------------------------------------

    def run(self) -> list[Diagnostic]:
        kind = self.check_metric()
        public = self.dir_at("public_dir")
        private = self.private = self.dir_at("private_dir")
        self.check_description()
        if public is not None and private is not None:
            self.check_separation(public, private)
        answers = self.check_answers(private, kind)
        sample = self.check_sample(public, answers)
        del sample
        self.check_thresholds()
        self.check_hidden(public)
        return self.out

    def check_metric(self) -> str | None:
        """The value kind the metric needs (None when unknown or custom)."""
        metric, grader, direction = self.task.metric, self.task.grader, self.task.direction
        declared_values = self.task.submission.values
        if metric is None and grader is None:
            self.error("missing-metric", "the task names neither a metric nor a grader", (),
                       hint=f"add `metric: <name>` ({', '.join(metric_names())}) or "
                            "`grader: module:function`")
            return None
        if metric is not None and grader is not None:
            self.error("metric-and-grader", "give either metric or grader, not both", ("grader",),
                       on_key=True)
            return None
        if grader is not None:
            if direction is None:
                self.error("missing-direction", "a custom grader needs `direction: maximize` or "
                           "`direction: minimize`", ("grader",), on_key=True)
            self.check_grader_importable(str(grader))
            return None if declared_values in (None, "any") else str(declared_values)
        assert metric is not None
        name = metric if isinstance(metric, str) else metric.name
        params: Mapping[str, Any] = {} if isinstance(metric, str) else metric.params
        at: tuple[str, ...] = ("metric",) if isinstance(metric, str) else ("metric", "name")
        found = get_metric(str(name))
        if found is None:
            guess = suggest_metric(str(name))
            self.error("unknown-metric", f"unknown metric '{name}'", at,
                       hint=(f"did you mean '{guess}'? " if guess else "")
                       + f"known metrics: {', '.join(metric_names())}")
            return None
        for problem in validate_metric_params(found, params):
            self.error("metric-params", problem, ("metric", "params"))
        if direction is not None and direction != found.direction:
            self.error("direction-mismatch", f"{found.name} is to be {found.direction}d but "
                       f"direction says {direction}", ("direction",),
                       hint="remove `direction` (the metric knows it) or fix it")
        return found.values if declared_values is None else (
            None if declared_values == "any" else str(declared_values))

    def check_grader_importable(self, entry: str) -> None:
        module = entry.partition(":")[0]
        local = self.root / (module.replace(".", "/") + ".py")
        if local.is_file() or (self.root / module.replace(".", "/") / "__init__.py").is_file():
            return
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            self.error("grader-not-found", f"grader module '{module}' is neither a .py file next to "
                       "task.yaml nor an importable module", ("grader",))

    def check_description(self) -> None:
        rel = self.task.description
        path = self.root / rel
        if not self.inside(path, f"description file '{rel}'", ("description",), shown=True):
            return
        if not path.is_file():
            self.error("missing-file", f"description file '{rel}' not found ({path})", ("description",),
                       hint="description is a Markdown file relative to task.yaml (default "
                            f"{default_of(TaskFile, 'description')})")
            return
        try:
            path.read_text(encoding="utf-8")
        except OSError as exc:
            self.error("bad-data-file", f"description file '{rel}' cannot be read: {exc.strerror or exc}",
                       ("description",))
        except UnicodeDecodeError as exc:  # the exception's text would quote bytes of the file
            self.error("bad-data-file", f"description file '{rel}' is not UTF-8 text (byte {exc.start})",
                       ("description",), hint="save it as UTF-8")

    def check_separation(self, public: Path, private: Path) -> None:
        pub, priv = public.resolve(), private.resolve()
        if pub == priv or priv.is_relative_to(pub):
            self.error("private-in-public", "private_dir is inside public_dir: agents would see the answers",
                       ("private_dir",), hint="keep the answers in a directory beside the public one")
        elif pub.is_relative_to(priv):
            self.warning("public-in-private", "public_dir is inside private_dir", ("public_dir",))
        problems = public_link_problems(public, private, self.roots)
        if problems:
            self.error("public-links", f"public_dir holds link(s) the agent could follow to what it must not "
                       f"see: {summarize(problems)}", ("public_dir",),
                       hint="replace links in public_dir by copies of public files; never link to the answers")

    def check_answers(self, private: Path | None, kind: str | None) -> Table | None:
        if private is None:
            return None
        submission = self.task.submission
        rel = self.task.answers
        path = private / rel
        if not self.inside(path, f"answers file '{rel}'", ("answers",)):
            return None
        if not path.is_file():
            self.error("missing-file", f"answers file '{rel}' not found in private_dir ({path})", ("answers",),
                       hint=f"answers is a CSV inside private_dir (default {default_of(TaskFile, 'answers')})")
            return None
        table = self.table_at(path, ("answers",), "answers")
        if table is None:
            return None
        needed = [submission.id_column, *submission.target_columns]
        missing = [c for c in needed if c not in table.columns]
        if missing:
            # The private header is not quoted (a file that is no CSV would be shown a line of).
            self.error("answers-columns", f"the answers lack the column(s) {', '.join(missing)} "
                       f"(the answers' header has {len(table.columns)} column(s))", ("submission", "target_columns")
                       if submission.id_column not in missing else ("submission", "id_column"),
                       hint="compare the answers file's header line with id_column and target_columns")
            return None
        ids = table.frame[submission.id_column].str.strip()
        if ids.duplicated().any():  # line numbers, never the private values themselves
            self.error("answers-duplicate-ids", f"the answers repeat an id (line {_first_line(ids.duplicated())})",
                       ("answers",))
        if kind in _NUMERIC_KINDS:
            for column in submission.target_columns:
                values = table.frame[column].str.strip()
                bad = ~values.str.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
                if bad.any():
                    self.error("answers-values", f"the answers column '{column}' must be numeric for "
                               f"this metric; line {_first_line(bad)} is not a number", ("answers",))
        return table

    def check_sample(self, public: Path | None, answers: Table | None) -> Table | None:
        if public is None:
            return None
        submission = self.task.submission
        rel = self.task.submission.sample
        path = public / rel
        where = ("submission", "sample")
        if not self.inside(path, f"sample submission '{rel}'", where, shown=True):
            return None
        if not path.is_file():
            self.error("missing-file", f"sample submission '{rel}' not found in public_dir ({path})", where,
                       hint="submission.sample is a CSV inside public_dir (default "
                            f"{default_of(SubmissionSettings, 'sample')})")
            return None
        table = self.table_at(path, where, "sample submission")
        if table is None:
            return None
        expected = [submission.id_column, *submission.target_columns]
        if sorted(table.columns) != sorted(expected):
            self.error("sample-columns", f"the sample submission's columns ({', '.join(table.columns)}) are "
                       f"not id_column + target_columns ({', '.join(expected)})", ("submission",))
            return table
        if answers is not None and submission.id_column in answers.columns:
            sample_ids = set(table.frame[submission.id_column].str.strip())
            answer_ids = set(answers.frame[submission.id_column].str.strip())
            if sample_ids != answer_ids:
                only_sample = sorted(sample_ids - answer_ids)[:3]
                only_answers = sorted(answer_ids - sample_ids)[:3]  # ids (public in test data), no labels
                self.error("sample-ids", "the sample submission's ids differ from the answers' ids "
                           f"(only in sample: {only_sample}; only in answers: {only_answers})",
                           ("submission", "sample"))
        return table

    def check_thresholds(self) -> None:
        thresholds, leaderboard = self.task.thresholds, self.task.leaderboard
        if thresholds is not None and leaderboard is not None:
            self.error("thresholds-and-leaderboard", "give either thresholds or leaderboard, not both",
                       ("leaderboard",), on_key=True)
        direction = self.direction()
        if thresholds is not None and direction is not None:
            given = {m: value for m in ("gold", "silver", "bronze")
                     if (value := getattr(thresholds, m)) is not None}
            for (better, a), (worse, b) in itertools.pairwise(given.items()):
                wrong = a < b if direction == "maximize" else a > b
                if wrong:
                    self.error("thresholds-order", f"{better} ({a}) must be at least as good as {worse} ({b}) "
                               f"when scores are {direction}d", ("thresholds", better))
        if leaderboard is not None and direction is not None:
            path = self.root / leaderboard
            if not self.inside(path, f"leaderboard '{leaderboard}'", ("leaderboard",)):
                return
            if not path.is_file():
                self.error("missing-file", f"leaderboard '{leaderboard}' not found ({path})", ("leaderboard",))
            else:
                try:
                    load_leaderboard(path, direction)
                except TaskError as exc:
                    self.error("bad-data-file", exc.message, ("leaderboard",), hint=exc.hint)

    def direction(self) -> Direction | None:
        if self.task.direction is not None:
            return self.task.direction
        metric = self.task.metric
        name = metric.name if isinstance(metric, MetricSpec) else metric
        found = get_metric(name) if name is not None else None
        return found.direction if found else None

    def check_hidden(self, public: Path | None) -> None:
        hidden = self.task.hidden_validation
        if hidden is None or public is None:
            return
        submission = self.task.submission
        rel = hidden.train_file
        path = public / rel
        where = ("hidden_validation", "train_file")
        if not self.inside(path, f"hidden_validation.train_file '{rel}'", where, shown=True):
            return
        if (public / HIDDEN_FEATURES_FILE).exists():
            self.warning("hidden-name-clash", f"public_dir already has {HIDDEN_FEATURES_FILE}; the hidden "
                         "split will replace it", ("hidden_validation",))
        if not path.is_file():
            self.error("missing-file", f"hidden_validation.train_file '{rel}' not found in public_dir ({path})",
                       where, hint="the labelled training CSV to split (default "
                                   f"{default_of(HiddenValidationConfig, 'train_file')})")
            return
        table = self.table_at(path, where, "training data")
        if table is None:
            return
        needed = [submission.id_column, *submission.target_columns]
        missing = [c for c in needed if c not in table.columns]
        if missing:
            self.error("hidden-columns", f"'{rel}' lacks the column(s) {', '.join(missing)} needed to hold "
                       "rows back (the id column and every target column)", where)
            return
        ids = table.frame[submission.id_column].str.strip()
        if ids.duplicated().any():
            self.error("hidden-duplicate-ids", f"'{rel}' repeats the id {ids[ids.duplicated()].iloc[0]!r}", where)
        count = round(hidden.fraction * len(ids))
        if count < 1 or count >= len(ids):
            self.error("hidden-size", f"fraction {hidden.fraction} of {len(ids)} rows holds back {count} "
                       "rows; at least one row must be held back and one kept", ("hidden_validation", "fraction"))


def _first_line(mask: Any) -> int:
    """File line of the first true row of a boolean Series (the header is line 1)."""
    return int(mask.to_numpy().argmax()) + 2


def _locate(path: Path) -> tuple[Path | None, list[Diagnostic]]:
    if not path.exists():
        return None, [Diagnostic("missing-file", f"no such file or directory: {path}", file=str(path))]
    file = task_file_of(path)
    if file is None:
        return None, [Diagnostic("missing-file", f"{path} has no task.yaml", file=str(path),
                                 hint="a task directory holds task.yaml next to its data directories")]
    return file, []


def _check(path: Path) -> tuple[YamlDocument | None, list[Diagnostic], TaskFile | None]:
    """The document, its diagnostics, and (when the schema accepted it) its typed form."""
    file, problems = _locate(Path(path))
    if file is None:
        return None, problems, None
    doc = load_yaml_file(file, display=str(file), env_mode="off")
    diagnostics = list(doc.diagnostics)
    if doc.data is None:
        return doc, diagnostics, None
    if not isinstance(doc.data, dict):
        diagnostics.append(doc.diagnostic("not-a-mapping", "a task.yaml must be a mapping of keys "
                                          "(id, name, metric, submission...)", ()))
        return doc, diagnostics, None
    # The shared schema checker names the document "the spec"; here it is a task file.
    diagnostics.extend(dataclasses.replace(d, message=d.message.replace("in the spec", "in task.yaml"))
                       for d in schema_diagnostics(doc, task_schema()))
    if any(d.is_error for d in diagnostics):
        return doc, diagnostics, None
    try:
        task: TaskFile = build(TaskFile, doc.data)
    except SettingError as exc:  # what the schema cannot say: a duration too large to be a number
        diagnostics.append(doc.diagnostic("invalid-value", str(exc), tuple(exc.path), hint=exc.hint))
        return doc, diagnostics, None
    diagnostics.extend(_Checker(doc, task, file.parent, file).run())
    return doc, diagnostics, task


def check_task_dir(path: Path) -> list[Diagnostic]:
    """Every problem of a task (a directory holding task.yaml, or a task YAML file), sorted."""
    return sorted(_check(Path(path))[1], key=Diagnostic.sort_key)


# --------------------------------------------------------------------------------------------
# Loading


def _thresholds(task: TaskFile, root: Path, direction: Direction) -> Thresholds | None:
    if task.leaderboard is not None:
        return load_leaderboard(root / task.leaderboard, direction)
    given = task.thresholds
    if given is None:
        return None
    return Thresholds(gold=given.gold, silver=given.silver, bronze=given.bronze, median=given.median,
                      kind=given.kind, source="task.yaml")


def load_task_file(path: Path, *, source: str = "dir") -> Task:
    """Check and load a task (dir or YAML file); TaskError with diagnostics when it has errors."""
    doc, diagnostics, task = _check(Path(path))
    errors = [d for d in diagnostics if d.is_error]
    if doc is None:
        raise TaskError(errors[0].message, hint=errors[0].hint)
    if errors or task is None:
        first = errors[0] if errors else None
        raise TaskError(f"the task at {path} has {len(errors)} error(s)"
                        + (f"; first: {first.message}" if first else ""),
                        hint=f"run `aira-dsl validate {path}` to see them all with their lines",
                        diagnostics=errors)
    root = Path(doc.file).resolve().parent
    metric = task.metric
    if metric is not None:
        name = metric if isinstance(metric, str) else metric.name
        found = get_metric(name)
        assert found is not None  # checked above
        metric_name = found.name
        params: dict[str, Any] = {} if isinstance(metric, str) else dict(metric.params)
        direction: Direction = found.direction
    else:
        metric_name, params = "custom", {}
        direction = "minimize" if task.direction == "minimize" else "maximize"
    sub = task.submission
    public = (root / task.public_dir).resolve()
    private = (root / task.private_dir).resolve()
    return Task(
        id=task.id, name=task.name,
        description=(root / task.description).read_text(encoding="utf-8"),
        public_dir=public, private_dir=private,
        answers=private / task.answers,
        metric=metric_name, metric_params=params, grader=task.grader, direction=direction,
        submission=SubmissionFormat(
            sample=public / sub.sample, id_column=sub.id_column, target_columns=tuple(sub.target_columns),
            max_bytes=sub.max_bytes, values=sub.values),
        thresholds=_thresholds(task, root, direction),
        resources=task.resources,
        hidden_validation_config=task.hidden_validation,
        root=root, source=source,
        notes=tuple(d.message for d in diagnostics if d.severity is Severity.WARNING),
    )
