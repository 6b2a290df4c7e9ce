"""Control groups for one execution: memory, process and CPU limits, exact kill, OOM detection.

A cgroup is the only limit mechanism that (a) covers every process the script starts, however
it detaches, (b) counts real memory rather than address space (CUDA reserves terabytes of
virtual memory, so ``RLIMIT_AS`` breaks it), and (c) tells afterwards whether the kernel's OOM
killer fired. Both hierarchies are supported: cgroup v2 (``memory.max``, ``pids.max``,
``cpu.max``, ``cgroup.kill``) and v1 (``memory.limit_in_bytes``, ``pids.max``,
``cpu.cfs_quota_us``), because CI machines only have v1 controllers writable while
GPU machines have v2. Groups are created below the cgroup this process already lives in, so
the limits of whatever runs us still apply on top.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import signal
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from aira_dsl.sandbox.base import Limits
from aira_dsl.sandbox.procs import kill_pids, process_exists

__all__ = ["CgroupGroup", "CgroupSupport", "detect_cgroups"]

PARENT_NAME = "aira-dsl"
"""Sub-folder that holds every execution's group, below the cgroup this process is in."""

V1_CONTROLLERS = ("memory", "pids", "cpu")
REQUIRED = ("memory", "pids")
_COUNTER = itertools.count()


@dataclass(frozen=True)
class CgroupSupport:
    """Which cgroup hierarchy can hold our groups, where, and with which controllers."""

    version: int | None
    reason: str
    bases: dict[str, Path] = field(default_factory=dict)
    """v1: controller → the folder our groups go in; v2: ``{"unified": folder}``."""
    controllers: frozenset[str] = frozenset()

    @property
    def available(self) -> bool:
        return self.version is not None

    @property
    def mode(self) -> str:
        return f"cgroup-v{self.version}" if self.version else "rlimit"


def _mountinfo() -> list[tuple[str, str, str, str]]:
    """(root within the hierarchy, mount point, fs type, super options) per mount."""
    mounts: list[tuple[str, str, str, str]] = []
    try:
        text = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return mounts
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        parts, tail = left.split(), right.split()
        if len(parts) >= 5 and len(tail) >= 3:
            mounts.append((parts[3], parts[4].replace("\\040", " "), tail[0], tail[2]))
    return mounts


def _own_cgroups() -> dict[str, str]:
    """controller (or ``""`` for v2) → this process's cgroup path."""
    own: dict[str, str] = {}
    try:
        text = Path("/proc/self/cgroup").read_text()
    except OSError:
        return own
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = path
    return own


def _join(mount_point: str, mount_root: str, path: str) -> Path:
    if mount_root != "/" and path.startswith(mount_root):
        path = path[len(mount_root):] or "/"
    return Path(mount_point) / path.lstrip("/")


def _try_write(path: Path, value: str) -> OSError | None:
    try:
        path.write_text(value)
    except OSError as exc:
        return exc
    return None


def _detect_v2(parent: str | None = None) -> CgroupSupport:
    own = parent or _own_cgroups().get("")
    mount = next(((root, point) for root, point, fstype, _ in _mountinfo() if fstype == "cgroup2"), None)
    if own is None or mount is None:
        return CgroupSupport(None, "no cgroup v2 hierarchy is mounted")
    base = _join(mount[1], mount[0], own) if parent is None else Path(mount[1]) / parent.lstrip("/")
    try:
        controllers = set((base / "cgroup.controllers").read_text().split())
    except OSError as exc:
        return CgroupSupport(None, f"cgroup v2 at {base} is not readable: {exc.strerror}")
    missing = [c for c in REQUIRED if c not in controllers]
    if missing:
        why = ("its parent does not delegate them; set local.cgroup_parent to a cgroup that has them"
               if parent is None and own != "/" else "they are probably bound to cgroup v1")
        return CgroupSupport(None, f"cgroup v2 at {base} lacks the {', '.join(missing)} controller(s) ({why})")
    wanted = [c for c in ("memory", "pids", "cpu") if c in controllers]
    holder = base / PARENT_NAME
    for directory in (base, holder):
        if directory is holder:
            try:
                holder.mkdir(exist_ok=True)
            except OSError as exc:
                return CgroupSupport(None, f"cannot create {holder}: {exc.strerror}")
        enabled = set((directory / "cgroup.subtree_control").read_text().split())
        for controller in wanted:
            if controller in enabled:
                continue
            problem = _try_write(directory / "cgroup.subtree_control", f"+{controller}")
            if problem is not None:
                busy = ("it holds processes, and cgroup v2 forbids controllers below such a group "
                        "(set local.cgroup_parent)")
                reason = busy if problem.errno == errno.EBUSY else (problem.strerror or str(problem))
                return CgroupSupport(None, f"cannot enable the {controller} controller below "
                                           f"{directory}: {reason}")
    return CgroupSupport(2, f"cgroup v2 at {holder}", {"unified": holder}, frozenset(wanted))


