"""The ``local`` backend: node code as an isolated process tree on this machine.

Each execution is launched as a chain of small exec steps, each doing one thing before
replacing itself with the next, so the chain costs a few milliseconds:

``sh`` (joins the execution's cgroups) → ``prlimit`` (file size, and memory/processes when no
cgroup enforces them) → ``bwrap`` or ``unshare`` + our init (namespaces and the file system view)
→ ``setpriv`` (unprivileged uid, when we are root) → ``python script.py``.

While it runs, the supervisor reads stdout and stderr into bounded buffers and watches the wall
clock; at the deadline the code gets SIGTERM, then SIGKILL after the profile's grace period.
When the main process ends, anything it left behind is killed (through the cgroup, or the PID
namespace's init, or by scanning ``/proc``), so no process outlives its execution.

Nor does any outlive the orchestrator: bubblewrap runs with ``--die-with-parent``; on the
``unshare`` path the launcher asks for SIGKILL when the orchestrator dies (``setpriv
--pdeathsig``) and our init also watches a pidfd of the orchestrator. Sandbox uids come from a
block this process holds alone on the machine (:mod:`.uids`), and the namespace roots
(``/tmp/aira-nsroot-<pid>-*``) of orchestrators that died are removed by the next one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import logging
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aira_dsl.sandbox.base import ExecResult, Limits, SandboxBase, SandboxError, Workspace, signal_exit_code
from aira_dsl.sandbox.cgroups import CgroupGroup, CgroupSupport, detect_cgroups
from aira_dsl.sandbox.dataview import Reader, readable_view
from aira_dsl.sandbox.environment import cache_binds, sandbox_env
from aira_dsl.sandbox.gpus import nvidia_device_nodes
from aira_dsl.sandbox.isolation import bwrap_command, choose_isolation, sandbox_view, unshare_command
from aira_dsl.sandbox.output import OutputCapture
from aira_dsl.sandbox.procs import descendants, kill_pids, kill_until_gone, pids_with_env_marker
from aira_dsl.sandbox.profile import SandboxProfile
from aira_dsl.sandbox.uids import UidBlock, uid_block
from aira_dsl.sandbox.workspace import create_workspace, list_produced_files, remove_workspace

__all__ = ["LocalSandbox"]

log = logging.getLogger("aira_dsl.sandbox")

_JOIN_CGROUPS = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"'
"""The launcher's first step: put itself (and so everything it becomes) into the cgroups."""
_MEMORY_ERRORS = ("MemoryError", "std::bad_alloc", "Cannot allocate memory")
_DRAIN_SECONDS = 2.0
_READ_CHUNK = 1 << 20
NSROOT_PREFIX = "aira-nsroot-"
"""``/tmp/aira-nsroot-<orchestrator pid>-*``: empty mount points of unshare sandboxes."""
_NSROOT = re.compile(re.escape(NSROOT_PREFIX) + r"(\d+)-")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_nsroots(tmp: Path | None = None) -> list[Path]:
    """Remove namespace roots left by orchestrators that are no longer alive (they are empty
    mount points on the host; only ``rmdir`` is used, so nothing with content is ever removed)."""
    removed = []
    folder = Path(tmp or tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _NSROOT.match(entry.name)
            if match is None or not entry.is_dir(follow_symlinks=False) or _pid_alive(int(match.group(1))):
                continue
            with contextlib.suppress(OSError):
                os.rmdir(entry.path)
                removed.append(Path(entry.path))
    return removed


@functools.cache
def _setpriv_pdeathsig() -> str | None:
    """setpriv, if it supports ``--pdeathsig`` (util-linux ≥ 2.33); else None."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    true = shutil.which("true") or "/bin/true"
    try:
        done = subprocess.run([setpriv, "--pdeathsig", "KILL", "--", true], capture_output=True, timeout=10,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return setpriv if done.returncode == 0 else None


@dataclass
class _Launch:
    """Everything needed to start one execution, and what to clean up afterwards."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    status_read: int | None = None
    pass_fds: tuple[int, ...] = ()
    temp_dirs: list[Path] = field(default_factory=list)


class LocalSandbox(SandboxBase):
    """Runs node code on this machine with bubblewrap, ``unshare`` namespaces, or (if the profile
    says so) no isolation; limits through cgroups v2/v1, else rlimits."""

    def __init__(self, profile: SandboxProfile, *, workdir_root: Path, gpus: Sequence[int] = ()):
        self.profile = profile
        self.workdir_root = Path(workdir_root)
        self.gpus = list(gpus)
        self.isolation, self.binary, self.notes = choose_isolation(profile.isolation, profile.bwrap)
        self.python = profile.python or sys.executable
        if shutil.which(self.python) is None and not os.path.isfile(self.python):
            raise SandboxError(f"the sandbox interpreter {self.python} does not exist",
                               hint="fix local.python in the profile (default: the Python running aira-dsl)")
        self.cgroups = self._cgroup_support(profile.resource_control, profile.cgroup_parent)
        self.prlimit = shutil.which("prlimit")
        self.as_root = os.geteuid() == 0
        self.gpu_nodes = nvidia_device_nodes(self.gpus) if self.isolation != "none" else []
        self.warnings: list[str] = []
        self.run_warnings: list[str] = []
        if self.isolation == "none":
            self.warnings.extend(self.notes)
            log.warning("sandbox profile %s: %s", profile.name, self.notes[0])
        if not self.cgroups.available and not self.as_root and self.isolation != "none":
            self.warnings.append("no cgroups: max_processes is counted over all processes of this user")
        self.uids: UidBlock | None = None
        if self.as_root and self.isolation != "none":
            self.uids = uid_block(profile.uid)
        self.pdeathsig: str | None = None
        if self.isolation == "unshare":
            remove_dead_nsroots()
            self.pdeathsig = _setpriv_pdeathsig()

    @staticmethod
    def _cgroup_support(mode: str, parent: str | None) -> CgroupSupport:
        if mode == "rlimit":
            return detect_cgroups("none")
        prefer = {"auto": "auto", "cgroup": "auto", "cgroup-v2": "v2", "cgroup-v1": "v1"}[mode]
        support = detect_cgroups(prefer, parent)
        if mode != "auto" and not support.available:
            raise SandboxError(f"the profile asks for resource_control: {mode}, but {support.reason}",
                               hint="run as root on a machine with writable cgroups, or use "
                                    "resource_control: auto (falls back to rlimits)")
        return support

    # -- the protocol --------------------------------------------------------------------------

    def use_data(self, data_dir: Path) -> Path:
        """The folder to bind at ``./data`` for ``data_dir``: itself, or a private copy the sandbox's
        user can read (see :mod:`.dataview`); raises SandboxError naming the folder and the fix."""
        if self.isolation == "none":
            return Path(data_dir)
        reader = Reader() if self.as_root else Reader(as_self=True)
        return readable_view(Path(data_dir), reader, self.workdir_root / ".data")

    def prepare(self, node_id: str, data_dir: Path | None,
                extra_files: Mapping[str, bytes] = {}) -> Workspace:
        uid = self.uids.acquire() if self.uids is not None else None
        try:
            source = self.use_data(data_dir) if data_dir is not None else None
            return create_workspace(self.workdir_root, node_id, source, extra_files, uid,
                                    link_data=self.isolation == "none")
        except BaseException:
            if self.uids is not None:
                self.uids.release(uid)
            raise

    def cleanup(self, workspace: Workspace) -> None:
        try:
            remove_workspace(workspace.root)
        finally:
            if self.uids is not None and workspace.owner_uid is not None:
                self.uids.release(workspace.owner_uid)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "local",
            "profile": self.profile.name,
            "isolation": self.isolation,
            "isolation_requested": self.profile.isolation,
            "isolation_binary": self.binary,
            "limits_mode": self.cgroups.mode,
            "cgroups": self.cgroups.reason,
            "runs_as": "sandbox uid (unprivileged)" if self.as_root and self.isolation != "none"
            else f"uid {os.geteuid()}",
            "uid_block": [self.uids.start, self.uids.stop - 1] if self.uids is not None else None,
            "python": self.python,
            "gpus": self.gpus,
            "caches": [c.mount if self.isolation != "none" else str(c.host) for c in self.profile.present_caches()],
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }

    def run(self, workspace: Workspace, script_name_or_argv: str | Sequence[str], limits: Limits,
            env: Mapping[str, str] = {}) -> ExecResult:
        argv = self._command(script_name_or_argv)
        run_id = uuid.uuid4().hex[:16]
        marker = f"AIRA_SANDBOX_RUN={run_id}"
        group: CgroupGroup | None = None
        launch: _Launch | None = None
        try:
            if self.cgroups.available:
                group = CgroupGroup(self.cgroups, workspace.node_id or "run")
                try:
                    group.create(limits)
                except OSError as exc:
                    raise SandboxError(f"cannot create the execution's cgroup: {exc}",
                                       hint="use resource_control: rlimit in the profile") from exc
            launch = self._launch(workspace, argv, limits, env, run_id, group)
            return self._execute(launch, workspace, limits, group, OutputCapture(limits.output_bytes), marker)
        finally:
            if launch is not None:
                for directory in launch.temp_dirs:
                    shutil.rmtree(directory, ignore_errors=True)
                if launch.status_read is not None:
                    os.close(launch.status_read)
            if group is not None:
                group.remove(time.monotonic() + 2)

    # -- building the launch -------------------------------------------------------------------

    def _command(self, script_name_or_argv: str | Sequence[str]) -> list[str]:
        if isinstance(script_name_or_argv, str):
            return [self.python, script_name_or_argv]
        argv = list(script_name_or_argv)
        if not argv:
            raise SandboxError("empty command")
        if argv[0] in ("python", "python3"):
            argv[0] = self.python
        return argv

    def _rlimits(self, limits: Limits, group: CgroupGroup | None) -> list[str]:
        enforced = group.enforced if group is not None else {}
        options = ["--core=0"]
        if limits.file_size_bytes is not None:
            options.append(f"--fsize={limits.file_size_bytes}")
        if limits.memory_bytes is not None and not enforced.get("memory"):
            if self.gpus:
                # CUDA reserves far more address space than memory; RLIMIT_AS would break it.
                self.run_warnings.append("memory limit not enforced: no memory cgroup, and an address-"
                                         "space limit breaks CUDA")
            else:
                options.append(f"--as={limits.memory_bytes}")
        setuid = self.as_root and self.isolation != "none"
        if limits.max_processes is not None and not enforced.get("pids") and (setuid or not self.as_root):
            options.append(f"--nproc={limits.max_processes}")
        return options

    def _launch(self, workspace: Workspace, argv: list[str], limits: Limits, env: Mapping[str, str],
                run_id: str, group: CgroupGroup | None) -> _Launch:
        inside = self.isolation != "none"
        child_env = sandbox_env(self.profile, env, python=self.python, gpus=self.gpus, cpus=limits.cpus,
                                home=("/tmp" if inside else str(workspace.root)), run_id=run_id,
                                caches_inside=inside)
        prefix: list[str] = []
        if group is not None:
            files = [str(f) for f in group.procs_files]
            prefix += ["/bin/sh", "-c", _JOIN_CGROUPS, "sh", str(len(files)), *files]
        rlimits = self._rlimits(limits, group)
        if self.prlimit is not None:
            prefix += [self.prlimit, *rlimits, "--"]
        elif len(rlimits) > 1:
            raise SandboxError("prlimit (util-linux) is needed to apply limits without cgroups",
                               hint="install util-linux, or run where cgroups are writable")
        if not inside:
            return _Launch(argv=[*prefix, *argv], cwd=str(workspace.root), env=child_env)
        status_read, status_write = os.pipe()
        os.set_inheritable(status_write, True)
        mounts = sandbox_view(workspace_root=workspace.root, data_dir=workspace.source_data,
                              python=self.python, extra_ro=self.profile.bind_ro, gpu_nodes=self.gpu_nodes,
                              tmp_size=self.profile.tmp_size, extra_binds=cache_binds(self.profile))
        uid = workspace.owner_uid if self.as_root else None
        assert self.binary is not None
        launch = _Launch(argv=[], cwd="/", env=child_env, status_read=status_read, pass_fds=(status_write,))
        if self.isolation == "bubblewrap":
            launch.argv = [*prefix, *bwrap_command(self.binary, mounts, argv, uid=uid, status_fd=status_write)]
        else:
            root_dir = Path(tempfile.mkdtemp(prefix=f"{NSROOT_PREFIX}{os.getpid()}-"))
            launch.temp_dirs.append(root_dir)
            lifeline = _self_pidfd()
            if lifeline is not None:
                launch.pass_fds = (status_write, lifeline)
            # The launcher chain (sh, prlimit, unshare) is one process: setpriv's parent-death
            # signal, set first, stays with it through each exec.
            guard = [self.pdeathsig, "--pdeathsig", "KILL", "--"] if self.pdeathsig else []
            launch.argv = [*guard, *prefix, *unshare_command(self.binary, sys.executable, mounts, argv, child_env,
                                                             root_dir=root_dir, uid=uid, status_fd=status_write,
                                                             lifeline_fd=lifeline)]
            launch.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        return launch

    # -- running and supervising ---------------------------------------------------------------

    def _members(self, proc: subprocess.Popen[bytes], group: CgroupGroup | None,
                 marker: str) -> Callable[[], set[int]]:
        def members() -> set[int]:
            found = descendants(proc.pid)
            if group is not None:
                found |= group.pids()
            if self.isolation == "none":
                found |= pids_with_env_marker(marker.encode())
            return found
        return members

    def _execute(self, launch: _Launch, workspace: Workspace, limits: Limits, group: CgroupGroup | None,
                 capture: OutputCapture, marker: str) -> ExecResult:
        start = time.monotonic()
        try:
            proc = subprocess.Popen(launch.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, cwd=launch.cwd, env=launch.env,
                                    pass_fds=launch.pass_fds, start_new_session=True, close_fds=True)
        except OSError as exc:
            raise SandboxError(f"cannot start the sandbox ({launch.argv[0]}): {exc.strerror or exc}") from exc
        finally:
            for fd in launch.pass_fds:
                os.close(fd)
        members = self._members(proc, group, marker)
        assert proc.stdout is not None and proc.stderr is not None
        streams: dict[int, tuple[str, IO[bytes]]] = {proc.stdout.fileno(): ("stdout", proc.stdout),
                                                     proc.stderr.fileno(): ("stderr", proc.stderr)}
        for fd in streams:
            _grow_pipe(fd)
        selector = selectors.DefaultSelector()
        for fd, (name, _) in streams.items():
            selector.register(fd, selectors.EVENT_READ, name)
        pidfd = os.pidfd_open(proc.pid)
        selector.register(pidfd, selectors.EVENT_READ, "exit")
        timed_out = False
        try:
            exited = self._pump(selector, capture, start + limits.wall_time)
            if not exited:
                timed_out = True
                self._terminate(proc, group, members, selector, capture)
            self._kill_rest(proc, group, members, exited and not timed_out)
            self._pump(selector, capture, time.monotonic() + _DRAIN_SECONDS, until_eof=True)
        except BaseException:
            # Interrupted (Ctrl-C, a cancelled worker): the code must not outlive us either.
            if group is not None:
                group.kill_all(time.monotonic() + 5)
            kill_until_gone(members, time.monotonic() + 5)
            raise
        finally:
            selector.close()
            os.close(pidfd)
            for _, stream in streams.values():
                stream.close()
            if proc.poll() is None:
                kill_pids([proc.pid])
            proc.wait()
        duration = time.monotonic() - start
        self._check_setup(launch, proc.returncode, capture, timed_out)
        return self._result(proc.returncode, timed_out, duration, capture, workspace, group)

    @staticmethod
    def _pump(selector: selectors.BaseSelector, capture: OutputCapture, deadline: float,
              until_eof: bool = False) -> bool:
        """Read output until the main process exits (True) or ``deadline`` passes (False).

        With ``until_eof``, keep reading until both pipes are closed instead (used to drain what
        is left once the process tree is gone); exit events are then just consumed.
        """
        exited = False
        while True:
            if until_eof and not any(k.data != "exit" for k in selector.get_map().values()):
                return exited
            if exited and not until_eof:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return exited
            for key, _ in selector.select(remaining):
                if key.data == "exit":
                    exited = True
                    selector.unregister(key.fd)
                    continue
                try:
                    chunk = os.read(key.fd, _READ_CHUNK)
                except OSError:
                    chunk = b""
                if chunk:
                    capture.feed(key.data, chunk)
                else:
                    selector.unregister(key.fd)

    def _terminate(self, proc: subprocess.Popen[bytes], group: CgroupGroup | None,
                   members: Callable[[], set[int]], selector: selectors.BaseSelector,
                   capture: OutputCapture) -> None:
        """Timeout: SIGTERM to the code's processes, a grace period, then SIGKILL to all."""
        targets = members()
        if self.isolation != "none":
            targets.discard(proc.pid)  # the bwrap/unshare launcher: killing it would skip the grace
        kill_pids(targets, signal.SIGTERM)
        grace_end = time.monotonic() + self.profile.kill_grace
        if not self._pump(selector, capture, grace_end):
            if group is not None:
                group.kill_all(time.monotonic() + 5)
            kill_until_gone(members, time.monotonic() + 5)

    def _kill_rest(self, proc: subprocess.Popen[bytes], group: CgroupGroup | None,
                   members: Callable[[], set[int]], clean_exit: bool) -> None:
        """After the main process: nothing of the execution may survive."""
        if group is not None:
            if group.pids():
                group.kill_all(time.monotonic() + 5)
            return
        if clean_exit and self.isolation != "none":
            return  # the namespace's init has exited, and the kernel killed everything with it
        survivors = kill_until_gone(members, time.monotonic() + 5)
        if survivors - {proc.pid}:
            log.error("processes %s of a sandboxed execution could not be killed", sorted(survivors))

    def _check_setup(self, launch: _Launch, returncode: int, capture: OutputCapture, timed_out: bool) -> None:
        """Raise :class:`SandboxError` when the sandbox failed before the code started.

        bubblewrap reports ``exit-code`` on its status fd only once the command ran; our
        ``unshare`` init reports ``started`` after a successful exec, or ``error: ...``.
        """
        if timed_out:
            return
        if launch.status_read is None:
            if returncode == 125 and capture.stdout.total == 0:
                raise SandboxError("the sandbox launcher failed: " + capture.stderr.text().strip()[-500:])
            return
        os.set_blocking(launch.status_read, False)
        try:
            status = os.read(launch.status_read, 65536).decode("utf-8", "replace")
        except OSError:
            status = ""
        lines = status.splitlines()
        if "exit-code" in status or "started" in lines:
            return
        errors = [line[len("error: "):] for line in lines if line.startswith("error: ")]
        stderr = capture.stderr.text().strip()
        if not errors and self.isolation == "bubblewrap" and not stderr.startswith("bwrap: "):
            return  # killed from outside before bwrap could report; not a setup failure
        detail = (errors[0] if errors else stderr[-500:]) or f"exit status {returncode}"
        raise SandboxError(f"the {self.isolation} sandbox could not start: {detail}",
                           hint="compare with `aira-dsl exec --sandbox local-unsafe`, and check the "
                                "profile's isolation and the machine's namespace support")

    def _result(self, returncode: int, timed_out: bool, duration: float, capture: OutputCapture,
                workspace: Workspace, group: CgroupGroup | None) -> ExecResult:
        exit_code = signal_exit_code(returncode)
        stderr_text = capture.stderr.text()
        if group is not None and group.enforced.get("memory"):
            oom = group.oom_kills() > 0 or (exit_code == 137 and not timed_out and group.memory_failures() > 0)
        else:
            # rlimits: an allocation fails inside the process instead of a kernel kill
            tail = stderr_text[-4000:]
            oom = exit_code != 0 and any(word in tail for word in _MEMORY_ERRORS)
        return ExecResult(
            exit_code=exit_code, timed_out=timed_out, oom_killed=oom, duration=duration,
            stdout=capture.stdout.text(), stderr=stderr_text, output=capture.combined.text(),
            files=list_produced_files(workspace), isolation=self.isolation, limits_mode=self.cgroups.mode,
            output_truncated=capture.truncated, output_total_bytes=capture.total,
            warnings=list(dict.fromkeys([*self.warnings, *self.run_warnings])),
        )


def _self_pidfd() -> int | None:
    """A pidfd of this process for the sandbox's init to watch (it becomes readable when we end)."""
    try:
        fd = os.pidfd_open(os.getpid())
    except (OSError, AttributeError):
        return None
    os.set_inheritable(fd, True)
    return fd


def _grow_pipe(fd: int) -> None:
    """Ask for a 1 MiB pipe buffer: fewer wake-ups when code prints a lot."""
    try:
        fcntl.fcntl(fd, 1031, _READ_CHUNK)  # F_SETPIPE_SZ
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EINVAL, errno.EBUSY):
            raise

