"""Reading and checking a sweep file: YAML with positions → schema → meaning → :class:`Sweep`.

Every problem is a positioned diagnostic in the sweep file (a spec that does not exist, a task
nobody knows, two variants with one label...), and a variant that does not compile also shows
the spec's own diagnostics, so ``aira-dsl validate sweep.yaml`` and ``aira-dsl sweep`` report
the same things and nothing is launched from a grid with an error in it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_dsl.diagnostics import Diagnostic, Severity
from aira_dsl.roots import OUTSIDE_CODE, allowed_roots, check_inside, outside_hint
from aira_dsl.settings.fields import SettingError, build
from aira_dsl.spec.schema_check import load_packaged_schema, schema_diagnostics
from aira_dsl.spec.yamlpos import YamlDocument, load_yaml_file
from aira_dsl.sweep.model import (
    ExecutorConfig,
    RunSection,
    RunSettings,
    SpecEntry,
    Sweep,
    SweepFile,
    Variant,
    slug,
)
from aira_dsl.sweep.tasklists import expand_task, task_lists

__all__ = ["LoadResult", "is_sweep_document", "load_sweep", "override_text"]

SCHEMA = "sweep.schema.json"


@dataclass
class LoadResult:
    sweep: Sweep | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    plans: dict[str, Any] = field(default_factory=dict)
    """Variant id -> compiled :class:`aira_dsl.plan.Plan` (when compiled)."""

    @property
    def ok(self) -> bool:
        return self.sweep is not None and not any(d.is_error for d in self.diagnostics)


def is_sweep_document(data: object) -> bool:
    """Whether parsed YAML is a sweep file (it has ``specs`` and ``tasks``, not ``operators``)."""
    return isinstance(data, dict) and "specs" in data and "tasks" in data and "operators" not in data


def override_text(path: str, value: Any) -> str:
    """A ``--set`` argument for ``path = value`` (JSON is YAML, so every value reads back exactly)."""
    return f"{path}={json.dumps(value)}"


def load_sweep(path: str | os.PathLike[str], *, compile_specs: bool = True, display: str | None = None,
               env: Callable[[str], str | None] | None = None, env_mode: str = "error",
               models: Sequence[str] = (), model_settings: Sequence[str] = ()) -> LoadResult:
    """Check a sweep file; with ``compile_specs`` every variant is compiled (plans in the result).

    ``env_mode`` is how unset ``${env:NAME}`` variables count: ``error`` when launching (the plans
    freeze their values), ``warn`` for ``validate``. ``models`` and ``model_settings`` are the
    launch's ``--model`` and ``-M`` arguments, applied to every variant after its own overrides.
    """
    file = Path(path)
    name = display or str(path)
    doc = load_yaml_file(file, display=name, env=env, env_mode=env_mode)
    diags = list(doc.diagnostics)
    if doc.data is None or any(d.is_error for d in diags):
        return LoadResult(None, diags)
    if not isinstance(doc.data, dict):
        return LoadResult(None, [*diags, doc.diagnostic("schema", "a sweep file is a YAML mapping with specs and tasks")])
    diags.extend(schema_diagnostics(doc, load_packaged_schema(SCHEMA)))
    if any(d.is_error for d in diags):
        return LoadResult(None, diags)
    try:  # defaults from the declarations; the schema passed, so only a duration too large can fail
        settings: SweepFile = build(SweepFile, doc.data)
    except SettingError as exc:
        return LoadResult(None, [*diags, doc.diagnostic("invalid-value", str(exc), tuple(exc.path), hint=exc.hint)])
    checker = _Checker(doc, file.resolve().parent, allowed_roots(file))
    run, run_overrides = checker.run_settings(settings.run)
    variants = checker.variants(settings.specs, run_overrides)
    tasks = checker.tasks(settings.tasks)
    seeds = tuple(range(settings.seeds)) if isinstance(settings.seeds, int) else tuple(settings.seeds)
    executor = checker.executor(settings.executor)
    diags.extend(checker.diags)
    plans: dict[str, Any] = {}
    if compile_specs:  # also when other parts have errors: every problem is shown in one go
        diags.extend(_compile_variants(doc, file.resolve().parent, variants, plans, env_mode, models,
                                       model_settings))
    if any(d.is_error for d in diags):
        return LoadResult(None, diags)
    sweep = Sweep(name=settings.name or slug(file.stem), file=file.resolve(),
                  sha256=hashlib.sha256(file.read_bytes()).hexdigest(), variants=tuple(variants), tasks=tasks,
                  seeds=seeds, run=run, executor=executor, description=settings.description)
    return LoadResult(sweep, diags, plans)


class _Checker:
    """The meaning checks; collects diagnostics positioned in the sweep file."""

    def __init__(self, doc: YamlDocument, base: Path, roots: tuple[Path, ...] = ()):
        self.doc = doc
        self.base = base
        self.roots = roots
        """Where the spec files and task folders the sweep names may be (:mod:`aira_dsl.roots`)."""
        self.diags: list[Diagnostic] = []

    def outside(self, what: str, raw: str, path: Path, where: tuple[str | int, ...]) -> bool:
        """Report ``path`` (named ``raw``) if it leaves the allowed roots; checked before the
        path is opened or its folder listed, so nothing of what lies outside is shown."""
        reason = check_inside(path, self.roots)
        if reason is None:
            return False
        self.error(OUTSIDE_CODE, f"{what} '{raw}' is outside the allowed roots: {reason}", where,
                   hint=outside_hint(f"{what} paths"))
        return True

    def error(self, code: str, message: str, path: tuple[str | int, ...], hint: str | None = None,
              severity: Severity = Severity.ERROR) -> None:
        self.diags.append(self.doc.diagnostic(code, message, path, hint=hint, severity=severity))

    # ------------------------------------------------------------------ run settings

    def run_settings(self, run: RunSection) -> tuple[RunSettings, list[str]]:
        overrides = [override_text(f"budget.{k}", v) for k, v in run.budget.items()]
        overrides += [override_text(k, v) for k, v in run.set.items()]
        if run.workers is not None:
            overrides.append(override_text("execution.workers", run.workers))
        data_dir = None
        if run.mlebench_data_dir:
            data_dir = (self.base / os.path.expanduser(run.mlebench_data_dir)).resolve()
        return RunSettings(workers=run.workers, mlebench_data_dir=data_dir,
                           hidden_validation=run.hidden_validation), overrides

    # ------------------------------------------------------------------ specs and variants

    def variants(self, entries: Sequence[str | SpecEntry], run_overrides: list[str]) -> list[Variant]:
        found: list[Variant] = []
        seen: dict[str, tuple[str | int, ...]] = {}
        for i, entry in enumerate(entries):
            where: tuple[str | int, ...] = ("specs", i) if isinstance(entry, str) else ("specs", i, "path")
            raw = entry if isinstance(entry, str) else entry.path
            spec = (self.base / os.path.expanduser(raw)).resolve()
            if self.outside("spec", raw, self.base / os.path.expanduser(raw), where):
                continue
            if not spec.is_file():
                self.error("unknown-spec", f"no agent spec at '{raw}' (looked for {spec})", where,
                           hint=self._spec_hint(spec))
                continue
            label = (entry.name if isinstance(entry, SpecEntry) else None) or _spec_name(spec)
            named = entry.variants if isinstance(entry, SpecEntry) else None
            items: list[tuple[str | None, dict[str, Any]]] = list(named.items()) if named else [(None, {})]
            for variant_name, changes in items:
                vid = label if variant_name is None else f"{label}-{variant_name}"
                vpath: tuple[str | int, ...] = where if variant_name is None else ("specs", i, "variants", variant_name)
                if vid in seen:
                    self.error("duplicate-variant", f"two grid entries are both labelled '{vid}'", vpath,
                               hint="give one of the specs a different `name:` or rename a variant")
                    continue
                if len(vid) > 80:
                    self.error("variant-name", f"the label '{vid}' is too long (80 characters at most)", vpath)
                    continue
                seen[vid] = vpath
                overrides = [*run_overrides, *(override_text(k, v) for k, v in changes.items())]
                found.append(Variant(id=vid, spec=spec, variant=variant_name, overrides=tuple(overrides)))
        return found

    def _spec_hint(self, spec: Path) -> str:
        folder = spec.parent
        if folder.is_dir():
            names = sorted(p.name for p in folder.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
            guess = difflib.get_close_matches(spec.name, names, n=1)
            if guess:
                return f"did you mean '{guess[0]}'? Spec paths are relative to the sweep file"
            if names:
                return f"specs in {folder}: {', '.join(names[:12])}"
        return "spec paths are relative to the sweep file's folder"

    # ------------------------------------------------------------------ tasks

    def tasks(self, entries: Sequence[str]) -> tuple[str, ...]:
        from aira_dsl.tasks.bundled import BUNDLED

        refs: list[str] = []
        for i, raw in enumerate(entries):
            text = raw.strip()
            if text.startswith("mlebench:") and text not in task_lists():
                competition = text.removeprefix("mlebench:")
                if not competition or not all(c.isalnum() or c in "-_." for c in competition):
                    self.error("unknown-task", f"'{raw}' is not a competition id",
                               ("tasks", i), hint="write mlebench:<competition-id> or a named list: "
                               + ", ".join(task_lists()))
                    continue
                members: tuple[str, ...] = (text,)
            elif text in task_lists():
                members = expand_task(text)
            elif text in BUNDLED:
                members = (text,)
            else:
                path = (self.base / os.path.expanduser(text)).resolve()
                if _looks_like_path(text) and self.outside("task", raw, self.base / os.path.expanduser(text),
                                                           ("tasks", i)):
                    continue
                if not _looks_like_path(text) or not path.exists():
                    guess = difflib.get_close_matches(text, [*BUNDLED, *task_lists()], n=1)
                    self.error("unknown-task", f"no task '{raw}': not a bundled task, a named list, "
                               "mlebench:<id>, or an existing task directory", ("tasks", i),
                               hint=(f"did you mean '{guess[0]}'? " if guess else "")
                               + f"bundled tasks: {', '.join(BUNDLED)}; lists: {', '.join(task_lists())}; "
                               "paths are relative to the sweep file")
                    continue
                from aira_dsl.tasks import looks_like_task

                if not looks_like_task(path):
                    self.error("unknown-task", f"'{raw}' is not a task (no task.yaml in {path})", ("tasks", i),
                               hint="a task directory holds task.yaml (see docs/tasks.md)")
                    continue
                members = (str(path),)
            for ref in members:
                if ref in refs:
                    self.error("duplicate-task", f"task '{ref}' is listed twice", ("tasks", i),
                               severity=Severity.WARNING, hint="it runs once; remove the repeat")
                    continue
                refs.append(ref)
        return tuple(refs)

    # ------------------------------------------------------------------ executor

    def executor(self, config: ExecutorConfig) -> ExecutorConfig:
        """The executor settings, with the resource checks a schema cannot make."""
        local = config.local
        if local.gpus is not None and local.gpus_per_job > len(local.gpus):
            self.error("executor-resources", f"each job asks for {local.gpus_per_job} GPU(s) but executor.local.gpus "
                       f"lists {len(local.gpus)}", ("executor", "local", "gpus_per_job"))
        if config.slurm.time < 60:
            self.error("executor-resources", "the SLURM time limit is at least one minute",
                       ("executor", "slurm", "time"))
        return config


def _looks_like_path(ref: str) -> bool:
    return "/" in ref or os.sep in ref or ref.startswith(".") or ref.endswith((".yaml", ".yml"))


def _spec_name(spec: Path) -> str:
    """The spec's ``name`` (read from the file, else compiled), or the file name."""
    data = load_yaml_file(spec, env_mode="off").data
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        return slug(data["name"])
    if isinstance(data, dict) and isinstance(data.get("plan_version"), int | str):  # a compiled plan
        return slug(str(data.get("name") or spec.stem))
    return slug(spec.stem)