def _detect_v1() -> CgroupSupport:
    own = _own_cgroups()
    bases: dict[str, Path] = {}
    for root, point, fstype, options in _mountinfo():
        if fstype != "cgroup":
            continue
        names = set(options.split(","))
        for controller in V1_CONTROLLERS:
            if controller in names and controller in own and controller not in bases:
                bases[controller] = _join(point, root, own[controller]) / PARENT_NAME
    missing = [c for c in REQUIRED if c not in bases]
    if missing:
        return CgroupSupport(None, f"no cgroup v1 {', '.join(missing)} controller is mounted")
    for controller, parent in list(bases.items()):
        try:
            parent.mkdir(exist_ok=True)
        except OSError as exc:
            if controller in REQUIRED:
                return CgroupSupport(None, f"cgroup v1 {controller} hierarchy is not writable "
                                           f"({parent}: {exc.strerror})")
            del bases[controller]
    return CgroupSupport(1, "cgroup v1 (" + ", ".join(sorted(bases)) + ")", bases, frozenset(bases))


def _prune_stale(support: CgroupSupport) -> None:
    """Clean up groups left by aira-dsl processes that died mid-run (named ``<pid>-...``).

    When an orchestrator is killed (SIGKILL, OOM), nothing stops its sandboxes: processes left
    in its groups are orphans by definition, so they are killed before the group is removed.
    """
    for base in support.bases.values():
        try:
            entries = list(os.scandir(base))
        except OSError:
            continue
        for entry in entries:
            owner = entry.name.split("-", 1)[0]
            if entry.is_dir() and owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
                _kill_members(Path(entry.path))
                with contextlib.suppress(OSError):  # still busy: left for the next detection
                    os.rmdir(entry.path)


def _kill_members(group: Path, wait: float = 2.0) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return
        if not pids or time.monotonic() > deadline:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


@cache
def detect_cgroups(prefer: str = "auto", parent: str | None = None) -> CgroupSupport:
    """The best usable hierarchy: v2 when its controllers can be delegated, else v1, else none.

    ``prefer`` is ``auto``, ``v2``, ``v1`` or ``none``; the result's ``reason`` explains what
    was found (shown by ``describe()`` and in the docs' troubleshooting). Groups go below the
    cgroup this process is in, unless ``parent`` names another v2 cgroup (e.g. ``/`` on a
    single-purpose machine, or a slice delegated to this user): only then do sandboxed
    processes leave this process's own cgroup.
    """
    if prefer == "none":
        return CgroupSupport(None, "cgroups disabled by the profile (limits: rlimit)")
    reasons = []
    if prefer in ("auto", "v2"):
        v2 = _detect_v2(parent)
        if v2.available:
            _prune_stale(v2)
        if v2.available or prefer == "v2":
            return v2
        reasons.append(v2.reason)
    v1 = _detect_v1()
    if v1.available:
        _prune_stale(v1)
        return v1
    reasons.append(v1.reason)
    return CgroupSupport(None, "; ".join(reasons))


