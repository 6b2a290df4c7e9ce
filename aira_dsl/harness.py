"""Running a shipped agent inside MLE-bench's agent harness (``agents/aira-dsl/start.sh`` calls this).

MLE-bench's runner starts a container from the agent's image with the competition's public data
at ``/home/data`` (read-only, with ``description.md``), a grading server whose ``/validate``
route says whether a submission is valid, and the environment variables ``COMPETITION_ID``,
``SUBMISSION_DIR``, ``LOGS_DIR``, ``CODE_DIR`` and ``AGENT_DIR`` (plus the agent's own, e.g.
``TIME_LIMIT_SECS`` and ``STEP_LIMIT``); it runs ``start.sh`` as its non-root user, and when the
agent ends it copies the submission, logs and code folders out. This module maps that contract
onto a run:

- the task is ``mlebench-public:$DATA_DIR`` (default ``/home/data``), validity from the grading
  server (:mod:`aira_dsl.tasks.blind`);
- ``TIME_LIMIT_SECS`` and ``STEP_LIMIT`` become ``budget.time`` (less a safety margin, so the run
  ends before the harness's ``timeout``) and ``budget.steps``;
- the GPUs ``nvidia-smi`` lists are shared out among the workers (``execution.gpus_per_worker``);
- the sandbox profile is ``harness`` when bubblewrap or ``unshare`` namespaces work in the
  container (they need user namespaces, which the sysbox runtime provides), else
  ``harness-unisolated``, and the log says plainly that code then runs unisolated;
- after every node, ``$SUBMISSION_DIR/submission.csv`` is made equal to the run's
  ``best/submission.csv`` by an atomic replace (so a harness time-out still leaves the best
  submission), ``$CODE_DIR`` gets the best solution, and the run directory lives under
  ``$LOGS_DIR``.

Every ``/home/...`` path can be overridden by its environment variable, so the whole flow runs
(and is tested) outside the harness too.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aira_dsl.atomicfile import atomic_copy, atomic_write

__all__ = ["BestMirror", "HarnessPaths", "budget_overrides", "choose_profile", "gpu_overrides", "main"]

DEFAULT_SPEC = "aira-greedy"
ISOLATED_PROFILE = "harness"
UNISOLATED_PROFILE = "harness-unisolated"


@dataclass(frozen=True)
class HarnessPaths:
    """The container's folders, each overridable by the environment variable of the same role."""

    data: Path
    submission: Path
    logs: Path
    code: Path
    agent: Path
    share: Path
    """Where the shipped specs/, prompts/ and runtimes/ are (``AIRA_DSL_HOME``)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HarnessPaths:
        agent = Path(env.get("AGENT_DIR") or "/home/agent")
        return cls(data=Path(env.get("DATA_DIR") or "/home/data"),
                   submission=Path(env.get("SUBMISSION_DIR") or "/home/submission"),
                   logs=Path(env.get("LOGS_DIR") or "/home/logs"),
                   code=Path(env.get("CODE_DIR") or "/home/code"),
                   agent=agent,
                   share=Path(env.get("AIRA_DSL_HOME") or _default_share()))


def _default_share() -> Path:
    """The package's shipped assets (specs/, prompts/, runtimes/), in a checkout and a wheel alike."""
    from aira_dsl.shipped import SHIPPED_DIR

    return SHIPPED_DIR


