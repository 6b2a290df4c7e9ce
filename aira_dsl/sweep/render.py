"""What ``sweep --dry-run`` and ``sweep status`` print: plain tables, or JSON for programs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from aira_dsl.sweep.controller import Prepared
from aira_dsl.sweep.states import ALL_STATES

__all__ = ["dry_run_data", "render_dry_run", "render_status", "status_data"]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def _short(path: str) -> str:
    """``path`` relative to the current folder when it is inside it (what users typed, mostly)."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows) + "\n"


# ------------------------------------------------------------------ dry run


def dry_run_data(prepared: Prepared, out: Path) -> dict[str, Any]:
    sweep = prepared.sweep
    executor = prepared.executor
    jobs = sweep.jobs()
    resources = executor.resources()
    budget = {}
    for vid, plan in prepared.plans.items():
        budget[vid] = {"steps": plan.budget.steps, "time_s": plan.budget.time, "workers": plan.execution.workers,
                       "models": {name: (f"{m.provider}/{m.model}" if m.provider else m.model)
                                  for name, m in plan.models.items()}}
    total: dict[str, Any] = {"jobs": len(jobs)}
    if prepared.config.kind == "slurm":
        s = prepared.config.slurm
        total["gpu_hours_at_most"] = round(len(jobs) * s.gpus_per_job * s.time / 3600, 2)
        total["cpu_hours_at_most"] = round(len(jobs) * s.cpus_per_job * s.time / 3600, 2)
    return {
        "name": sweep.name, "sweep_file": str(sweep.file), "sweep_sha256": sweep.sha256, "out": str(out),
        "grid": {"variants": len(sweep.variants), "tasks": len(sweep.tasks), "seeds": len(sweep.seeds),
                 "jobs": len(jobs)},
        "variants": [{"id": v.id, "spec": str(v.spec), "variant": v.variant, "overrides": list(v.overrides),
                      "plan_hash": prepared.plans[v.id].plan_hash, **budget[v.id]} for v in sweep.variants],
        "tasks": list(sweep.tasks), "seeds": list(sweep.seeds),
        "executor": prepared.config.kind, "resources": resources, "total": total,
        "notes": executor.notes() + [d.message for d in prepared.warnings],
        "jobs": [{"key": j.key, "variant": j.variant, "task": j.task, "seed": j.seed,
                  "run_dir": str(out / j.run_dir)} for j in jobs],
    }


def _resources_line(kind: str, r: dict[str, Any]) -> str:
    if kind == "local":
        gpus = f"{r['gpus_per_job']} GPU(s) per job from {r['gpus']}" if r["gpus_per_job"] else "no GPUs"
        return f"local process pool: {r['jobs_at_once']} job(s) at once, {gpus}"
    if kind == "slurm":
        parts = [f"partition {r['partition'] or '(default)'}", f"gres {r['gres'] or 'none'}",
                 f"{r['cpus_per_job']} CPU(s)", f"{r['mem_gb']} GB" if r["mem_gb"] else "default memory",
                 f"time limit {_duration(r['time_s'])} (signal {_duration(r['signal_delay_s'])} before, "
                 f"up to {r['max_requeues']} requeue(s))", f"array of at most {r['array_parallelism']} at once"]
        parts += [f"account {r['account']}"] if r["account"] else []
        parts += [f"qos {r['qos']}"] if r["qos"] else []
        parts += [f"--{k}={v}" for k, v in r["sbatch"].items()]
        return "SLURM job array (submitit), per job: " + ", ".join(parts)
    return (f"Ray at {r['address']}: one task per job, num_gpus={r['gpus_per_job']:g}, "
            f"num_cpus={r['cpus_per_job']:g}")


