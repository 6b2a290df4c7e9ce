"""MLE-bench's harness flow without the harness: agents/aira-dsl/start.sh in a temp root laid out
like MLE-bench's container, with a stand-in of its grading server's /validate on 127.0.0.1.

The container's contract, as MLE-bench's environment/ and agents/ folders define it: public data
(with description.md) at home/data and no private data anywhere; home/validate_submission.sh
posting to the grading server; the agent writes home/submission/submission.csv, its code to
home/code and its logs to home/logs. start.sh is run with the path variables pointing into the temp
root, as a real process, against the scripted OpenAI-compatible server.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from aira_dsl.harness import BestMirror, HarnessPaths, budget_overrides, gpu_overrides
from aira_dsl.llm.scripted import ScriptedServer

REPO = Path(__file__).resolve().parents[2]
START = REPO / "agents" / "aira-dsl" / "start.sh"
CLASSES = ("EAP", "HPL", "MWS")
IDS = [f"id{i:05d}" for i in range(30)]


class GradingServerStandIn:
    """Answers POST /validate like MLE-bench's grading server (environment/grading_server.py):
    ``{"result": "Submission is valid."}`` or ``{"result": "Submission invalid! ...<grader error>"}``.
    Its check is the spooky grader's first rule: one row per answer id, probabilities summing to 1."""

    def __init__(self, answers: list[str]):
        self.answers = answers
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._reply(200, {"status": "running"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                message = BytesParser(policy=HTTP).parsebytes(
                    b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body)
                part = next(p for p in message.iter_parts() if p.get_param("name", header="content-disposition") == "file")
                self._reply(200, {"result": outer.verdict(part.get_payload(decode=True).decode("utf-8"))})

            def _reply(self, status: int, data: dict[str, Any]) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/validate"

    def verdict(self, text: str) -> str:
        self.requests.append(text)
        rows = list(csv.reader(io.StringIO(text)))
        prefix = "Submission invalid! The attempt to grade the submission has resulted in the following error message:\n"
        if len(rows) - 1 != len(self.answers):
            return prefix + f"Submission shape ({len(rows) - 1}, {len(rows[0]) if rows else 0}) does not match answers shape ({len(self.answers)}, 4)."
        if any(abs(sum(float(v) for v in row[1:]) - 1) > 1e-6 for row in rows[1:]):
            return prefix + "Each row in submission should sum to one, as probabilities."
        return "Submission is valid."

    def __enter__(self) -> GradingServerStandIn:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def container_root(root: Path, validate_url: str) -> Path:
    """home/ as MLE-bench's container has it: data (public only), validate_submission.sh, empty folders."""
    data = root / "home" / "data"
    data.mkdir(parents=True)
    (data / "description.md").write_text("# Spooky Author Identification\n\nPredict the author of each "
                                         "sentence (EAP, HPL, MWS). Scored by multi-class log loss.\n")
    (data / "train.csv").write_text("id,text,author\n" + "".join(
        f"tr{i},a sentence number {i},{CLASSES[i % 3]}\n" for i in range(60)))
    (data / "test.csv").write_text("id,text\n" + "".join(f"{i},another sentence\n" for i in IDS))
    (data / "sample_submission.csv").write_text(
        "id,EAP,HPL,MWS\n" + "".join(f"{i},0.403493538995863,0.287808366106543,0.308698094897594\n" for i in IDS))
    (root / "home" / "validate_submission.sh").write_text(
        "#!/bin/bash\nSUBMISSION_FILE=$1\nSERVER_URL=\"" + validate_url + "\"\n"
        'curl -X POST -F "file=@${SUBMISSION_FILE}" ${SERVER_URL}\n')
    for name in ("submission", "logs", "code", "agent"):
        (root / "home" / name).mkdir()
    return root / "home"


TOO_SHORT = """import csv
rows = list(csv.reader(open("./data/sample_submission.csv")))
with open("./submission/submission.csv", "w", newline="") as handle:
    csv.writer(handle).writerows(rows[:5])   # header + 4 of the 30 rows
print("validation log loss: 1.05")
"""
COPY_SAMPLE = """import shutil, time
time.sleep(1)
shutil.copy("./data/sample_submission.csv", "./submission/submission.csv")
print("validation log loss: 1.09")
"""
UNIFORM = """import csv, time
time.sleep(1)
ids = [row[0] for row in list(csv.reader(open("./data/test.csv")))[1:]]
with open("./submission/submission.csv", "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["id", "EAP", "HPL", "MWS"])
    writer.writerows([[i, 0.5, 0.25, 0.25] for i in ids])
print("validation log loss: 1.04")
"""


def answers() -> dict[str, Any]:
    return {"latency": 0.2, "rules": [
        {"name": "review", "when": {"kind": "analyze"},
         "answers": [{"review": {"is_bug": False, "summary": "ran", "metric": 1.05}}]},
        {"name": "draft", "when": {"kind": "draft"}, "answers": [{"plan": "write four rows", "code": TOO_SHORT}]},
        {"name": "debug", "when": {"kind": "debug"}, "answers": [{"plan": "copy the sample", "code": COPY_SAMPLE}]},
        {"name": "improve", "when": {"kind": "improve"}, "answers": [{"plan": "skew to EAP", "code": UNIFORM}]},
    ]}


@pytest.fixture
def harness_run(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with GradingServerStandIn(IDS) as grading, ScriptedServer(answers()) as llm:
        home = container_root(tmp_path / "root", grading.url)
        env = {**os.environ, "DATA_DIR": str(home / "data"), "SUBMISSION_DIR": str(home / "submission"),
               "LOGS_DIR": str(home / "logs"), "CODE_DIR": str(home / "code"), "AGENT_DIR": str(home / "agent"),
               "AIRA_DSL_HOME": str(REPO), "AIRA_PYTHON": sys.executable, "TIME_LIMIT_SECS": "900",
               "STEP_LIMIT": "5", "COMPETITION_ID": "spooky-author-identification",
               "OPENAI_API_KEY": "harness-test-key", "OPENAI_BASE_URL": llm.base_url}
        env.pop("MLEBENCH_VALIDATE_URL", None)
        proc = subprocess.Popen(["bash", str(START), "--spec", "aira-greedy", "--direction", "minimize",
                                 "--set", "policy.num_drafts=1", "--set", "budget.exec_timeout=60s"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        seen_during_run = None
        submission = home / "submission" / "submission.csv"
        deadline = time.monotonic() + 280
        while proc.poll() is None and time.monotonic() < deadline:
            if seen_during_run is None and submission.is_file():
                seen_during_run = submission.read_bytes()
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate()[0]
        yield {"home": home, "proc": proc, "output": output, "seen_during_run": seen_during_run,
               "grading": grading, "llm": llm}


@pytest.mark.slow
def test_start_sh_in_a_container_layout_keeps_the_best_submission_in_place(harness_run: dict[str, Any]) -> None:
    home, output = harness_run["home"], harness_run["output"]
    assert harness_run["proc"].returncode == 0, output
    run = home / "logs" / "run"
    # home/submission/submission.csv appeared while the agent was still running...
    assert harness_run["seen_during_run"] is not None, output
    # ...and at the end it is the run's best submission, byte for byte; the code is the best code.
    assert (home / "submission" / "submission.csv").read_bytes() == (run / "best" / "submission.csv").read_bytes()
    assert (home / "code" / "solution.py").read_bytes() == (run / "best" / "solution.py").read_bytes()
    assert (run / "journal.sqlite").is_file() and (home / "logs" / "aira-harness.log").is_file()
    assert (home / "logs" / "aira-summary.json").is_file()
    # The harness log says what it made of the environment.
    log = (home / "logs" / "aira-harness.log").read_text()
    assert "node code runs isolated with" in log or "node code runs UNISOLATED" in log
    assert "time budget 870 s (TIME_LIMIT_SECS=900 less 30 s)" in log and "step budget 5 (STEP_LIMIT)" in log
    # Validity came from the validation endpoint: the first draft was rejected with its message,
    # and that message reached the debug prompt.
    assert any(len(r.splitlines()) == 5 for r in harness_run["grading"].requests)
    conn = sqlite3.connect(run / "journal.sqlite")
    reason = conn.execute("SELECT submission_reason FROM executions WHERE node_id = 0").fetchone()[0]
    assert reason.startswith("Submission invalid!") and "does not match answers shape (30, 4)" in reason
    debug_prompts = [json.loads(m) for (m,) in conn.execute("SELECT messages FROM llm_calls WHERE kind='debug'")]
    assert debug_prompts and any("does not match answers shape (30, 4)" in msg["content"]
                                 for msgs in debug_prompts for msg in msgs)
    # The task is blind: no test score anywhere, and run.json says why.
    info = json.loads((run / "run.json").read_text())
    assert info["task"]["ref"] == f"mlebench-public:{home / 'data'}" and info["task"]["has_test_score"] is False
    assert any("no hidden test score" in note for note in info["task"]["notes"])
    assert info["best_test"] is None and info["medal"] is None
    # MLE-bench's benchmark rules come before the competition description in every prompt.
    first = json.loads(conn.execute("SELECT messages FROM llm_calls ORDER BY rowid LIMIT 1").fetchone()[0])
    text = "\n".join(m["content"] for m in first)
    assert text.index("# Benchmark rules") < text.index("# Spooky Author Identification")
    assert "./submission/submission.csv" in text and "There is no internet access" in text
    # Nothing was written into the data folder.
    assert sorted(p.name for p in (home / "data").iterdir()) == ["description.md", "sample_submission.csv",
                                                                  "test.csv", "train.csv"]


def test_budget_and_gpu_mapping() -> None:
    assert budget_overrides({"TIME_LIMIT_SECS": "86400", "STEP_LIMIT": "500"})[0] == ["budget.time=86100s",
                                                                                      "budget.steps=500"]
    assert budget_overrides({})[0] == []
    with pytest.raises(SystemExit, match="TIME_LIMIT_SECS"):
        budget_overrides({"TIME_LIMIT_SECS": "soon"})
    with pytest.raises(SystemExit, match="STEP_LIMIT"):
        budget_overrides({"STEP_LIMIT": "-3"})
    h100 = {"name": "NVIDIA H100 80GB HBM3", "memory_gb": 79.6}
    assert gpu_overrides([], 1)[0] == ["execution.gpus_per_worker=0"]
    assert gpu_overrides([h100] * 8, 4) == (["execution.gpus_per_worker=2"], "8 × NVIDIA H100 80GB HBM3: 2 per worker")
    assert gpu_overrides([h100], 2)[0] == ["execution.gpus_per_worker=0"]


def test_every_shipped_agent_has_a_registry_entry_that_compiles() -> None:
    """agents/aira-dsl/config.yaml: one entry per shipped agent (paper-text and dojo readings), each
    naming a shipped spec the harness finds by name and the compiler accepts."""
    import yaml

    from aira_dsl.compiler import compile_spec
    from aira_dsl.harness import _spec_path
    from aira_dsl.shipped import SHIPPED_DIR

    config = yaml.safe_load((REPO / "agents" / "aira-dsl" / "config.yaml").read_text())
    entries = {key: value for key, value in config.items() if key.startswith("aira-dsl/")}
    named = {entry["kwargs"]["spec"] for entry in entries.values()}
    agents = {path.relative_to(REPO / "specs").with_suffix("").as_posix()
              for folder in (REPO / "specs", REPO / "specs" / "dojo") for path in folder.glob("*.yaml")
              if "abstract: true" not in path.read_text() and path.stem != "demo"}
    assert agents <= named, f"no registry entry for {sorted(agents - named)}"
    for name in sorted(named):
        spec = _spec_path(name, SHIPPED_DIR)
        result = compile_spec(spec)
        assert result.plan is not None, (name, [str(d) for d in result.diagnostics])
    for key, entry in entries.items():  # dojo's presets keep their own step counting
        if entry["kwargs"]["spec"].startswith("dojo/"):
            assert "STEP_LIMIT" not in entry["env_vars"], key


def test_paths_are_overridable_and_the_mirror_replaces_atomically(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "d"), "SUBMISSION_DIR": str(tmp_path / "s"), "LOGS_DIR": str(tmp_path / "l"),
           "CODE_DIR": str(tmp_path / "c"), "AGENT_DIR": str(tmp_path / "a"), "AIRA_DSL_HOME": str(REPO)}
    paths = HarnessPaths.from_env(env)
    assert (paths.data, paths.submission, paths.code) == (tmp_path / "d", tmp_path / "s", tmp_path / "c")
    assert HarnessPaths.from_env({}).data == Path("/home/data")
    best = tmp_path / "run" / "best"
    best.mkdir(parents=True)
    lines: list[str] = []
    mirror = BestMirror(tmp_path / "run", paths, lines.append)
    assert not mirror.sync()  # no best yet: nothing to copy
    (best / "solution.py").write_text("print(1)\n")
    (best / "node.json").write_text('{"node": 3}\n')
    (best / "submission.csv").write_text("id,y\n1,0\n")
    assert mirror.sync() and (tmp_path / "s" / "submission.csv").read_text() == "id,y\n1,0\n"
    assert not mirror.sync()  # unchanged
    inode = (tmp_path / "s" / "submission.csv").stat().st_ino
    (best / "node.json").write_text('{"node": 5}\n')
    (best / "submission.csv").write_text("id,y\n1,1\n")
    assert mirror.sync() and (tmp_path / "s" / "submission.csv").read_text() == "id,y\n1,1\n"
    assert (tmp_path / "s" / "submission.csv").stat().st_ino != inode  # replaced, not rewritten in place
    assert lines[-1].startswith("best submission is now node 5")


# ------------------------------------------------------------------------------------------------
# The same agent through MLE-bench's own container runner (agents/run.py, environment/), in Docker.

STANDIN = REPO / "tests" / "tasks" / "mlebench_env"
BASE_WHEELS = ("pip", "numpy", "pandas", "scikit-learn", "scipy", "pyyaml", "flask", "appdirs", "diskcache",
               "py7zr", "tqdm", "tenacity")


def mlebench_source() -> Path | None:
    """The MLE-bench checkout whose agents/ and environment/ code to run: $MLEBENCH_SRC, the folder the
    installed package came from, or ../shared/vendor/mle-bench next to the repository."""
    import importlib.metadata

    candidates = [os.environ.get("MLEBENCH_SRC", "")]
    try:
        url = json.loads(importlib.metadata.distribution("mlebench").read_text("direct_url.json") or "{}").get("url", "")
        candidates.append(url.removeprefix("file://"))
    except importlib.metadata.PackageNotFoundError:
        pass
    candidates.append(str(REPO.parent / "shared" / "vendor" / "mle-bench"))
    for candidate in candidates:
        if candidate and (Path(candidate) / "agents" / "run.py").is_file():
            return Path(candidate)
    return None


def _docker_or_skip() -> Any:
    sys.path.insert(0, str(REPO / "tests" / "sandbox"))
    try:
        from sandbox_support import docker_skip_reason
    finally:
        sys.path.pop(0)
    from tests_support import skip_unless_provided

    reason = docker_skip_reason()
    if reason is not None:
        skip_unless_provided("docker", reason)
    import docker

    return docker.from_env(timeout=600)


def _build(client: Any, context: Path, tag: str, buildargs: dict[str, str]) -> None:
    import docker.errors

    try:
        previous = client.images.get(tag).id
    except docker.errors.ImageNotFound:
        previous = None
    try:
        image, _ = client.images.build(path=str(context), tag=tag, buildargs=buildargs, network_mode="none",
                                       rm=True, forcerm=True)
    except docker.errors.BuildError as exc:
        log = "".join(str(chunk.get("stream", chunk.get("error", ""))) for chunk in exc.build_log)
        pytest.fail(f"building {tag} failed: {exc}\n{log[-4000:]}")
    if previous is not None and previous != image.id:  # the image this build replaced: do not leave it dangling
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(previous)


def _pip(*args: str) -> None:
    from tests_support import skip_unless_provided

    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        skip_unless_provided("docker", f"pip {args[0]} could not fetch the wheels the offline image builds need: "
                             f"{done.stderr[-500:]}")


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_agent_image_through_mlebench_container_runner(tmp_path: Path) -> None:
    """Build a stand-in `mlebench-env` and the `aira-dsl` agent image offline, then run MLE-bench's
    run_agent.py on spooky-author-identification with the real grading server in the container."""
    import shutil

    import yaml
    from tests_support import skip_unless_provided

    if importlib_find("mlebench") is None:
        skip_unless_provided("mlebench", "the runner imports the mlebench package")
    source = mlebench_source()
    if source is None:
        skip_unless_provided("mlebench", "no MLE-bench checkout with agents/run.py (set MLEBENCH_SRC)")
    assert source is not None
    client = _docker_or_skip()
    base = os.environ.get("AIRA_DSL_DOCKER_BASE_IMAGE", "python:3.11-slim")
    # An MLE-bench tree of our own (the vendored one stays untouched): its code, our agent folder,
    # and the competition's leaderboard (the vendored ones are Git LFS pointers).
    tree = tmp_path / "mle-bench"
    shutil.copytree(source, tree, ignore=shutil.ignore_patterns("runs", "build", "*.egg-info", "__pycache__", ".git"))
    from test_mlebench_e2e import LEADERBOARDS, prepare, raw_spooky, write_leaderboard

    competition_id = "spooky-author-identification"
    write_leaderboard(tree / "mlebench" / "competitions" / competition_id / "leaderboard.csv",
                      LEADERBOARDS[competition_id])
    # The stand-in environment image, from local wheels.
    context = tmp_path / "env-context"
    shutil.copytree(STANDIN, context)
    _pip("download", "--quiet", "--only-binary=:all:", "--dest", str(context / "wheels"), *BASE_WHEELS)
    shutil.copytree(tree, context / "mle-bench")
    _build(client, context, "mlebench-env", {"BASE_IMAGE": base})
    # The agent image, exactly as documented: stage, then build the agent folder.
    agent = tree / "agents" / "aira-dsl"
    shutil.copytree(REPO / "agents" / "aira-dsl", agent, ignore=shutil.ignore_patterns("stage"))
    staged = subprocess.run(["bash", str(agent / "stage.sh"), "--with-deps"], capture_output=True, text=True,
                            timeout=900, env={**os.environ, "AIRA_DSL_REPO": str(REPO), "PYTHON": sys.executable})
    if staged.returncode != 0:
        skip_unless_provided("docker", f"stage.sh could not fetch wheels: {staged.stderr[-500:]}")
    _build(client, agent, "aira-dsl", {"PIP_OPTIONS": "--no-index --find-links /opt/aira-dsl/wheels"})
    # Register a test variant of the agent, as a user would: its model is the scripted server below.
    config = yaml.safe_load((agent / "config.yaml").read_text())
    assert {"aira-dsl/aira-greedy", "aira-dsl/aira-mcts", "aira-dsl/aira-evo", "aira-dsl/aide-greedy"} <= set(config)
    with (agent / "config.yaml").open("a") as handle:
        handle.write("\naira-dsl/test:\n  start: aira-dsl/start.sh\n  dockerfile: aira-dsl/Dockerfile\n"
                     "  kwargs_type: argparse\n  kwargs: {spec: aira-greedy, set: policy.num_drafts=1}\n"
                     "  env_vars: {TIME_LIMIT_SECS: 600, STEP_LIMIT: 3, OPENAI_API_KEY: test-key, "
                     "OPENAI_BASE_URL: 'http://127.0.0.1:8765/v1'}\n")
    # Real prepared data in MLE-bench's layout, and the scripted model in its own network namespace.
    data_dir = tmp_path / "data"
    sys.path.insert(0, str(tree))
    try:

        for name in [n for n in sys.modules if n == "mlebench" or n.startswith("mlebench.")]:
            del sys.modules[name]
        raw_spooky(data_dir)
        found = prepare(competition_id, data_dir)
        scripts = tmp_path / "scripted"
        scripts.mkdir()
        from test_mlebench_e2e import CASES

        (scripts / "answers.yaml").write_text(yaml.safe_dump(CASES[competition_id][2]))
        os.chmod(scripts, 0o755)
        llm = client.containers.run(
            "aira-dsl", entrypoint=["/opt/conda/envs/agent/bin/python", "-m", "aira_dsl", "serve-scripted",
                                    "/scripted/answers.yaml", "--host", "127.0.0.1", "--port", "8765", "-q"],
            network_mode="none", volumes={str(scripts): {"bind": "/scripted", "mode": "ro"}}, detach=True,
            user="nonroot")
        try:
            (tmp_path / "split.txt").write_text(competition_id + "\n")
            (tmp_path / "container.json").write_text(json.dumps(
                {"mem_limit": None, "shm_size": "1G", "nano_cpus": 2e9, "network_mode": f"container:{llm.id}"}))
            env = {**os.environ, "PYTHONPATH": str(tree), "OPENAI_API_KEY": "test-key"}
            done = subprocess.run([sys.executable, "run_agent.py", "--agent-id", "aira-dsl/test", "--competition-set",
                                   str(tmp_path / "split.txt"), "--data-dir", str(data_dir), "--container-config",
                                   str(tmp_path / "container.json")], cwd=tree, env=env, capture_output=True,
                                  text=True, timeout=1200)
        finally:
            llm.remove(force=True)
        assert done.returncode == 0, done.stderr[-4000:]
        groups = sorted((tree / "runs").glob("*_run-group_aira-dsl"))
        assert groups, done.stderr[-3000:]
        metadata = json.loads((groups[-1] / "metadata.json").read_text())
        assert [r["success"] for r in metadata["runs"].values()] == [True], metadata
        run_dir = next(p.parent for p in groups[-1].rglob("run.log"))
        run_log = (run_dir / "run.log").read_text()
        submission = run_dir / "submission" / "submission.csv"
        assert submission.is_file(), run_log[-4000:]
        best = run_dir / "logs" / "run" / "best" / "submission.csv"
        assert submission.read_bytes() == best.read_bytes()
        assert (run_dir / "code" / "solution.py").is_file()
        harness_log = (run_dir / "logs" / "aira-harness.log").read_text()
        assert "node code runs" in harness_log  # isolated or, without user namespaces, said plainly
        conn = sqlite3.connect(run_dir / "logs" / "run" / "journal.sqlite")
        reason = conn.execute("SELECT submission_reason FROM executions WHERE node_id = 0").fetchone()[0]
        assert "Each row in submission should sum to one, as probabilities." in reason  # the real grading server
        debug = conn.execute("SELECT messages FROM llm_calls WHERE kind = 'debug'").fetchone()[0]
        assert "Each row in submission should sum to one" in debug
        from mlebench.grade import grade_csv

        report = grade_csv(submission, found)
        assert report.valid_submission and report.silver_medal, report.to_dict()
    finally:
        sys.path.remove(str(tree))
        for name in [n for n in sys.modules if n == "mlebench" or n.startswith("mlebench.")]:
            del sys.modules[name]


def importlib_find(name: str) -> Any:
    import importlib.util

    return importlib.util.find_spec(name)