def _compile_variants(doc: YamlDocument, base: Path, variants: list[Variant], plans: dict[str, Any],
                      env_mode: str, models: Sequence[str] = (),
                      model_settings: Sequence[str] = ()) -> list[Diagnostic]:
    """Compile every variant (named after its label) into ``plans``; returns the problems."""
    from aira_dsl.compiler import compile_spec
    from aira_dsl.plan import is_plan_file, load_plan

    diags: list[Diagnostic] = []
    entries = doc.data["specs"]
    for variant in variants:
        index = next(i for i, e in enumerate(entries)
                     if (base / os.path.expanduser(e if isinstance(e, str) else e["path"])).resolve() == variant.spec)
        where: tuple[str | int, ...] = ("specs", index) if variant.variant is None else \
            ("specs", index, "variants", variant.variant)
        if is_plan_file(variant.spec):
            if variant.overrides or models or model_settings:
                diags.append(doc.diagnostic(
                    "variant-compile", f"'{variant.id}': a compiled plan cannot take overrides "
                    "(run settings, variants, --model or -M)", where, hint="list the spec, not its plan"))
                continue
            plans[variant.id] = load_plan(variant.spec)
            continue
        overrides = [*variant.overrides, override_text("name", variant.id)]
        compiled = compile_spec(variant.spec, overrides=overrides, env_mode=env_mode, models=models,
                                model_settings=model_settings)
        spec_diags = compiled.diagnostics.sorted()
        errors = [d for d in spec_diags if d.is_error]
        if compiled.plan is None or errors:
            first = errors[0].message if errors else "it does not compile"
            diags.append(doc.diagnostic(
                "variant-compile", f"'{variant.id}' does not compile: {first}", where,
                hint="the spec's own diagnostics follow; check the variant's overrides and run settings"))
            diags.extend(spec_diags)
            continue
        plans[variant.id] = compiled.plan
    return diags