def render_dry_run(data: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    g = data["grid"]
    lines = [f"sweep {data['name']} ({_short(data['sweep_file'])}): {g['variants']} variant(s) × {g['tasks']} task(s) × "
             f"{g['seeds']} seed(s) = {g['jobs']} job(s)",
             f"executor: {_resources_line(data['executor'], data['resources'])}"]
    if "gpu_hours_at_most" in data["total"]:
        lines.append(f"asked for at most: {data['total']['gpu_hours_at_most']:g} GPU-hours, "
                     f"{data['total']['cpu_hours_at_most']:g} CPU-hours")
    lines.append(f"output: {data['out']}")
    lines.append("variants:")
    for v in data["variants"]:
        sets = " ".join(f"--set {o}" for o in v["overrides"]) or "(no overrides)"
        lines.append(f"  {v['id']}: {_short(v['spec'])}  {sets}  [plan {v['plan_hash'][:12]}, steps {v['steps']}, "
                     f"time {_duration(v['time_s'])}]")
        lines.append("      models: " + ", ".join(f"{name}={model}" for name, model in v["models"].items()))
    lines.append(f"tasks: {', '.join(_short(t) for t in data['tasks'])}")
    lines.append(f"seeds: {', '.join(map(str, data['seeds']))}")
    for note in data["notes"]:
        lines.append(f"note: {note}")
    lines.append("jobs:")
    rows = [["KEY", "VARIANT", "TASK", "SEED"]] + [[j["key"], j["variant"], j["task"], str(j["seed"])]
                                                  for j in data["jobs"]]
    lines.append(_table(rows).rstrip("\n"))
    lines.append("(dry run: nothing was written or launched)")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ status


def _run_info(root: Path, entry: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads((root / entry["run_dir"] / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def status_data(root: Path, manifest: dict[str, Any], notes: list[str] | None = None) -> dict[str, Any]:
    order = manifest.get("order") or list(manifest["jobs"])
    counts = {state: 0 for state in ALL_STATES}
    jobs = []
    for key in order:
        entry = manifest["jobs"][key]
        counts[entry["state"]] = counts.get(entry["state"], 0) + 1
        run = _run_info(root, entry)
        jobs.append({"key": key, "variant": entry["variant"], "task": entry["task"], "seed": entry["seed"],
                     "state": entry["state"], "executor": entry.get("executor"), "engine_id": entry.get("engine_id"),
                     "engine_state": entry.get("engine_state"), "attempts": entry.get("attempts", 0),
                     "launch": entry.get("launch", 0), "gpus": entry.get("gpus"),
                     "steps": run.get("steps"), "run_status": run.get("status"),
                     "best_validation": run.get("best_validation"), "best_test": run.get("best_test"),
                     "medal": run.get("medal"), "reason": entry.get("reason"),
                     "run_dir": str(root / entry["run_dir"])})
    return {"name": manifest["name"], "sweep_dir": str(root), "sweep_file": manifest.get("sweep_file"),
            "sweep_sha256": manifest.get("sweep_sha256"), "executor": (manifest.get("executor") or {}).get("kind"),
            "total": len(order), "counts": counts, "done": counts.get("finished", 0) == len(order),
            "updated_at": manifest.get("updated_at"), "notes": list(notes or []), "jobs": jobs}


def _num(value: Any) -> str:
    return "-" if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value))


def render_status(data: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    counts = ", ".join(f"{n} {state}" for state, n in data["counts"].items() if n)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(data["updated_at"])) if data.get("updated_at") else "-"
    head = (f"sweep {data['name']} ({data['sweep_dir']}), executor {data['executor']}: "
            f"{data['counts'].get('finished', 0)}/{data['total']} finished ({counts}); updated {when}\n")
    rows = [["JOB", "STATE", "ENGINE ID", "TRIES", "STEPS", "VALID", "TEST", "REASON"]]
    for j in data["jobs"]:
        rows.append([j["key"], j["state"], j["engine_id"] or "-", str(j["attempts"]), _num(j["steps"]),
                     _num(j["best_validation"]), _num(j["best_test"]), (j["reason"] or "")[:70]])
    notes = "".join(f"note: {note}\n" for note in data.get("notes", []))
    return head + notes + _table(rows)
