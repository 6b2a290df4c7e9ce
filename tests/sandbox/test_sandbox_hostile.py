"""Hostile code against every available backend: each attack is contained and reported accurately,
leaves no process behind, and the next execution in the same sandbox works.

Limits are small (1-3 s, 256 MiB, 64 processes, 32 MiB files) to keep the suite fast. The
``*-rlimit`` backends share their isolation with the ``*-cgroup`` ones, so they run only the
cases about limits and process trees.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sandbox_support import ALL_BACKENDS, make_sandbox, wait_no_processes

from aira_dsl.sandbox import ExecResult, Limits, Sandbox

MiB = 1 << 20
BASE_LIMITS = Limits(wall_time=10, memory_bytes=256 * MiB, max_processes=64, output_bytes=64 * 1024,
                     file_size_bytes=32 * MiB)


@dataclass
class Env:
    """What the attacks aim at: the task's folders, a secret in the home, a listening server."""

    sandbox: Sandbox
    backend: str
    workdir: Path
    public: Path
    private: Path
    home_secret: Path
    server_port: int
    server_hits: list[str]


@pytest.fixture(scope="module", params=ALL_BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    backend: str = request.param
    base = tmp_path_factory.mktemp(f"hostile-{backend}")
    task = base / "task"
    public, private = task / "public", task / "private"
    public.mkdir(parents=True)
    private.mkdir()
    (public / "train.csv").write_text("id,y\n1,0\n")
    (private / "answers.csv").write_text("id,y\n1,SECRET-ANSWER\n")
    workdir = base / "runs" / "workspaces"
    sandbox = make_sandbox(backend, workdir)
    home_secret = Path.home() / f".aira-sandbox-test-{uuid.uuid4().hex[:8]}"
    home_secret.write_text("HOME-SECRET")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen(8)
    server.settimeout(0.2)
    hits: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, addr = server.accept()
            except OSError:
                continue
            hits.append(addr[0])
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield Env(sandbox, backend, workdir, public, private, home_secret, server.getsockname()[1], hits)
    finally:
        stop.set()
        thread.join(2)
        server.close()
        home_secret.unlink(missing_ok=True)


def run_hostile(env: Env, code: str, limits: Limits = BASE_LIMITS, args: tuple[str, ...] = (),
                extra_env: dict[str, str] | None = None) -> tuple[ExecResult, Path]:
    """Run ``code`` as a uniquely named script; assert nothing survives and the sandbox still works."""
    token = uuid.uuid4().hex[:12]
    name = f"hostile_{token}.py"
    workspace = env.sandbox.prepare(f"n-{token}", env.public, {name: code.encode()})
    try:
        result = env.sandbox.run(workspace, ["python", name, *args], limits, extra_env or {})
        assert wait_no_processes(token) == [], f"processes of the attack survived ({env.backend})"
        follow = env.sandbox.prepare(f"f-{token}", env.public, {"ok.py": b"print('ok')"})
        try:
            after = env.sandbox.run(follow, "ok.py", BASE_LIMITS)
            assert after.exit_code == 0 and after.output.strip() == "ok", after.output
            assert not after.timed_out and not after.oom_killed
        finally:
            env.sandbox.cleanup(follow)
        return result, workspace.root
    finally:
        keep = workspace.root
        env.sandbox.cleanup(workspace)
        assert not keep.exists()


def isolation_case(env: Env) -> None:
    if env.backend.endswith("-rlimit"):
        pytest.skip("isolation is the same as the cgroup variant's; covered there")


# ---------------------------------------------------------------------------------------------
# Time


def test_infinite_loop_times_out(env: Env) -> None:
    result, _ = run_hostile(env, "while True:\n    pass\n", BASE_LIMITS.override(wall_time=1.0))
    assert result.timed_out and not result.oom_killed
    assert result.exit_code in (143, 137)
    assert 1.0 <= result.duration < 1.0 + 0.5 + 3.0


def test_sleep_past_timeout(env: Env) -> None:
    result, _ = run_hostile(env, "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n",
                            BASE_LIMITS.override(wall_time=1.0))
    assert result.timed_out
    assert "sleeping" in result.output
    assert result.duration < 5


def test_sigterm_ignored_then_killed(env: Env) -> None:
    code = ("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('ignoring TERM', flush=True)\nwhile True:\n    time.sleep(0.05)\n")
    result, _ = run_hostile(env, code, BASE_LIMITS.override(wall_time=1.0))
    assert result.timed_out
    assert result.exit_code == 137  # survived SIGTERM, so it took SIGKILL
    assert "ignoring TERM" in result.output
    assert result.duration < 1.0 + 0.5 + 3.0


# ---------------------------------------------------------------------------------------------
# Processes


def test_fork_bomb_is_contained(env: Env) -> None:
    code = ("import os, time\nwhile True:\n    try:\n        os.fork()\n"
            "    except OSError:\n        time.sleep(0.01)\n")
    result, _ = run_hostile(env, code, BASE_LIMITS.override(wall_time=2.0, max_processes=32))
    assert result.timed_out
    assert result.duration < 2.0 + 0.5 + 5.0


def test_detached_grandchild_does_not_survive(env: Env) -> None:
    code = ("import os, time\npid = os.fork()\nif pid == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        time.sleep(600)\n    os._exit(0)\nos.waitpid(pid, 0)\nprint('parent done', flush=True)\n")
    result, _ = run_hostile(env, code)
    assert result.exit_code == 0 and not result.timed_out
    assert "parent done" in result.output
    assert result.duration < 5  # not held open by the grandchild's copy of stdout


def test_killing_its_parent_changes_nothing(env: Env) -> None:
    code = ("import os, signal\nppid = os.getppid()\ntry:\n    os.kill(ppid, signal.SIGKILL)\n"
            "    print('kill sent to', ppid)\nexcept OSError as exc:\n    print('kill refused:', exc)\n"
            "print('still here')\n")
    result, _ = run_hostile(env, code)
    assert result.exit_code == 0, result.output
    assert "still here" in result.output


# ---------------------------------------------------------------------------------------------
# Memory, disk, output


def test_memory_bomb_is_reported(env: Env) -> None:
    code = "chunks = []\nwhile True:\n    chunks.append(b'\\x01' * (8 << 20))\n"
    result, _ = run_hostile(env, code, BASE_LIMITS.override(wall_time=20.0))
    assert not result.timed_out
    assert result.oom_killed, (result.exit_code, result.output[-500:])
    assert result.exit_code != 0


def test_disk_fill_stops_at_file_size_limit(env: Env) -> None:
    code = ("block = b'\\0' * (1 << 20)\nwith open('working/fill.bin', 'wb') as f:\n"
            "    for _ in range(4096):\n        f.write(block)\n")
    token = uuid.uuid4().hex[:8]
    workspace = env.sandbox.prepare(f"disk-{token}", env.public, {"fill.py": code.encode()})
    try:
        result = env.sandbox.run(workspace, "fill.py", BASE_LIMITS.override(wall_time=20.0))
        size = (workspace.working_dir / "fill.bin").stat().st_size
    finally:
        env.sandbox.cleanup(workspace)
    assert result.exit_code != 0 and not result.timed_out
    assert size <= 32 * MiB
    assert "File too large" in result.output or result.exit_code == 128 + 25


def test_a_gigabyte_of_stdout_keeps_head_and_tail(env: Env) -> None:
    code = ("import sys\nsys.stdout.write('HEAD-MARKER\\n'); sys.stdout.flush()\nblock = b'x' * (1 << 20)\n"
            "for _ in range(1024):\n    sys.stdout.buffer.write(block)\n"
            "sys.stdout.buffer.flush()\nprint('\\nTAIL-MARKER', flush=True)\n")
    result, _ = run_hostile(env, code, BASE_LIMITS.override(wall_time=60.0))
    assert not result.timed_out, "1 GiB of output took longer than a minute to drain"
    assert result.exit_code == 0
    assert result.output_truncated and result.output_total_bytes >= 1 << 30
    assert result.output.startswith("HEAD-MARKER")
    assert result.output.rstrip().endswith("TAIL-MARKER")
    assert "bytes of output omitted" in result.output
    assert len(result.stdout.encode()) <= BASE_LIMITS.output_bytes + 200


def test_non_utf8_output_is_decoded(env: Env) -> None:
    code = ("import sys\nsys.stdout.buffer.write(b'ok \\xff\\xfe\\xc3 done\\n')\n"
            "sys.stderr.buffer.write(b'\\x80err\\n')\n")
    result, _ = run_hostile(env, code)
    assert result.exit_code == 0
    assert "ok \ufffd" in result.stdout and "done" in result.stdout
    assert "\ufffderr" in result.stderr


# ---------------------------------------------------------------------------------------------
# Isolation


def _host_ip() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # UDP connect sends nothing; it only picks a route
            address: str = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


NET_CODE = """
import socket, sys
port = int(sys.argv[1])
for host in sys.argv[2:]:
    try:
        socket.create_connection((host, port), timeout=2).close()
        print("CONNECTED", host)
    except OSError as exc:
        print("blocked", host, type(exc).__name__)
"""


def test_no_network(env: Env) -> None:
    isolation_case(env)
    targets = ["127.0.0.1", "192.0.2.1"] + ([ip] if (ip := _host_ip()) else [])
    result, _ = run_hostile(env, NET_CODE, args=(str(env.server_port), *targets))
    assert result.exit_code == 0, result.output
    assert "CONNECTED" not in result.output
    assert result.output.count("blocked") == len(targets)
    assert env.server_hits == []


READ_CODE = """
import os, sys
for path in sys.argv[1:]:
    try:
        if os.path.isdir(path):
            print("LISTED", path, sorted(os.listdir(path)))
        else:
            print("READ", path, open(path).read())
    except OSError as exc:
        print("denied", path, type(exc).__name__)
"""


def test_private_answers_home_and_run_dir_are_invisible(env: Env) -> None:
    isolation_case(env)
    neighbour = env.sandbox.prepare("neighbour", env.public, {"secret.txt": b"NEIGHBOUR-SECRET"})
    try:
        paths = [str(env.private / "answers.csv"), str(env.private), str(env.home_secret),
                 str(env.workdir), str(neighbour.root / "secret.txt"), str(Path.home()), "data/train.csv"]
        result, _ = run_hostile(env, READ_CODE, args=tuple(paths))
    finally:
        env.sandbox.cleanup(neighbour)
    out = result.output
    for secret in ("SECRET-ANSWER", "HOME-SECRET", "NEIGHBOUR-SECRET"):
        assert secret not in out, out
    listings = [line for line in out.splitlines() if line.startswith("LISTED")]
    assert not any(env.home_secret.name in line or "neighbour" in line for line in listings), out
    for path in paths[:5]:
        assert f"READ {path}" not in out and f"LISTED {path}" not in out, out
    assert "READ data/train.csv id,y" in out  # the public data is there
    assert out.count("denied") >= 5


WRITE_CODE = """
import sys
for path in sys.argv[1:]:
    try:
        with open(path, "w") as handle:
            handle.write("pwned")
        print("WROTE", path)
    except OSError as exc:
        print("denied", path, type(exc).__name__)
"""


def test_writes_outside_the_workspace_fail(env: Env) -> None:
    isolation_case(env)
    token = uuid.uuid4().hex[:8]
    outside = [f"/usr/pwned-{token}", f"/etc/pwned-{token}", str(env.workdir / f"pwned-{token}"),
               str(Path.home() / f"pwned-{token}"), str(env.private / f"pwned-{token}")]
    result, _ = run_hostile(env, WRITE_CODE, args=("data/train.csv", f"data/new-{token}.csv", *outside,
                                                   f"/tmp/pwned-{token}", "working/fine.txt"))
    out = result.output
    assert "WROTE working/fine.txt" in out
    assert "WROTE data/" not in out
    for path in outside:
        assert f"WROTE {path}" not in out
        assert not Path(path).exists()
    assert (env.public / "train.csv").read_text() == "id,y\n1,0\n"
    assert not (env.public / f"new-{token}.csv").exists()
    assert not Path(f"/tmp/pwned-{token}").exists()  # the sandbox's /tmp is private


def test_api_keys_never_reach_the_code(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    isolation_case(env)
    secret = "sk-test-" + uuid.uuid4().hex
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("GITHUB_TOKEN", secret)
    code = ("import os\nprint('KEY', os.environ.get('OPENAI_API_KEY'))\n"
            "print('MINE', os.environ.get('MY_SETTING'))\nprint(sorted(os.environ))\n"
            "print(open('/proc/self/environ', 'rb').read())\n")
    result, _ = run_hostile(env, code, extra_env={"OPENAI_API_KEY": secret, "MY_SETTING": "on"})
    assert result.exit_code == 0, result.output
    assert secret not in result.output
    assert "KEY None" in result.output
    assert "MINE on" in result.output


def test_process_view_is_private(env: Env) -> None:
    isolation_case(env)
    code = "import os\npids = [p for p in os.listdir('/proc') if p.isdigit()]\nprint('PIDS', len(pids))\n"
    result, _ = run_hostile(env, code)
    count = int(result.output.split("PIDS")[1].split()[0])
    assert count <= 4, result.output  # init (if any), the script; never the host's processes
    assert os.getpid() > 0
