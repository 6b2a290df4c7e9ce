"""Launching, resuming and inspecting sweeps: the library behind ``aira-dsl sweep``.

A launch checks everything before it writes anything: the sweep file and every variant
(compiled once, in this process), every task (resolved, bundled ones prepared), the model
endpoint, and the executor (its extra installed, its cluster reachable). Only then is the
sweep directory written: frozen plans, a copy of the sweep file, and a manifest listing every
job as pending; jobs are marked queued before they are handed to the engine, and each state
change is written as it happens, so an interrupted launch leaves every job recorded.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_dsl import __version__
from aira_dsl.diagnostics import EXIT_FINDINGS, EXIT_OK, Diagnostic
from aira_dsl.sweep.errors import SweepError
from aira_dsl.sweep.executors import Executor, LaunchContext, make_executor
from aira_dsl.sweep.job import JobSpec
from aira_dsl.sweep.load import load_sweep
from aira_dsl.sweep.model import ExecutorConfig, Sweep
from aira_dsl.sweep.refresh import refresh
from aira_dsl.sweep.states import ACTIVE, RELAUNCH
from aira_dsl.sweep.sweepdir import MANIFEST_FORMAT, SweepDir

__all__ = ["Prepared", "SweepResult", "default_out", "launch", "prepare", "resume", "wait_for"]

Say = Callable[[str], None]
WAIT_POLL_S = 2.0
BLIND_LIMIT_S = 300.0
BASE_ENV = ("OPENAI_BASE_URL", "OPENAI_API_KEY", "AIRA_DSL_CACHE", "XDG_CACHE_HOME", "MLEBENCH_DATA_DIR")


@dataclass
class Prepared:
    """A checked sweep with its compiled plans and the executor it will use."""

    sweep: Sweep
    plans: dict[str, Any]
    config: ExecutorConfig
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def executor(self) -> Executor:
        return make_executor(self.config)


@dataclass
class SweepResult:
    sweep_dir: Path
    launched: list[str]
    counts: dict[str, int]
    attached: bool
    """Whether this process waited for the launched jobs to end."""
    states: dict[str, str] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        if not self.attached:
            return EXIT_OK
        return EXIT_OK if all(self.states.get(k) == "finished" for k in self.launched) else EXIT_FINDINGS


def default_out(sweep: Sweep) -> Path:
    return Path("sweeps") / sweep.name


def prepare(sweep_file: str | os.PathLike[str], executor_kind: str | None = None, *,
            models: Sequence[str] = (), model_settings: Sequence[str] = ()) -> Prepared:
    """Load, check and compile a sweep file (nothing is written); ``models`` and
    ``model_settings`` (``--model``, ``-M``) apply to every variant and are frozen in its plan."""
    if not Path(sweep_file).is_file():
        raise SweepError(f"{sweep_file}: no such file", "pass a sweep file (see examples/sweeps/quick.yaml)")
    result = load_sweep(sweep_file, models=models, model_settings=model_settings)
    if not result.ok or result.sweep is None:
        errors = sum(d.is_error for d in result.diagnostics)
        raise SweepError(f"the sweep file has {errors} error(s); nothing was launched", diagnostics=result.diagnostics)
    return Prepared(result.sweep, result.plans, result.sweep.executor.with_kind(executor_kind),
                    [d for d in result.diagnostics if not d.is_error])


# ------------------------------------------------------------------ checks before anything is written


def _endpoint_problems(plans: dict[str, Any]) -> list[str]:
    problems = []
    for vid, plan in plans.items():
        for model in plan.models.values():
            if not (model.base_url or os.environ.get("OPENAI_BASE_URL")) and not os.environ.get(model.api_key_env):
                problems.append(f"'{vid}' model '{model.name}' ({model.model}): {model.api_key_env} is not set")
    return problems


def _check_endpoint(plans: dict[str, Any]) -> None:
    problems = _endpoint_problems(plans)
    if problems:
        raise SweepError("no model endpoint is configured for the runs: " + "; ".join(sorted(set(problems))[:3]),
                         "export OPENAI_BASE_URL=http://host:port/v1 (and OPENAI_API_KEY, any text for servers "
                         "that need none), or the key variables the specs name; jobs inherit them")


def _check_tasks(tasks: tuple[str, ...], data_dir: Path | None, hidden: float | None) -> None:
    """Resolve every task now (bundled ones get prepared once, here, not by every job)."""
    from aira_dsl.tasks import TaskError, resolve_task

    for ref in tasks:
        try:
            resolve_task(ref, mlebench_data_dir=data_dir, hidden_validation=hidden)
        except TaskError as exc:
            raise SweepError(f"task '{ref}': {exc}", getattr(exc, "hint", None)) from None


def _env_names(plans: dict[str, Any]) -> set[str]:
    names = set(BASE_ENV)
    for plan in plans.values():
        names.update(model.api_key_env for model in plan.models.values())
    return names


# ------------------------------------------------------------------ the sweep directory


def _new_manifest(prepared: Prepared, sd: SweepDir) -> dict[str, Any]:
    sweep = prepared.sweep
    jobs = sweep.jobs()
    return {
        "format": MANIFEST_FORMAT, "name": sweep.name, "description": sweep.description,
        "sweep_file": str(sweep.file), "sweep_sha256": sweep.sha256, "created_at": time.time(),
        "aira_dsl_version": __version__, "executor": prepared.config.to_dict(),
        "run": {"workers": sweep.run.workers, "hidden_validation": sweep.run.hidden_validation,
                "mlebench_data_dir": str(sweep.run.mlebench_data_dir) if sweep.run.mlebench_data_dir else None},
        "variants": {v.id: {"spec": str(v.spec), "variant": v.variant, "overrides": list(v.overrides),
                            "plan": f"plans/{v.id}.json", "plan_hash": prepared.plans[v.id].plan_hash}
                     for v in sweep.variants},
        "tasks": list(sweep.tasks), "seeds": list(sweep.seeds), "order": [j.key for j in jobs],
        "jobs": {j.key: {"key": j.key, "variant": j.variant, "task": j.task, "seed": j.seed, "run_dir": j.run_dir,
                         "state": "pending", "launch": 0, "executor": None, "engine_id": None, "attempts": 0,
                         "reason": None} for j in jobs},
        "launches": [],
    }


def _create(prepared: Prepared, sd: SweepDir) -> dict[str, Any]:
    from aira_dsl.atomicfile import atomic_write

    sd.root.mkdir(parents=True, exist_ok=True)
    for vid, plan in prepared.plans.items():
        atomic_write(sd.plan_path(vid), plan.to_json())
    atomic_write(sd.sweep_copy, prepared.sweep.file.read_bytes())
    data = _new_manifest(prepared, sd)
    with sd.lock():
        sd.write(data)
    return data


def _check_out_dir(prepared: Prepared, out: Path) -> bool:
    """Whether ``out`` already holds this very sweep (True: continue it); raises if it holds another."""
    sd = SweepDir(out)
    if sd.exists():
        data = sd.read()
        if data.get("sweep_sha256") != prepared.sweep.sha256:
            raise SweepError(
                f"{out} holds another sweep ({data.get('name')!r}, from {data.get('sweep_file')}, whose content "
                f"differs from {prepared.sweep.file})",
                f"pass a new --out for this sweep file, or continue that sweep with `aira-dsl sweep resume {out}`")
        stored = data.get("variants") or {}
        changed = [vid for vid, plan in prepared.plans.items()
                   if (stored.get(vid) or {}).get("plan_hash") != plan.plan_hash]
        if changed:
            raise SweepError(
                f"{out} holds this sweep, but variant(s) {', '.join(changed)} now compile to other plans "
                "(a different --model or -M, or an edited spec or prompt)",
                f"continue the frozen sweep with `aira-dsl sweep resume {out}`, or pass a new --out")
        return True
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SweepError(f"{out} exists and is not a sweep directory", "pass an empty or new folder as --out")
    return False


# ------------------------------------------------------------------ launching


def _specs(sd: SweepDir, data: dict[str, Any], keys: list[str], kind: str, launch_no: int) -> list[JobSpec]:
    run = data.get("run") or {}
    root = sd.root.resolve()
    specs = []
    for key in keys:
        entry = data["jobs"][key]
        specs.append(JobSpec(sweep_dir=str(root), key=key, plan=str(root / "plans" / f"{entry['variant']}.json"),
                             task=entry["task"], seed=int(entry["seed"]), run_dir=str(root / entry["run_dir"]),
                             executor=kind, launch=launch_no, mlebench_data_dir=run.get("mlebench_data_dir"),
                             hidden_validation=run.get("hidden_validation")))
    return specs


def _launch_jobs(sd: SweepDir, executor: Executor, config: ExecutorConfig, keys: list[str], plans: dict[str, Any],
                 *, wait: bool, say: Say, command: str) -> SweepResult:
    data = sd.read()
    launch_no = len(data.get("launches", [])) + 1
    specs = _specs(sd, data, keys, config.kind, launch_no)

    def mark(manifest: dict[str, Any]) -> None:
        manifest["launches"].append({"n": launch_no, "command": command, "at": time.time(), "executor": config.kind,
                                     "resources": executor.resources(), "jobs": keys,
                                     "by": f"pid {os.getpid()} on {socket.gethostname()}"})
        manifest["executor"] = config.to_dict()
        for key in keys:
            manifest["jobs"][key].update(state="queued", launch=launch_no, executor=config.kind, engine_id=None,
                                         reason=None, queued_at=time.time())

    def record(changes: dict[str, dict[str, Any]]) -> None:
        sd.update_jobs(changes)

    ctx = LaunchContext(sweep_dir=sd, name=data["name"], specs=specs, on_change=record,
                        env_names=_env_names(plans), say=say)
    with sd.controller(f"{command}, executor {config.kind}"):
        sd.update(mark)
        executor.launch(ctx)
    if not executor.attached and wait:
        wait_for(sd, keys, say)
    final = refresh(sd)
    return _result(sd, final, keys, attached=executor.attached or wait)


def _result(sd: SweepDir, data: dict[str, Any], keys: list[str], *, attached: bool) -> SweepResult:
    counts: dict[str, int] = {}
    for entry in data["jobs"].values():
        counts[entry["state"]] = counts.get(entry["state"], 0) + 1
    return SweepResult(sd.root, keys, counts, attached, {k: e["state"] for k, e in data["jobs"].items()})


def wait_for(sd: SweepDir, keys: list[str], say: Say, poll: float = WAIT_POLL_S) -> dict[str, Any]:
    """Poll until none of ``keys`` is queued or running; prints each state change."""
    seen: dict[str, str] = {}
    blind_since: float | None = None
    while True:
        notes: list[str] = []
        data = refresh(sd, notes)
        if notes:  # the scheduler does not answer: give up after a while rather than wait forever
            blind_since = blind_since or time.monotonic()
            if time.monotonic() - blind_since > BLIND_LIMIT_S:
                raise SweepError(notes[0], f"the jobs may still run: check later with `aira-dsl sweep status {sd.root}`")
        else:
            blind_since = None
        for key in keys:
            state = data["jobs"][key]["state"]
            if seen.get(key) != state:
                if key in seen:
                    reason = data["jobs"][key].get("reason")
                    say(f"{key}: {state}" + (f" ({reason})" if reason and state != "finished" else ""))
                seen[key] = state
        if not any(data["jobs"][k]["state"] in ACTIVE for k in keys):
            return data
        time.sleep(poll)


def launch(sweep_file: str | os.PathLike[str], out: Path | None = None, *, executor_kind: str | None = None,
           wait: bool = False, say: Say = print, models: Sequence[str] = (),
           model_settings: Sequence[str] = ()) -> SweepResult:
    """``aira-dsl sweep SWEEP``: check everything, write the sweep directory, launch the grid."""
    prepared = prepare(sweep_file, executor_kind, models=models, model_settings=model_settings)
    out = out or default_out(prepared.sweep)
    again = _check_out_dir(prepared, out)
    executor = prepared.executor
    executor.preflight()
    _check_endpoint(prepared.plans)
    _check_tasks(prepared.sweep.tasks, prepared.sweep.run.mlebench_data_dir, prepared.sweep.run.hidden_validation)
    sd = SweepDir(out)
    if again:
        say(f"{out} already holds this sweep: continuing it (as `aira-dsl sweep resume {out}` would)")
        return _resume_loaded(sd, prepared.config, wait=wait, say=say)
    _create(prepared, sd)
    keys = [job.key for job in prepared.sweep.jobs()]
    return _launch_jobs(sd, executor, prepared.config, keys, prepared.plans, wait=wait, say=say, command="launch")


def _load_plans(sd: SweepDir, data: dict[str, Any]) -> dict[str, Any]:
    from aira_dsl.plan import load_plan

    plans = {}
    for vid in data["variants"]:
        path = sd.plan_path(vid)
        if not path.is_file():
            raise SweepError(f"{path} is missing: the sweep directory is incomplete",
                             "restore the plans/ folder, or start the sweep again in a new folder")
        plans[vid] = load_plan(path)
    return plans


def _file_hash(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def resume(sweep_dir: Path, *, executor_kind: str | None = None, sweep_file: Path | None = None,
           wait: bool = False, say: Say = print) -> SweepResult:
    """``aira-dsl sweep resume DIR``: relaunch every job that is not finished, queued or running."""
    sd = SweepDir(sweep_dir)
    data = sd.read()
    recorded = data.get("sweep_sha256")
    if sweep_file is not None:
        if not sweep_file.is_file():
            raise SweepError(f"{sweep_file}: no such file")
        if _file_hash(sweep_file) != recorded:
            raise SweepError(f"{sweep_dir} holds a sweep of {data.get('sweep_file')}, not of {sweep_file} "
                             "(their contents differ)",
                             "resume it without naming a sweep file (it uses its frozen copy), or launch "
                             f"{sweep_file} into a new folder with `aira-dsl sweep {sweep_file} --out NEW_DIR`")
    if _file_hash(sd.sweep_copy) not in (None, recorded):
        raise SweepError(f"{sd.sweep_copy} does not match the manifest's sweep hash: this folder mixes two sweeps",
                         "start the sweep again in a new folder")
    original = Path(data.get("sweep_file") or "")
    if sweep_file is None and original.is_file() and _file_hash(original) != recorded:
        say(f"note: {original} changed since the sweep was launched; the resume uses the frozen plans and grid")
    config = ExecutorConfig.from_dict(data.get("executor") or {}).with_kind(executor_kind)
    return _resume_loaded(sd, config, wait=wait, say=say)


def _resume_loaded(sd: SweepDir, config: ExecutorConfig, *, wait: bool, say: Say) -> SweepResult:
    if sd.controller_alive():
        raise SweepError(f"{sd.root} is being run by another aira-dsl process",
                         "wait for it to end (see `aira-dsl sweep status`), then resume")
    data = refresh(sd)
    order = data.get("order") or list(data["jobs"])
    keys = [k for k in order if data["jobs"][k]["state"] in RELAUNCH]
    if not keys:
        active = [k for k in order if data["jobs"][k]["state"] in ACTIVE]
        say(f"nothing to relaunch: {len(order) - len(active)} job(s) finished"
            + (f", {len(active)} queued or running" if active else ""))
        return _result(sd, data, [], attached=True)
    plans = _load_plans(sd, data)
    executor = make_executor(config)
    executor.preflight()
    _check_endpoint(plans)
    say(f"relaunching {len(keys)} job(s) on {config.kind} (runs that had started continue with --resume)")
    return _launch_jobs(sd, executor, config, keys, plans, wait=wait, say=say, command="resume")