class CgroupGroup:
    """One execution's group (a folder per hierarchy in v1), created with its limits."""

    def __init__(self, support: CgroupSupport, label: str):
        if not support.available:
            raise ValueError("cgroups are not available: " + support.reason)
        self.support = support
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:40]
        self.name = f"{os.getpid()}-{next(_COUNTER)}-{safe}"
        self.dirs: dict[str, Path] = {key: base / self.name for key, base in support.bases.items()}
        self.enforced: dict[str, bool] = {}

    # -- setup -------------------------------------------------------------------------------

    def create(self, limits: Limits) -> None:
        """Make the folders and write the limits; raises OSError when the kernel refuses.

        In v1 only the hierarchies that limit something are joined (``pids`` always, to track
        the processes): each join costs the kernel an RCU grace period (~8 ms) per hierarchy.
        """
        if self.support.version == 1:
            wanted = {"pids": True, "memory": limits.memory_bytes is not None,
                      "cpu": limits.cpus is not None and "cpu" in self.dirs}
            self.dirs = {key: path for key, path in self.dirs.items() if wanted.get(key)}
        for directory in dict.fromkeys(self.dirs.values()):
            directory.mkdir()
        if self.support.version == 2:
            self._limits_v2(self.dirs["unified"], limits)
        else:
            self._limits_v1(limits)

    def _limits_v2(self, directory: Path, limits: Limits) -> None:
        if limits.memory_bytes is not None:
            (directory / "memory.max").write_text(str(limits.memory_bytes))
            if (directory / "memory.swap.max").exists():
                _try_write(directory / "memory.swap.max", "0")
            self.enforced["memory"] = True
        if limits.max_processes is not None:
            (directory / "pids.max").write_text(str(limits.max_processes))
            self.enforced["pids"] = True
        if limits.cpus is not None and "cpu" in self.support.controllers:
            period = 100_000
            (directory / "cpu.max").write_text(f"{max(1000, int(limits.cpus * period))} {period}")
            self.enforced["cpu"] = True

    def _limits_v1(self, limits: Limits) -> None:
        if limits.memory_bytes is not None:
            memory = self.dirs["memory"]
            (memory / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
            if (memory / "memory.memsw.limit_in_bytes").exists():
                _try_write(memory / "memory.memsw.limit_in_bytes", str(limits.memory_bytes))
            self.enforced["memory"] = True
        if limits.max_processes is not None:
            (self.dirs["pids"] / "pids.max").write_text(str(limits.max_processes))
            self.enforced["pids"] = True
        if limits.cpus is not None and "cpu" in self.dirs:
            period = 100_000
            (self.dirs["cpu"] / "cpu.cfs_period_us").write_text(str(period))
            (self.dirs["cpu"] / "cpu.cfs_quota_us").write_text(str(max(1000, int(limits.cpus * period))))
            self.enforced["cpu"] = True

    @property
    def procs_files(self) -> list[Path]:
        """The ``cgroup.procs`` files a process writes its pid into to join (once per folder)."""
        return [directory / "cgroup.procs" for directory in dict.fromkeys(self.dirs.values())]

    # -- inspection --------------------------------------------------------------------------

    def _tracking_dir(self) -> Path:
        return self.dirs["unified"] if self.support.version == 2 else self.dirs["pids"]

    def pids(self) -> set[int]:
        """Every process in the group (and in sub-groups, should any exist)."""
        found: set[int] = set()
        for root, _dirs, _files in os.walk(self._tracking_dir()):
            try:
                text = Path(root, "cgroup.procs").read_text()
            except OSError:
                continue
            found.update(int(p) for p in text.split())
        return found

    def oom_kills(self) -> int:
        """How many processes of the group the kernel's OOM killer has killed."""
        name = "memory.events" if self.support.version == 2 else "memory.oom_control"
        key = "unified" if self.support.version == 2 else "memory"
        if key not in self.dirs:
            return 0
        try:
            text = (self.dirs[key] / name).read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "oom_kill":
                return int(parts[1])
        return 0

    def memory_failures(self) -> int:
        """v1 only: how often an allocation hit the limit (a hint when oom_kill is not reported)."""
        if self.support.version != 1 or "memory" not in self.dirs:
            return 0
        try:
            return int((self.dirs["memory"] / "memory.failcnt").read_text())
        except (OSError, ValueError):
            return 0

    # -- teardown ----------------------------------------------------------------------------

    def signal_all(self, sig: int) -> None:
        kill_pids(self.pids(), sig)

    def kill_all(self, deadline: float) -> bool:
        """SIGKILL everything in the group, race-free; True when the group ended up empty."""
        if self.support.version == 2:
            kill_file = self.dirs["unified"] / "cgroup.kill"
            if kill_file.exists() and _try_write(kill_file, "1") is None:
                return self._wait_empty(deadline)
            self._frozen(self.dirs["unified"] / "cgroup.freeze", "1", "0", deadline)
            return self._wait_empty(deadline)
        # v1: kill until empty; pids.max bounds how many a fork bomb can add meanwhile.
        self._kill_loop(deadline)
        return self._wait_empty(deadline)

    def _frozen(self, state_file: Path, frozen: str, thawed: str, deadline: float) -> None:
        # Freezing first means a fork bomb cannot outrun the kill loop: nothing runs meanwhile.
        if _try_write(state_file, frozen) is not None:
            self._kill_loop(deadline)
            return
        try:
            kill_pids(self.pids(), signal.SIGKILL)
        finally:
            _try_write(state_file, thawed)

    def _kill_loop(self, deadline: float) -> None:
        while True:
            alive = self.pids()
            if not alive or time.monotonic() > deadline:
                return
            kill_pids(alive, signal.SIGKILL)
            time.sleep(0.005)

    def _wait_empty(self, deadline: float) -> bool:
        delay = 0.001
        while True:
            alive = {pid for pid in self.pids() if process_exists(pid)}
            if not alive:
                return True
            if time.monotonic() > deadline:
                return False
            kill_pids(alive, signal.SIGKILL)
            time.sleep(delay)
            delay = min(2 * delay, 0.02)

    def remove(self, deadline: float) -> None:
        """Delete the folders (after :meth:`kill_all`); retries while the kernel finishes exits."""
        for directory in reversed(list(dict.fromkeys(self.dirs.values()))):
            while True:
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.005)
