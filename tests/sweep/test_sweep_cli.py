"""``aira-dsl sweep``: dry runs, bad input, and sweep directories (real subprocesses, real files)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_support import script
from sweep_support import EXAMPLES, REPO, cli, endpoint_env, manifest, status_json
from tests_support import import_or_skip

from aira_dsl.llm.scripted import ScriptedServer

SPEC = REPO / "specs" / "aira-greedy.yaml"


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(script()) as srv:
        yield srv


def tiny(tmp_path: Path, name: str = "tiny", seeds: int = 1) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"""version: 1
name: {name}
specs: [{SPEC}]
tasks: [penguins]
seeds: {seeds}
run: {{workers: 1, budget: {{steps: 1, exec_timeout: 60s}}}}
""", encoding="utf-8")
    return path


def without(module: str, args: list[str], env: dict[str, str], cwd: Path) -> object:
    """The CLI in a Python where ``module`` cannot be imported (as if its extra were not installed)."""
    import subprocess

    code = f"import sys; sys.modules[{module!r}] = None; from aira_dsl.cli import main; main({args!r})"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def test_dry_run_prints_the_grid_and_writes_nothing(tmp_path: Path) -> None:
    done = cli(["sweep", str(EXAMPLES / "quick.yaml"), "--dry-run"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "2 variant(s) × 2 task(s) × 2 seed(s) = 8 job(s)" in done.stdout
    assert "aira-greedy-drafts-2.diabetes.s1" in done.stdout and "2 job(s) at once" in done.stdout
    assert list(tmp_path.iterdir()) == []
    done = cli(["sweep", str(EXAMPLES / "quick.yaml"), "--dry-run", "--executor", "slurm", "--format", "json"],
               cwd=tmp_path)
    data = json.loads(done.stdout)
    assert data["grid"]["jobs"] == 8 and data["executor"] == "slurm"
    assert data["resources"]["cpus_per_job"] == 1 and data["out"] == "sweeps/quick"
    assert {j["key"] for j in data["jobs"]} == {f"aira-greedy-drafts-{d}.{t}.s{s}" for d in (1, 2)
                                                for t in ("penguins", "diabetes") for s in (0, 1)}
    slurm = json.loads(cli(["sweep", str(EXAMPLES / "slurm.yaml"), "--dry-run", "--format", "json"]).stdout)
    assert slurm["resources"]["gres"] == "gpu:1" and slurm["total"]["gpu_hours_at_most"] == 4.0
    assert list(tmp_path.iterdir()) == []


def test_unknown_spec_or_task_launches_nothing(tmp_path: Path, server: ScriptedServer) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"specs: [{SPEC.parent / 'nope.yaml'}]\ntasks: [penguins, no-such-task]\n", encoding="utf-8")
    out = tmp_path / "out"
    done = cli(["sweep", str(bad), "--out", str(out)], env=endpoint_env(server.base_url))
    assert done.returncode == 1
    assert "unknown-spec" in done.stderr and "unknown-task" in done.stderr and "nothing was launched" in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()
    validate = cli(["validate", str(bad)])
    assert validate.returncode == 1 and "unknown-task" in validate.stdout + validate.stderr
    assert cli(["validate", str(EXAMPLES)]).returncode == 0


@pytest.mark.parametrize(("module", "kind", "extra"), [("submitit", "slurm", "slurm"), ("ray", "ray", "ray")])
def test_missing_extra_names_the_fix(tmp_path: Path, server: ScriptedServer, module: str, kind: str,
                                     extra: str) -> None:
    out = tmp_path / "out"
    done = without(module, ["sweep", str(EXAMPLES / "quick.yaml"), "--executor", kind, "--out", str(out)],
                   endpoint_env(server.base_url), tmp_path)
    assert done.returncode == 2, done.stderr  # type: ignore[attr-defined]
    assert f"pip install 'aira-dsl[{extra}]'" in done.stderr  # type: ignore[attr-defined]
    assert not out.exists()


def test_slurm_tools_missing_is_clear(tmp_path: Path, server: ScriptedServer) -> None:
    import_or_skip("submitit", "submitit", "the slurm extra (submitit) is not installed")
    env = endpoint_env(server.base_url, PATH=str(Path(sys.executable).parent))
    out = tmp_path / "out"
    done = cli(["sweep", str(EXAMPLES / "slurm.yaml"), "--out", str(out)], env=env)
    assert done.returncode == 2
    assert "SLURM is not reachable" in done.stderr and "sbatch" in done.stderr and not out.exists()


def test_no_endpoint_is_an_environment_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_BASE_URL", "OPENAI_API_KEY")}
    done = cli(["sweep", str(tiny(tmp_path)), "--out", str(tmp_path / "out")], env=env)
    assert done.returncode == 2 and "no model endpoint" in done.stderr and not (tmp_path / "out").exists()


def test_sweep_directory_belongs_to_one_sweep_file(tmp_path: Path, server: ScriptedServer) -> None:
    env = endpoint_env(server.base_url)
    out = tmp_path / "sweep"
    first = cli(["sweep", str(tiny(tmp_path)), "--out", str(out)], env=env)
    assert first.returncode == 0, first.stderr
    data = manifest(out)
    assert data["sweep_sha256"] and [e["state"] for e in data["jobs"].values()] == ["finished"]
    assert (out / "plans" / "aira-greedy.json").is_file() and (out / "sweep.yaml").is_file()
    run = out / "runs" / "aira-greedy.penguins.s0"
    assert json.loads((run / "run.json").read_text())["status"] == "finished"

    other = tiny(tmp_path, "other", seeds=2)
    refused = cli(["sweep", str(other), "--out", str(out)], env=env)
    assert refused.returncode == 2 and "holds another sweep" in refused.stderr
    refused = cli(["sweep", "resume", str(out), str(other)], env=env)
    assert refused.returncode == 2 and "not of" in refused.stderr
    assert manifest(out)["updated_at"] == data["updated_at"]  # nothing touched

    again = cli(["sweep", str(tiny(tmp_path)), "--out", str(out)], env=env)
    assert again.returncode == 0 and "already holds this sweep" in again.stderr
    resumed = cli(["sweep", "resume", str(out)], env=env)
    assert resumed.returncode == 0 and "nothing to relaunch" in resumed.stderr
    assert status_json(out)["counts"]["finished"] == 1

    not_sweep = cli(["sweep", "status", str(run)])
    assert not_sweep.returncode == 2 and "not a sweep directory" in not_sweep.stderr and "--resume" in not_sweep.stderr
    missing = cli(["sweep", "resume", str(tmp_path / "missing")])
    assert missing.returncode == 2 and "no such directory" in missing.stderr


def test_help_lists_the_subcommands() -> None:
    done = cli(["sweep", "--help"])
    assert done.returncode == 0
    for word in ("status", "resume", "--dry-run", "Exit codes"):
        assert word in done.stdout
    assert "sweep" in cli(["--help"]).stdout


def test_model_choices_and_env_file_reach_every_job_and_stay_frozen(tmp_path: Path) -> None:
    """`sweep --model`/`-M` change every variant's plan (shown by the dry run), the jobs call the
    chosen model with the endpoint from the project's .env, and a re-launch with another choice
    into the same folder is refused while `resume` keeps the frozen choice."""
    with ScriptedServer(script()) as srv:
        project = tmp_path / "project"
        (project / ".git").mkdir(parents=True)
        (project / ".env").write_text(f"OPENAI_BASE_URL={srv.base_url}\nOPENAI_API_KEY=from-dotenv\n",
                                      encoding="utf-8")
        sweep_file = tiny(project)
        env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_BASE_URL", "OPENAI_API_KEY")}
        choice = ["--model", "coder=openai/chosen-coder", "-M", "reviewer.model=chosen-reviewer"]

        dry = cli(["sweep", str(sweep_file), "--dry-run", "--format", "json", *choice], env=env, cwd=tmp_path)
        assert dry.returncode == 0, dry.stderr
        plain = cli(["sweep", str(sweep_file), "--dry-run", "--format", "json"], env=env, cwd=tmp_path)
        chosen, default = json.loads(dry.stdout)["variants"][0], json.loads(plain.stdout)["variants"][0]
        assert chosen["models"] == {"coder": "openai/chosen-coder", "reviewer": "chosen-reviewer"}
        assert chosen["plan_hash"] != default["plan_hash"] and default["models"]["coder"] != "openai/chosen-coder"

        out = tmp_path / "out"
        done = cli(["sweep", str(sweep_file), "--out", str(out), *choice], env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"loaded .env from {(project / '.env').resolve()}" in done.stderr and "from-dotenv" not in done.stderr
        asked = {r["body"]["model"] for r in srv.chat_requests()}
        assert asked == {"chosen-coder", "chosen-reviewer"}, asked

        other = cli(["sweep", str(sweep_file), "--out", str(out), "--model", "coder=openai/another"], env=env,
                    cwd=tmp_path)
        assert other.returncode == 2 and "now compile to other plans" in other.stderr, other.stderr
        resumed = cli(["sweep", "resume", str(out)], env=env, cwd=tmp_path)
        assert resumed.returncode == 0 and "nothing to relaunch" in resumed.stderr

        wrong = cli(["sweep", str(sweep_file), "--dry-run", "--model", "coderx=openai/x"], env=env, cwd=tmp_path)
        assert wrong.returncode == 1 and "no model 'coderx'" in wrong.stderr and "did you mean 'coder'" in wrong.stderr