def budget_overrides(env: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """``--set`` overrides from ``TIME_LIMIT_SECS`` and ``STEP_LIMIT``; (overrides, log lines).

    The time budget keeps a margin (2 %, between 30 s and 5 min) so the run finishes and the last
    best submission is in place before the harness's own ``timeout`` kills the agent.
    """
    out: list[str] = []
    said: list[str] = []
    raw = env.get("TIME_LIMIT_SECS", "").strip()
    if raw:
        try:
            limit = float(raw)
        except ValueError:
            raise SystemExit(f"aira-dsl harness: TIME_LIMIT_SECS must be a number of seconds, not {raw!r}") from None
        if not math.isfinite(limit) or limit <= 60:
            raise SystemExit(f"aira-dsl harness: TIME_LIMIT_SECS={raw} is too short (more than 60 s needed)")
        margin = min(300.0, max(30.0, 0.02 * limit))
        out.append(f"budget.time={int(limit - margin)}s")
        said.append(f"time budget {int(limit - margin)} s (TIME_LIMIT_SECS={int(limit)} less {int(margin)} s)")
    raw = env.get("STEP_LIMIT", "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise SystemExit(f"aira-dsl harness: STEP_LIMIT must be a positive whole number, not {raw!r}")
        out.append(f"budget.steps={int(raw)}")
        said.append(f"step budget {int(raw)} (STEP_LIMIT)")
    return out, said


def gpu_overrides(gpus: Sequence[Mapping[str, Any]], workers: int) -> tuple[list[str], str]:
    """Share the GPUs nvidia-smi lists among ``workers``: (overrides, what the log says)."""
    if not gpus:
        return ["execution.gpus_per_worker=0"], "no GPU (nvidia-smi lists none): CPU only"
    per_worker = len(gpus) // max(1, workers)
    names = ", ".join(sorted({str(g.get("name")) for g in gpus}))
    if per_worker == 0:
        return ["execution.gpus_per_worker=0"], (f"{len(gpus)} GPU(s) ({names}) for {workers} workers: too few to "
                                                 "give each one, so none is used")
    return [f"execution.gpus_per_worker={per_worker}"], f"{len(gpus)} × {names}: {per_worker} per worker"


def choose_profile() -> tuple[str, str]:
    """(profile name, log line): isolated when namespaces work here, else the unisolated one."""
    from aira_dsl.sandbox import SandboxError
    from aira_dsl.sandbox.isolation import choose_isolation

    try:
        mode, binary, _ = choose_isolation("auto", "bwrap")
    except SandboxError as exc:
        return UNISOLATED_PROFILE, (
            "node code runs UNISOLATED: no user namespaces in this container (" + exc.message + "). "
            "It runs as this user with this process's rights: it can read the agent's environment and "
            "files and reach the network; only the container (and MLE-bench's root-only /private) "
            "protects the answers. Use the sysbox runtime to get isolation.")
    return ISOLATED_PROFILE, f"node code runs isolated with {mode} ({binary})"


class BestMirror:
    """Keeps ``submission/submission.csv`` and ``code/`` equal to the run's ``best/``."""

    def __init__(self, run_dir: Path, paths: HarnessPaths, log: Callable[[str], None]):
        self.best = run_dir / "best"
        self.paths = paths
        self.log = log
        self.last: str | None = None

    def _digest(self) -> str | None:
        try:
            return hashlib.sha256((self.best / "node.json").read_bytes()
                                  + (self.best / "submission.csv").read_bytes()).hexdigest()
        except OSError:
            return None

    def sync(self) -> bool:
        """Copy a new best (atomic replace); True when something changed."""
        digest = self._digest()
        if digest is None or digest == self.last:
            return False
        self.paths.submission.mkdir(parents=True, exist_ok=True)
        self.paths.code.mkdir(parents=True, exist_ok=True)
        if (self.best / "solution.py").is_file():
            atomic_copy(self.best / "solution.py", self.paths.code / "solution.py")
        atomic_copy(self.best / "node.json", self.paths.code / "best_node.json")
        atomic_copy(self.best / "submission.csv", self.paths.submission / "submission.csv")
        self.last = digest
        try:
            node = json.loads((self.best / "node.json").read_text(encoding="utf-8")).get("node")
        except (OSError, ValueError, AttributeError):
            node = "?"
        self.log(f"best submission is now node {node}: copied to {self.paths.submission / 'submission.csv'}")
        return True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m aira_dsl.harness",
                                     description="Run a shipped aira-dsl agent inside MLE-bench's agent container.")
    parser.add_argument("--spec", default=DEFAULT_SPEC, help="a shipped spec name (specs/<name>.yaml) or a path")
    parser.add_argument("--competition-id", help="default: $COMPETITION_ID (set by MLE-bench's runner)")
    parser.add_argument("--direction", choices=["maximize", "minimize"],
                        help="the metric's direction, when no MLE-bench leaderboard is installed to say it")
    parser.add_argument("--validate-url", help="the grading server's /validate (default: from validate_submission.sh)")
    parser.add_argument("--workers", type=int, help="parallel workers (default: the spec's)")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint for every model (default: $OPENAI_BASE_URL)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                        help="a spec override, as for aira-dsl run (repeatable; wins over the harness's)")
    return parser


