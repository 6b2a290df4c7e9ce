"""Supervision through real ``aira-dsl run``s: nothing of a run outlives its SIGKILLed orchestrator
(sandboxed code, detached grandchildren, the grading helper), resume removes what the killed
run left (workspaces, namespace roots), one process at a time owns a run directory, and two
orchestrators at once never share a sandbox uid."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from aira_dsl.llm.scripted import ScriptedServer
from aira_dsl.runtime.rundir import RunDir

REPO = Path(__file__).resolve().parents[2]
SPEC = str(REPO / "specs" / "aira-greedy.yaml")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Node code that leaves as much behind as it can: a busy child in its own session, a
# double-forked daemon, and itself in a busy loop. Each carries TOKEN in its command line.
LINGER = '''import os, subprocess, sys
TOKEN = "{token}"
subprocess.Popen([sys.executable, "-c", "while True: pass", TOKEN], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(3600)", TOKEN])
    os._exit(0)
print("lingering", flush=True)
os.execv(sys.executable, [sys.executable, "-c", "while True: pass", TOKEN])
'''
GOOD = ('import shutil\nshutil.copy("./data/sample_submission.csv", "./submission/submission.csv")\n'
        'open("./working/metrics.json", "w").write(\'{"cv_score": 0.5}\')\n')
FITNESS = ["fitness.metric=reported.cv_score", "fitness.buggy=exec.exit_code != 0 or metric == null"]


CI_DOCKER_ENV = Path(os.environ.get("AIRA_CI_DOCKER_DIR", "/tmp/aira-ci-docker")) / "env"


def _docker_env() -> dict[str, str]:
    """The engine `.ci/docker.sh start` left an env file for (unless DOCKER_HOST is set)."""
    if "DOCKER_HOST" in os.environ or not CI_DOCKER_ENV.is_file():
        return {}
    found = {}
    for line in CI_DOCKER_ENV.read_text().splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            found[name] = value
    return found


def _skip_unless(isolation: str) -> None:
    from tests_support import skip_unless_provided

    from aira_dsl.sandbox.isolation import probe_bwrap, probe_unshare

    if isolation == "docker":
        from aira_dsl.sandbox import SandboxError
        from aira_dsl.sandbox.docker_backend import docker_client

        os.environ.update({k: v for k, v in _docker_env().items() if k not in os.environ})
        try:
            docker_client(timeout=10)
        except SandboxError as exc:
            skip_unless_provided("docker", exc.message)
        if "AIRA_DSL_DOCKER_BASE_IMAGE" not in os.environ:
            skip_unless_provided("docker", "no base image for the docker-cpu profile (AIRA_DSL_DOCKER_BASE_IMAGE)")
        return
    path, reason = probe_bwrap("bwrap") if isolation == "bubblewrap" else probe_unshare()
    if path is None:
        skip_unless_provided("bubblewrap" if isolation == "bubblewrap" else "unshare", reason)


def _project(tmp_path: Path, isolation: str) -> tuple[Path, str]:
    project = tmp_path / "project"
    (project / "runtimes").mkdir(parents=True, exist_ok=True)
    if isolation == "docker":
        return project, "docker-cpu"  # the shipped profile (found in the package's runtimes/)
    name = f"supervision-{isolation}"
    (project / "runtimes" / f"{name}.yaml").write_text(
        f"version: 1\ndescription: supervision tests\nbackend: local\nisolation: {isolation}\n"
        "resource_control: auto\nlimits: {wall_time: 120s, max_processes: 256}\nkill_grace: 0.5s\n")
    return project, name


def _env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "OPENAI_API_KEY": "test-key", "NO_COLOR": "1", "AIRA_DSL_ALLOWED_ROOTS": str(tmp_path)}
    env.pop("FORCE_COLOR", None)
    return env


def _launch(args: list[str], project: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "aira_dsl", *args], cwd=project, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _sets(items: list[str]) -> list[str]:
    return [a for item in items for a in ("--set", item)]


# -- /proc ------------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time in ticks), or None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), fields[0], int(fields[19])


def _alive(pid: int, started: int) -> bool:
    info = _stat(pid)
    return info is not None and info[1] not in "ZX" and info[2] == started


def _processes() -> dict[int, tuple[int, str, int]]:
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (info := _stat(int(name))) is not None:
            found[int(name)] = info
    return found


def _descendants(root: int) -> dict[int, int]:
    """pid → start time of every live descendant of ``root``."""
    table = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[int, int] = {}
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if table[child][1] not in "ZX":
                out[child] = table[child][2]
                stack.append(child)
    return out


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _with_token(token: str) -> dict[int, int]:
    return {pid: info[2] for pid, info in _processes().items()
            if info[1] not in "ZX" and token.encode() in _cmdline(pid) and pid != os.getpid()}


def _wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# -- tests --------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("isolation", ["bubblewrap", "unshare", pytest.param("docker", marks=pytest.mark.docker)])
def test_sigkill_of_the_orchestrator_leaves_nothing_running_and_resume_cleans_up(
        isolation: str, tmp_path: Path) -> None:
    _skip_unless(isolation)
    token = f"aira-linger-{uuid.uuid4().hex[:12]}"
    project, profile = _project(tmp_path, isolation)
    run_dir = tmp_path / "run"
    env = _env(tmp_path)
    script = {"rules": [{"when": {"kind": ["draft", "debug", "improve"]},
                         "answers": [{"plan": "linger", "code": LINGER.format(token=token)}]}]}
    sets = _sets(["budget.steps=3", "budget.exec_timeout=120s", "budget.time=10m", f"execution.sandbox={profile}",
                  *FITNESS])
    with ScriptedServer(script) as server:
        proc = _launch(["run", SPEC, "--task", "penguins", "--out", str(run_dir), "--workers", "2",
                        "--base-url", server.base_url, *sets], project, env)
        try:
            # two nodes at once, each with three lingering processes
            _wait_for(lambda: len(_with_token(token)) >= 6 or proc.poll() is not None, 120, "the nodes to start")
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            time.sleep(0.5)
            family = _descendants(proc.pid)
            # the grading helper (spawn_main) and multiprocessing's resource tracker
            helpers = [pid for pid in family if b"multiprocessing" in _cmdline(pid)]
            assert any(b"spawn_main" in _cmdline(pid) for pid in helpers), "the grading helper was not found"
            lingering = _with_token(token)
            block = json.loads((run_dir / "run.json").read_text())["sandbox"].get("uid_block")
            os.kill(proc.pid, signal.SIGKILL)  # the orchestrator only, not its process group
            proc.wait(10)
            killed_at = float(Path("/proc/uptime").read_text().split()[0]) * CLK_TCK
            time.sleep(2.0)
            survivors = {pid for pid, started in {**family, **lingering}.items() if _alive(pid, started)}
            survivors |= set(_with_token(token))
            if block is not None:  # no process of its uids that was started before the kill
                for pid, (_, state, started) in _processes().items():
                    try:
                        uid = int(Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0])
                    except (OSError, IndexError, ValueError):
                        continue
                    if block[0] <= uid <= block[1] and state not in "ZX" and started < killed_at:
                        survivors.add(pid)
            assert survivors == set(), {pid: _cmdline(pid) for pid in survivors}
            assert not any(_alive(pid, family[pid]) for pid in helpers), "a multiprocessing helper outlived the run"
        finally:
            for pid in _with_token(token):  # never leave anything behind, even on failure
                os.kill(pid, signal.SIGKILL)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        dead = proc.pid
        left = [p.name for p in (run_dir / "work").iterdir() if p.name.startswith("node-")]
        assert left, "the killed run left no workspace (nothing to clean up: the test would prove nothing)"
        tmp = Path(os.environ.get("TMPDIR", "/tmp"))
        roots = list(tmp.glob(f"aira-nsroot-{dead}-*"))
        if isolation == "unshare":
            assert roots, "the killed unshare run left no namespace root"

    good = {"rules": [{"when": {"kind": ["draft", "debug", "improve"]}, "answers": [{"plan": "ok", "code": GOOD}]}]}
    with ScriptedServer(good) as server:
        resumed = subprocess.run([sys.executable, "-m", "aira_dsl", "run", "--resume", str(run_dir),
                                  "--base-url", server.base_url], cwd=project, env=env, text=True,
                                 capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "leftover workspace" in resumed.stderr
    assert not any(p.exists() for p in roots), "namespace roots of the dead orchestrator were not removed"
    assert [p.name for p in (run_dir / "work").iterdir() if p.name.startswith("node-")] == []
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"


@pytest.mark.slow
def test_one_process_at_a_time_owns_a_run_directory(tmp_path: Path) -> None:
    project, profile = _project(tmp_path, "auto")
    run_dir = tmp_path / "run"
    env = _env(tmp_path)
    slow = 'import time\ntime.sleep(60)\n'
    script = {"rules": [{"when": {"kind": ["draft", "debug", "improve"]}, "answers": [{"plan": "wait", "code": slow}]}]}
    with ScriptedServer(script) as server:
        first = _launch(["run", SPEC, "--task", "penguins", "--out", str(run_dir), "--base-url", server.base_url,
                         *_sets(["budget.steps=2", "budget.exec_timeout=120s", f"execution.sandbox={profile}",
                                 *FITNESS])], project, env)
        try:
            _wait_for(lambda: (RunDir(run_dir).exists() and RunDir(run_dir).holder() == first.pid)
                      or first.poll() is not None, 120, "the first run to start")
            assert first.poll() is None, first.communicate()[1][-3000:]
            for args in (["run", "--resume", str(run_dir)],
                         ["run", SPEC, "--task", "penguins", "--out", str(run_dir)]):
                second = subprocess.run([sys.executable, "-m", "aira_dsl", *args, "--base-url", server.base_url],
                                        cwd=project, env=env, text=True, capture_output=True, timeout=120)
                assert second.returncode == 2, (args, second.stderr)
                assert f"run in use by pid {first.pid}" in second.stderr, second.stderr
                assert "Traceback" not in second.stderr
            assert first.poll() is None  # the first run was not disturbed
        finally:
            if first.poll() is None:
                os.kill(first.pid, signal.SIGKILL)
            first.wait()
    assert RunDir(run_dir).holder() is None  # a dead owner leaves the directory free
    conn = sqlite3.connect(run_dir / "journal.sqlite")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.slow
@pytest.mark.parametrize("isolation", ["bubblewrap", "unshare"])
def test_two_orchestrators_at_once_get_disjoint_uids(isolation: str, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("sandbox uids are allocated only when aira-dsl runs as root")
    _skip_unless(isolation)
    project, profile = _project(tmp_path, isolation)
    env = _env(tmp_path)
    code = ('import os, time, shutil\nprint("uid", os.getuid(), flush=True)\ntime.sleep(3)\n'
            'shutil.copy("./data/sample_submission.csv", "./submission/submission.csv")\n'
            'open("./working/metrics.json", "w").write(\'{"cv_score": 0.5}\')\n')
    script = {"rules": [{"when": {"kind": ["draft", "debug", "improve"]}, "answers": [{"plan": "uid", "code": code}]}]}
    sets = _sets(["budget.steps=4", "budget.exec_timeout=60s", f"execution.sandbox={profile}", *FITNESS])
    with ScriptedServer(script) as server:
        runs = [_launch(["run", SPEC, "--task", "penguins", "--out", str(tmp_path / name), "--workers", "2",
                         "--base-url", server.base_url, *sets], project, env) for name in ("a", "b")]
        for proc in runs:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err[-3000:]
    uids, blocks, spans = [], [], []
    for name in ("a", "b"):
        run = json.loads((tmp_path / name / "run.json").read_text())
        blocks.append(tuple(run["sandbox"]["uid_block"]))
        spans.append((run["created_at"], run["finished_at"]))
        seen = set()
        for output in (tmp_path / name / "nodes").glob("*/output.txt"):
            seen |= {int(line.split()[1]) for line in output.read_text().splitlines() if line.startswith("uid ")}
        assert len(seen) >= 2, seen  # two workers: two uids at once within one run
        assert all(blocks[-1][0] <= uid <= blocks[-1][1] for uid in seen), (seen, blocks[-1])
        uids.append(seen)
    assert max(s[0] for s in spans) < min(s[1] for s in spans), "the two runs did not overlap"
    assert uids[0].isdisjoint(uids[1]), uids
    assert blocks[0][1] < blocks[1][0] or blocks[1][1] < blocks[0][0], blocks


def test_a_run_directory_lock_is_exclusive_and_freed_on_release(tmp_path: Path) -> None:
    from aira_dsl.runtime.rundir import RunInUse

    rundir = RunDir(tmp_path / "run")
    assert rundir.holder() is None
    lock = rundir.lock()
    assert rundir.holder() == os.getpid()
    with pytest.raises(RunInUse, match=f"run in use by pid {os.getpid()}"):
        RunDir(tmp_path / "run").lock()  # a second owner, even in this process
    lock.release()
    assert rundir.holder() is None
    with rundir.lock():
        pass


def test_the_engine_refuses_a_run_directory_someone_else_owns(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from aira_dsl.compiler import load_plan_or_spec
    from aira_dsl.runtime.engine import Engine, EngineError, RunOptions

    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    plan = load_plan_or_spec(SPEC, overrides=("budget.steps=1",))
    with RunDir(tmp_path / "run").lock():
        engine = Engine(plan, RunOptions(task_ref="penguins", out=tmp_path / "run", base_url="http://127.0.0.1:9"))
        with pytest.raises(EngineError, match=f"run in use by pid {os.getpid()}"):
            asyncio.run(engine.run())
    assert not (tmp_path / "run" / "journal.sqlite").exists()  # nothing was touched


@pytest.mark.slow
def test_a_grading_helper_killed_mid_run_costs_one_node_and_is_replaced(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected failure while handling a node (here: the grading process dies under it) marks
    that node buggy with the error; the run goes on and the next nodes are graded again."""
    import asyncio
    import threading

    from aira_dsl.compiler import load_plan_or_spec
    from aira_dsl.runtime.engine import RunOptions, build_engine

    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    token = f"aira-grade-{uuid.uuid4().hex[:12]}"
    slow = (f'import sys, time\nsys.argv.append("{token}")\n'
            f'import subprocess\nsubprocess.run([sys.executable, "-c", "import time; time.sleep(4)", "{token}"])\n'
            + GOOD)
    script = {"rules": [{"when": {"kind": ["draft", "debug", "improve"]},
                         "answers": [{"plan": "slow", "code": slow}, {"plan": "ok", "code": GOOD},
                                     {"plan": "ok", "code": GOOD}]}]}
    plan = load_plan_or_spec(SPEC, overrides=("budget.steps=3", "budget.exec_timeout=60s", *FITNESS))
    killed: list[int] = []
    with ScriptedServer(script) as server:
        scheduler = build_engine(plan, RunOptions(task_ref="penguins", out=tmp_path / "run", workers=1,
                                                  base_url=server.base_url))

        def kill_helper_while_node_0_runs() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not _with_token(token):
                time.sleep(0.05)
            pid = scheduler.pipeline.grader.pid()  # type: ignore[attr-defined]
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        killer = threading.Thread(target=kill_helper_while_node_0_runs, daemon=True)
        killer.start()
        summary = asyncio.run(scheduler.run())
        killer.join(5)
    assert killed, "the grading helper was not found"
    assert summary.status == "finished" and summary.steps == 3, summary
    conn = sqlite3.connect(tmp_path / "run" / "journal.sqlite")
    rows = conn.execute("SELECT id, buggy, error FROM nodes ORDER BY id").fetchall()
    assert rows[0][1] == 1 and "internal error while handling this node" in rows[0][2], rows[0]
    assert "grading process died" in rows[0][2]
    assert [r[1] for r in rows[1:]] == [0, 0], rows  # graded by the replacement helper
    events = [r[0] for r in conn.execute("SELECT kind FROM events")]
    assert "node-error" in events
