"""The sweep directory and its manifest, ``sweep.json``.

```
<sweep_dir>/
  sweep.json        manifest: sweep file + hash, variants and plans, every job's state (atomic)
  sweep.yaml        the sweep file as launched
  plans/<variant>.json   frozen plans: jobs run these, so editing a spec later changes nothing
  runs/<job>/       one ordinary run directory per job (run.json, journal.sqlite, ...)
  jobs/<job>/       what the job itself wrote: state.json, attempts.jsonl, run.log
  engine/           the executor's own files (submitit pickles and logs, ...)
```

Only the controller (``aira-dsl sweep``, ``sweep resume``, ``sweep status``) writes
``sweep.json``, under an exclusive lock, by writing a temporary file and renaming it, so a
reader never sees a torn manifest and two controllers never lose each other's updates. Jobs
write only below ``jobs/<job>/`` and their run directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aira_dsl.atomicfile import atomic_write
from aira_dsl.sweep.errors import SweepError

__all__ = ["MANIFEST", "MANIFEST_FORMAT", "SweepDir"]

MANIFEST = "sweep.json"
MANIFEST_FORMAT = "aira-dsl-sweep/1"


class SweepDir:
    """Paths inside a sweep directory, the manifest's reader and its locked, atomic writer."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def sweep_copy(self) -> Path:
        return self.root / "sweep.yaml"

    @property
    def engine_dir(self) -> Path:
        return self.root / "engine"

    def plan_path(self, variant: str) -> Path:
        return self.root / "plans" / f"{variant}.json"

    def run_dir(self, key: str) -> Path:
        return self.root / "runs" / key

    def job_dir(self, key: str) -> Path:
        return self.root / "jobs" / key

    def exists(self) -> bool:
        return self.manifest.is_file()

    # ------------------------------------------------------------------ reading

    def read(self) -> dict[str, Any]:
        """The manifest; a :class:`SweepError` that says what the folder is when it is not a sweep."""
        if not self.root.exists():
            raise SweepError(f"{self.root}: no such directory", "pass the folder `aira-dsl sweep` wrote (--out)")
        if not self.manifest.is_file():
            hint = "pass the folder `aira-dsl sweep` wrote: it holds sweep.json"
            if (self.root / "run.json").is_file():
                hint = "this is a single run's folder: continue it with `aira-dsl run --resume`"
            raise SweepError(f"{self.root} is not a sweep directory (no {MANIFEST})", hint)
        try:
            data = json.loads(self.manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SweepError(f"{self.manifest} cannot be read: {exc}",
                             "the manifest is damaged; restore it from a backup or start a new sweep") from None
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise SweepError(f"{self.manifest} is not an aira-dsl sweep manifest (format "
                             f"{data.get('format') if isinstance(data, dict) else None!r})",
                             f"expected format {MANIFEST_FORMAT}")
        return data

    # ------------------------------------------------------------------ writing

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock of the manifest (held briefly, for one read-modify-write)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".sweep.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write(self, data: dict[str, Any]) -> None:
        data["updated_at"] = time.time()
        atomic_write(self.manifest, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")

    def update(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Read, change and write the manifest under the lock; returns what was written."""
        with self.lock():
            data = self.read()
            change(data)
            self.write(data)
            return data

    def update_jobs(self, changes: dict[str, dict[str, Any]],
                    expect: dict[str, Any] | None = None) -> dict[str, Any]:
        """Merge ``key -> fields`` into the jobs' entries (one atomic write for all of them).

        With ``expect`` (key -> state), a job's change applies only if its state is still the
        one the change was computed from (another controller may have moved it on meanwhile).
        """
        now = time.time()

        def apply(data: dict[str, Any]) -> None:
            for key, fields in changes.items():
                entry = data["jobs"].get(key)
                if entry is None or (expect is not None and entry.get("state") != expect.get(key)):
                    continue
                entry.update(fields)
                entry["updated_at"] = now

        return self.update(apply) if changes else self.read()

    # ------------------------------------------------------------------ the controller's presence

    @contextlib.contextmanager
    def controller(self, what: str) -> Iterator[None]:
        """Held while this process drives jobs itself (local pool, Ray driver).

        A second controller on the same folder is refused: it would launch the same jobs again.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".controller.lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise SweepError(f"{self.root} is being run by {holder}",
                                 "wait for it to end (or stop it), then run `aira-dsl sweep resume` again") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} on {socket.gethostname()} ({what})\n")
            handle.flush()
            yield  # the lock goes with the file's closing

    def controller_alive(self) -> bool:
        """Whether some process holds the controller lock (on this machine's view of the folder)."""
        path = self.root / ".controller.lock"
        if not path.exists():
            return False
        with open(path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
