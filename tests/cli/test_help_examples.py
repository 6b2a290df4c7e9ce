"""Every `--help` example of every command either runs, offline, or is said not to and why.

Issue 16: `exec --data tasks/penguins/public` and `view runs/aira-greedy-penguins-s0` named
folders that never exist. The examples are parsed out of each command's `--help` (the
"Examples:" block of the group, each command and each subcommand) and run with bash, in
order, in a scratch project: a git repository holding the shipped specs/, prompts/,
runtimes/ and examples/ (as a clone of aira-dsl does), HOME in the scratch folder (so
`~/.cache/aira-dsl` is the scratch one), and the few files a user writes for themselves
(the scripts `exec` runs, a render context, a task folder and a submission of their own: made
by ``_scratch`` and ``_user_files``). `<run>`
stands for a run the `demo` example made. An example that cannot run offline is listed in
NOT_OFFLINE with the reason; the test fails on an example in neither place, and on a stale
entry, so a new example has to be classified.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from aira_dsl.cli import cli

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

NOT_OFFLINE = {
    "aira-dsl run specs/aira-greedy.yaml --task penguins": "needs an LLM endpoint",
    "aira-dsl run specs/aira-greedy.yaml --task penguins --workers 2": "needs an LLM endpoint",
    "OPENAI_BASE_URL=http://127.0.0.1:8000/v1 aira-dsl run specs/aira-mcts.yaml --task diabetes":
        "needs an LLM endpoint",
    "aira-dsl run plan.json --task ./my-task --set budget.steps=50 --seed 3": "needs an LLM endpoint",
    "aira-dsl run specs/aira-greedy.yaml --task penguins --model coder=openrouter/openai/gpt-4o "
    "-M coder.temperature=0.5": "needs an OpenRouter key",
    "aira-dsl run specs/aira-greedy.yaml --task mlebench:spooky-author-identification "
    "--mlebench-data-dir <dir>": "needs MLE-bench data and an LLM endpoint",
    "aira-dsl run specs/aira-greedy.yaml --task mlebench-public:/home/data --competition-id <id>":
        "needs an MLE-bench container's /home/data",
    "aira-dsl run --resume runs/<run>": "resumes a run that an endpoint ended early",
    "aira-dsl grade --task mlebench:spaceship-titanic --mlebench-data-dir ~/mle-data sub.csv":
        "needs MLE-bench data",
    "aira-dsl exec train.py --sandbox docker-gpu --gpus 1 --format json": "needs Docker and a GPU",
    "aira-dsl serve-scripted answers.yaml": "serves until interrupted",
    "aira-dsl serve-scripted answers.yaml --port 0": "serves until interrupted",
    "aira-dsl view runs/ --serve --open": "serves until interrupted",
    "aira-dsl sweep examples/sweeps/quick.yaml --out sweeps/quick": "launches 8 runs: needs an LLM endpoint",
    "aira-dsl sweep examples/sweeps/slurm.yaml --executor slurm --wait": "needs a SLURM cluster",
    "aira-dsl sweep launch examples/sweeps/ray.yaml --out sweeps/ray --executor local":
        "launches runs: needs an LLM endpoint",
    "aira-dsl sweep status sweeps/quick": "needs the sweep launched above",
    "aira-dsl sweep status sweeps/quick --format json": "needs the sweep launched above",
    "aira-dsl sweep status sweeps/quick --format json | jq .counts": "needs the sweep launched above",
    "aira-dsl sweep resume sweeps/quick": "needs the sweep launched above",
    "aira-dsl sweep resume sweeps/big examples/sweeps/slurm.yaml --wait": "needs a SLURM cluster",
    "aira-dsl sweep resume sweeps/big --executor local": "needs a sweep launched with an endpoint",
    "aira-dsl report sweeps/quick --by spec,task": "needs the sweep launched above",
    "aira-dsl report sweeps/quick --baseline aira-greedy-drafts-1": "needs the sweep launched above",
    "aira-dsl runs sweeps/quick --format json": "needs the sweep launched above",
    "aira-dsl export sweeps/quick --to wandb --dest exports/ --project my-sweep": "needs the sweep launched above",
}
"""Examples that cannot run offline in a scratch folder, and why."""

NEEDS_MODULE = {"aira-dsl export runs/<run> --to mlflow": "mlflow"}
"""Examples that need an optional extra: run when it is installed."""

EXIT_CODES = {
    "aira-dsl diff specs/aira-greedy.yaml specs/aira-greedy-no-memory.yaml": 1,  # 1: different
    "aira-dsl diff plan.json specs/aira-mcts.yaml --format json": 1,
    "aira-dsl diff HEAD~1:specs/aira-greedy.yaml specs/aira-greedy.yaml": 1,
}

ORDER = ["tasks", "validate", "schema", "compile", "render", "diff", "demo", "", "view", "runs", "report",
         "grade", "exec", "export", "sweep", "lsp", "run", "serve-scripted"]
"""Commands (and their subcommands after them) in the order their examples run: a later example
may use what an earlier one made."""

SOLUTION = """\
import pandas as pd
train = pd.read_csv("data/train.csv")
test = pd.read_csv("data/test.csv")
label = train["species"].mode()[0]
pd.DataFrame({"id": test["id"], "species": label}).to_csv("submission/submission.csv", index=False)
print("validation accuracy: 0.44")
"""
PROBE = "import sys\nprint('probe', sys.argv[1:])\n"


def help_examples() -> dict[str, list[str]]:
    """Command path ("" for the group) → the example lines of its --help, in order."""
    found: dict[str, list[str]] = {}

    def walk(command: click.Command, path: list[str]) -> None:
        ctx = click.Context(command, info_name=" ".join(["aira-dsl", *path]))
        text = command.get_help(ctx)
        if "Examples:" in text:
            block = text.split("Examples:", 1)[1].split("\n\n", 1)[0]
            lines = [line.strip() for line in block.splitlines() if line.strip()]
            found[" ".join(path)] = [re.split(r"\s{2,}", line)[0].split("   #")[0].strip() for line in lines]
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name])

    walk(cli, [])
    return found


def test_every_command_with_options_has_examples() -> None:
    examples = help_examples()
    top = {name for name in cli.list_commands(click.Context(cli))}
    assert top <= set(examples), f"commands without examples: {sorted(top - set(examples))}"
    assert all(line.startswith(("aira-dsl ", "OPENAI_")) for lines in examples.values() for line in lines)


def test_classification_is_current() -> None:
    every = {line for lines in help_examples().values() for line in lines}
    stale = (set(NOT_OFFLINE) | set(NEEDS_MODULE) | set(EXIT_CODES)) - every
    assert not stale, f"listed here but no longer a --help example: {sorted(stale)}"


def _scratch(root: Path) -> dict[str, str]:
    """The scratch project, and the environment examples run in."""
    for folder in ("specs", "prompts", "runtimes", "examples"):
        shutil.copytree(REPO / folder, root / folder)
    home = root / "home"
    home.mkdir()
    bin_dir = root / ".bin"
    bin_dir.mkdir()
    shim = bin_dir / "aira-dsl"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m aira_dsl "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    (root / "solution.py").write_text(SOLUTION, encoding="utf-8")
    (root / "probe.py").write_text(PROBE, encoding="utf-8")
    env = {**os.environ, "HOME": str(home), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "BROWSER": "true", "NO_COLOR": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull}
    for name in ("AIRA_DSL_CACHE", "XDG_CACHE_HOME", "OPENAI_API_KEY", "OPENAI_BASE_URL", "FORCE_COLOR"):
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "first"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    spec = root / "specs" / "aira-greedy.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("num_drafts: 5", "num_drafts: 4"), encoding="utf-8")
    subprocess.run(["git", "commit", "-q", "-am", "fewer drafts"], cwd=root, env=env, check=True,
                   capture_output=True)
    return env


def _user_files(root: Path, env: dict[str, str]) -> None:
    """Files the examples expect a user to have written, made once the tasks are prepared."""
    cache = root / "home" / ".cache" / "aira-dsl" / "tasks"
    if not (root / "my-task").exists() and (cache / "penguins" / "task.yaml").is_file():
        shutil.copytree(cache / "penguins", root / "my-task")
    run = _latest_run(root)
    if not (root / "submission.csv").exists() and run is not None:
        shutil.copy(root / "runs" / run / "best" / "submission.csv", root / "submission.csv")
    if not (root / "my-context.yaml").exists():
        from aira_dsl.templates import sample_context_text

        (root / "my-context.yaml").write_text(sample_context_text("improve"), encoding="utf-8")


def _latest_run(root: Path) -> str | None:
    runs = sorted((p for p in (root / "runs").glob("*") if (p / "run.json").is_file()),
                  key=lambda p: p.stat().st_mtime) if (root / "runs").is_dir() else []
    return runs[-1].name if runs else None


def test_help_examples_run_offline(tmp_path: Path) -> None:
    if shutil.which("git") is None or shutil.which("bash") is None:
        pytest.skip("needs git and bash")
    examples = help_examples()
    tops = {path.split(" ")[0] for path in examples}
    assert tops <= set(ORDER), f"add to ORDER: {sorted(tops - set(ORDER))}"
    root = tmp_path / "project"
    root.mkdir()
    env = _scratch(root)
    ran: set[str] = set()
    failures: list[str] = []
    for command in sorted(examples, key=lambda path: (ORDER.index(path.split(" ")[0]), path)):
        for example in examples[command]:
            if example in ran or example in NOT_OFFLINE:
                continue
            module = NEEDS_MODULE.get(example)
            if module is not None:
                try:
                    __import__(module)
                except ImportError:
                    continue  # an optional extra that is not installed here
            _user_files(root, env)
            line = example
            if "<run>" in line:
                run = _latest_run(root)
                assert run is not None, f"no run for {example!r}: the demo example should have made one"
                line = line.replace("<run>", run)
            assert "<" not in line.replace("<=", ""), f"unfilled placeholder in {example!r}"
            done = subprocess.run(["bash", "-c", line], cwd=root, env=env, capture_output=True, text=True,
                                  timeout=600, stdin=subprocess.DEVNULL)
            ran.add(example)
            expected = EXIT_CODES.get(example, 0)
            if done.returncode != expected or "Traceback" in done.stderr:
                failures.append(f"$ {line}\nexit {done.returncode} (expected {expected})\n"
                                f"{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    assert not failures, "\n\n".join(failures)
    every = {line for lines in examples.values() for line in lines}
    unclassified = every - ran - set(NOT_OFFLINE) - set(NEEDS_MODULE)
    assert not unclassified, f"examples neither run nor listed in NOT_OFFLINE: {sorted(unclassified)}"
    assert len(ran) >= 35, sorted(ran)
