"""The local backend's contract: workspace layout, results, isolation report, refusals, limits."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest
from sandbox_support import LOCAL_BACKENDS, local_profile, make_sandbox, skip_reason, wait_no_processes
from tests_support import skip_unless_provided

from aira_dsl.sandbox import ExecResult, Limits, Sandbox, SandboxError, create_sandbox
from aira_dsl.sandbox.isolation import probe_bwrap, probe_unshare
from aira_dsl.sandbox.local import LocalSandbox

LIMITS = Limits(wall_time=20, memory_bytes=512 << 20, max_processes=128, output_bytes=64 * 1024)
ISOLATED = ["bwrap-cgroup", "unshare-cgroup"]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    public = tmp_path / "task" / "public"
    public.mkdir(parents=True)
    (public / "train.csv").write_text("id,y\n1,0\n2,1\n")
    return public


@pytest.mark.parametrize("backend", LOCAL_BACKENDS)
def test_workspace_layout_result_and_files(backend: str, workdir: Path, data_dir: Path) -> None:
    sandbox = make_sandbox(backend, workdir)
    code = (b"import os, sys\n"
            b"print('cwd', os.getcwd(), sorted(os.listdir('.')))\n"
            b"print('data', open('data/train.csv').read().splitlines()[0])\n"
            b"print('to stderr', file=sys.stderr)\n"
            b"open('working/model.txt', 'w').write('m')\n"
            b"open('submission/submission.csv', 'w').write('id,y\\n1,0\\n')\n"
            b"open('untouched.txt').read()\n"
            b"sys.exit(3)\n")
    ws = sandbox.prepare("node-1", data_dir, {"solution.py": code, "untouched.txt": b"x", "lib/helper.py": b""})
    assert ws.root == workdir.resolve() / "node-1"
    assert ws.submission_path == ws.root / "submission" / "submission.csv"
    result = sandbox.run(ws, "solution.py", LIMITS)
    assert result.exit_code == 3 and not result.timed_out and not result.oom_killed and not result.ok
    assert "cwd /workspace ['data', 'lib', 'solution.py', 'submission', 'untouched.txt', 'working']" in result.stdout
    assert "data id,y" in result.stdout
    assert result.stderr.strip() == "to stderr"
    assert "to stderr" in result.output and "cwd" in result.output
    assert result.files == ["submission/submission.csv", "working/model.txt"]
    assert ws.submission_path.read_text() == "id,y\n1,0\n"
    assert result.isolation == {"bwrap": "bubblewrap", "unshare": "unshare"}[backend.split("-")[0]]
    if backend.endswith("rlimit"):
        assert result.limits_mode == "rlimit"
    else:
        assert result.limits_mode in ("cgroup-v1", "cgroup-v2")
    assert 0 < result.duration < 10
    data = result.to_dict()
    assert data["exit_code"] == 3 and data["files"] == result.files
    sandbox.cleanup(ws)
    assert not ws.root.exists()


@pytest.mark.parametrize("backend", ISOLATED)
def test_killed_by_signal_reads_128_plus_signal(backend: str, workdir: Path) -> None:
    sandbox = make_sandbox(backend, workdir)
    ws = sandbox.prepare("sig", None, {"s.py": b"import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"})
    result = sandbox.run(ws, "s.py", LIMITS)
    assert result.exit_code == 128 + signal.SIGKILL and not result.timed_out
    sandbox.cleanup(ws)


@pytest.mark.parametrize("backend", ISOLATED)
def test_same_interpreter_and_packages_unprivileged(backend: str, workdir: Path) -> None:
    sandbox = make_sandbox(backend, workdir)
    code = (b"import os, sys, numpy, sklearn\nprint(sys.executable)\nprint('uid', os.getuid())\n"
            b"print('home', os.environ['HOME'], 'unbuffered', os.environ.get('PYTHONUNBUFFERED'))\n"
            b"print('cuda', repr(os.environ['CUDA_VISIBLE_DEVICES']))\n"
            b"print('nvidia', [d for d in os.listdir('/dev') if d.startswith('nvidia')])\n")
    ws = sandbox.prepare("interp", None, {"s.py": code})
    result = sandbox.run(ws, ["python", "s.py"], LIMITS)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == sys.executable
    if os.geteuid() == 0:
        assert lines[1] != "uid 0" and ws.owner_uid is not None and lines[1] == f"uid {ws.owner_uid}"
    assert "home /tmp unbuffered 1" in result.stdout
    assert "cuda ''" in result.stdout and "nvidia []" in result.stdout
    sandbox.cleanup(ws)


@pytest.mark.parametrize("backend", ["bwrap-cgroup", "unshare-cgroup"])
def test_cpu_limit_through_cgroup(backend: str, workdir: Path) -> None:
    sandbox = make_sandbox(backend, workdir)
    code = (b"import time\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end:\n    pass\n"
            b"print('cpu', time.process_time())\n")
    ws = sandbox.prepare("cpu", None, {"s.py": code})
    result = sandbox.run(ws, "s.py", LIMITS.override(cpus=0.25))
    assert result.exit_code == 0, result.output
    cpu = float(result.stdout.split()[1])
    assert cpu < 0.9, f"a 0.25-CPU sandbox used {cpu:.2f}s of CPU in 1.5s"
    sandbox.cleanup(ws)


@pytest.mark.parametrize("backend", ISOLATED)
def test_broken_sandbox_is_a_sandbox_error(backend: str, workdir: Path, data_dir: Path) -> None:
    sandbox = make_sandbox(backend, workdir)
    ws = sandbox.prepare("broken", data_dir, {"s.py": b"print('never')"})
    shutil.rmtree(data_dir)  # the bind source vanished: the sandbox cannot be built
    with pytest.raises(SandboxError, match="could not start"):
        sandbox.run(ws, "s.py", LIMITS)
    sandbox.cleanup(ws)


def test_run_async_and_argv(workdir: Path) -> None:
    sandbox = make_sandbox("bwrap-cgroup", workdir)
    ws = sandbox.prepare("async", None, {"s.py": b"import sys\nprint(sys.argv[1:])\n"})
    result = asyncio.run(sandbox.run_async(ws, ["python3", "s.py", "--lr", "0.1"], LIMITS))
    assert result.stdout.strip() == "['--lr', '0.1']"
    sandbox.cleanup(ws)


def test_describe_reports_what_was_achieved(workdir: Path) -> None:
    sandbox = make_sandbox("bwrap-cgroup", workdir)
    info = sandbox.describe()
    assert info["backend"] == "local" and info["isolation"] == "bubblewrap"
    assert info["limits_mode"].startswith("cgroup-v") and info["isolation_binary"]
    assert info["warnings"] == []


def test_explicit_bubblewrap_missing_is_refused(workdir: Path) -> None:
    profile = local_profile("bubblewrap", "auto", local={"bwrap": "/nonexistent/bwrap"})
    with pytest.raises(SandboxError) as info:
        create_sandbox(profile, workdir_root=workdir)
    assert "bubblewrap" in info.value.message and info.value.hint


def test_auto_falls_back_to_unshare_then_refuses(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if probe_unshare()[0] is None:
        skip_unless_provided("unshare", probe_unshare()[1])
    profile = local_profile("auto", "auto", local={"bwrap": "/nonexistent/bwrap"})
    sandbox = create_sandbox(profile, workdir_root=workdir)
    assert isinstance(sandbox, LocalSandbox) and sandbox.isolation == "unshare"
    assert any("not installed" in note for note in sandbox.notes)
    # Neither tool on PATH: auto refuses instead of running unisolated.
    monkeypatch.setenv("PATH", str(workdir))
    probe_unshare.cache_clear()
    try:
        with pytest.raises(SandboxError) as info:
            create_sandbox(profile, workdir_root=workdir)
    finally:
        monkeypatch.undo()
        probe_unshare.cache_clear()
    assert "no isolation is available" in info.value.message
    assert "isolation: none" in (info.value.hint or "")


@pytest.mark.parametrize("resource_control", ["cgroup", "rlimit"])
def test_isolation_none_warns_but_still_cleans_up(resource_control: str, workdir: Path, data_dir: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    if resource_control == "cgroup" and (reason := skip_reason("bwrap-cgroup")) and "cgroup" in reason:
        pytest.skip(reason)
    profile = local_profile("none", resource_control)
    with caplog.at_level("WARNING", logger="aira_dsl.sandbox"):
        sandbox = create_sandbox(profile, workdir_root=workdir)
    assert any("trusted code only" in r.getMessage() for r in caplog.records)
    assert sandbox.describe()["isolation"] == "none" and sandbox.describe()["warnings"]
    token = "nonecase" + resource_control
    code = (f"# {token}\nimport os, time\nprint(open('data/train.csv').read().splitlines()[0])\n"
            "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(600)\n    os._exit(0)\n"
            "print('done')\n").encode()
    ws = sandbox.prepare("unsafe", data_dir, {f"s_{token}.py": code})
    result = sandbox.run(ws, f"s_{token}.py", LIMITS)
    assert result.exit_code == 0 and "id,y" in result.output and result.isolation == "none"
    assert result.warnings
    assert wait_no_processes(token) == []
    sandbox.cleanup(ws)
    assert data_dir.joinpath("train.csv").exists()  # cleanup did not follow the data symlink


def test_bad_inputs_to_prepare(workdir: Path, data_dir: Path) -> None:
    sandbox = make_sandbox("bwrap-cgroup", workdir)
    with pytest.raises(SandboxError, match="node id"):
        sandbox.prepare("../escape", None)
    with pytest.raises(SandboxError, match="relative path"):
        sandbox.prepare("n", None, {"../x.py": b""})
    with pytest.raises(SandboxError, match="read-only"):
        sandbox.prepare("n", None, {"data/x.csv": b""})
    with pytest.raises(SandboxError, match="does not exist"):
        sandbox.prepare("n", data_dir / "missing")
    first = sandbox.prepare("again", None, {"a.txt": b"1"})
    (first.working_dir / "old.txt").write_text("old")
    second = sandbox.prepare("again", None, {"b.txt": b"2"})
    assert not (second.working_dir / "old.txt").exists() and not (second.root / "a.txt").exists()
    sandbox.cleanup(second)


def test_workspace_is_private_to_its_uid(workdir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("per-workspace uids are used only when aira-dsl runs as root")
    sandbox = make_sandbox("bwrap-cgroup", workdir)
    a = sandbox.prepare("a", None)
    b = sandbox.prepare("b", None)
    assert a.owner_uid != b.owner_uid
    for ws in (a, b):
        info = ws.root.stat()
        assert info.st_uid == ws.owner_uid and info.st_mode & 0o777 == 0o700
    sandbox.cleanup(a)
    sandbox.cleanup(b)


def test_probe_results_are_explained() -> None:
    path, reason = probe_bwrap("/nonexistent/bwrap")
    assert path is None and "not installed" in reason


def test_concurrent_runs_in_threads_stay_apart(workdir: Path) -> None:
    sandbox = make_sandbox("bwrap-cgroup", workdir)
    assert isinstance(sandbox, Sandbox)
    spaces = [sandbox.prepare(f"par-{i}", None, {"s.py": f"import time\ntime.sleep(0.3)\nprint({i})\n".encode()})
              for i in range(3)]

    async def all_runs() -> list[ExecResult]:
        return list(await asyncio.gather(*(sandbox.run_async(ws, "s.py", LIMITS) for ws in spaces)))

    started = time.monotonic()
    results = asyncio.run(all_runs())
    assert [r.stdout.strip() for r in results] == ["0", "1", "2"]
    assert time.monotonic() - started < 0.3 * 3  # they ran side by side
    for ws in spaces:
        sandbox.cleanup(ws)