def _spec_path(spec: str, share: Path) -> Path:
    """A spec file, or a shipped spec by name (``aira-greedy``, ``dojo/aira-mcts``,
    ``aira-dsl:specs/aira-evo.yaml``)."""
    from aira_dsl.shipped import is_package_ref, resolve_package_ref

    if is_package_ref(spec):
        return resolve_package_ref(spec) or Path(spec)
    candidate = Path(spec)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_absolute() or spec.startswith("."):
        return candidate
    return share / "specs" / f"{spec}.yaml"


def _allow_share(share: Path) -> None:
    """Add ``AIRA_DSL_HOME`` to the allowed roots (:mod:`aira_dsl.roots`) of this process.

    The share is the shipped specs, prompts and runtimes copied elsewhere (``/opt/aira-dsl`` in
    the image, which has no ``.git`` or ``pyproject.toml``): its specs name ``../prompts/...``."""
    from aira_dsl.roots import ENV_VAR

    parts = [part for part in os.environ.get(ENV_VAR, "").split(os.pathsep) if part]
    if str(share) not in parts:
        os.environ[ENV_VAR] = os.pathsep.join([*parts, str(share)])


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run the agent (see the module docstring); the exit status of the run."""
    from aira_dsl.compiler import load_plan_or_spec
    from aira_dsl.diagnostics import DiagnosticError, render_text
    from aira_dsl.runtime.engine import Engine, EngineError, RunOptions
    from aira_dsl.sandbox.gpus import list_gpus

    args = _parser().parse_args(argv)
    env = dict(os.environ if env is None else env)
    paths = HarnessPaths.from_env(env)
    _allow_share(paths.share)
    paths.logs.mkdir(parents=True, exist_ok=True)
    log_file = (paths.logs / "aira-harness.log").open("a", encoding="utf-8")

    def log(text: str) -> None:
        line = f"[aira-dsl harness {time.strftime('%H:%M:%S')}] {text}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    try:
        profile, isolation_line = choose_profile()
        log(isolation_line)
        budget, said = budget_overrides(env)
        for line in said:
            log(line)
        spec = _spec_path(args.spec, paths.share)
        if not spec.is_file():
            log(f"error: no spec {spec} (shipped specs are in {paths.share / 'specs'}; set AIRA_DSL_HOME)")
            return 2
        base = load_plan_or_spec(spec, overrides=args.overrides, env_mode="error")
        workers = args.workers or base.execution.workers
        gpu_set, gpu_line = gpu_overrides(list_gpus(), workers)
        log(f"hardware: {gpu_line}")
        overrides = [*budget, *gpu_set, f"execution.sandbox={profile}", f"execution.workers={workers}",
                     *args.overrides]
        plan = load_plan_or_spec(spec, overrides=overrides, env_mode="error")
        options: dict[str, Any] = {}
        if args.competition_id or env.get("COMPETITION_ID"):
            options["competition_id"] = args.competition_id or env["COMPETITION_ID"]
        if args.direction:
            options["direction"] = args.direction
        if args.validate_url is not None:
            options["validate_url"] = args.validate_url
        run_dir = paths.logs / "run"
        mirror = BestMirror(run_dir, paths, log)
        run_options = RunOptions(
            task_ref=f"mlebench-public:{paths.data}", out=run_dir, seed=args.seed, workers=workers,
            task_cache_dir=Path(env.get("AIRA_DSL_CACHE") or paths.agent / "aira-cache"),
            sandbox_dirs=[paths.share / "runtimes"], base_url=args.base_url or env.get("OPENAI_BASE_URL") or None,
            task_options=options)
        log(f"spec {plan.name} ({spec}), task mlebench-public:{paths.data}, run directory {run_dir}")

        def on_node(event: Any) -> None:
            mirror.sync()

        engine = Engine(plan, run_options, on_node=on_node, on_message=log)
        try:
            summary = asyncio.run(engine.run(resume=(run_dir / "run.json").is_file()))
        except EngineError as exc:
            log(f"error: {exc}" + (f" (hint: {exc.hint})" if exc.hint else ""))
            return 2
        mirror.sync()
        atomic_write(paths.logs / "aira-summary.json", json.dumps(summary.to_dict(), indent=2, default=str) + "\n")
        log(f"run {summary.status} ({summary.stop_reason}) after {summary.steps} nodes; best node "
            f"{summary.best_node}; submission {'written' if mirror.last else 'NOT written (no valid node)'}")
        return 0 if summary.status != "failed" else 1
    except DiagnosticError as exc:
        log("error: " + render_text(exc.diagnostics).strip())
        return 2
    finally:
        log_file.close()


if __name__ == "__main__":
    sys.exit(main())
