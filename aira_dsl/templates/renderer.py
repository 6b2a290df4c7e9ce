"""Renders prompts in a separate renderer process that is stopped when a render overruns.

Python threads cannot be killed, and Jinja's generated code can spend unbounded time inside one
C-level operation (a huge ``str.center``, a ``repr`` of a list holding a million references to a
long string) where no cooperative check can run. So the public render functions of
:mod:`aira_dsl.templates.environment` hand each render to a small pool of long-lived renderer
processes (one per render running at once; started on first use, about 0.2 s) and wait for the
answer with a deadline:

- in the renderer, a ``SIGALRM`` at :data:`~aira_dsl.templates.limits.RENDER_TIMEOUT_S`
  interrupts the render wherever Python code runs, and the error is reported at that template
  line like any other; an address-space limit (:data:`~aira_dsl.templates.limits.RENDER_MEMORY_BYTES`)
  turns a runaway allocation into a ``MemoryError`` there, and a CPU-time limit ends the process
  even if its parent is gone;
- in the caller, a render that has not answered :data:`~aira_dsl.templates.limits.RENDER_KILL_GRACE_S`
  after the timeout has its renderer killed (``SIGKILL``): the CPU is released for certain, and
  the next render starts a fresh renderer.

A renderer that hit a limit exits after answering (its state may be half-updated); an idle one
exits when its parent does (end of input, or a change of parent id checked twice a second).
The caller's thread only waits on a pipe, so a render never holds the GIL or the event loop.

Protocol: the caller writes length-prefixed pickles ``(kind, ..., context, limits)``; the
renderer answers with a length-prefixed frame ``tag recycle payload``: ``T`` and the UTF-8
text, ``E`` and the diagnostics as JSON, or ``M`` (it no longer holds the sources named by a
digest; the caller resends them). The renderer's answers are never unpickled.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aira_dsl.diagnostics import Diagnostic, DiagnosticError, Severity
from aira_dsl.templates.limits import (
    LIMIT_CODE,
    LIMIT_HINT,
    RENDER_KILL_GRACE_S,
    RenderLimits,
    TemplateLimitError,
)

__all__ = ["render_isolated", "serve", "shutdown"]

_HEADER = struct.Struct("!Q")
_READY = b"R"
_START_TIMEOUT_S = 60.0
"""How long a new renderer may take to import (a loaded CI machine); not a template limit."""
_MAX_IDLE = 8
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = ("import sys; sys.path.insert(0, {root!r}); "
         "from aira_dsl.templates.renderer import serve; serve()")

Request = tuple[Any, ...]


class _Stopped(Exception):
    """The renderer ended or did not answer in time; ``timed_out`` says which, ``sent`` whether
    it had taken the request (a renderer that ended while idle just needs replacing)."""

    def __init__(self, timed_out: bool, sent: bool = True):
        super().__init__("timed out" if timed_out else "ended")
        self.timed_out = timed_out
        self.sent = sent


def _read_exact(fd: int, size: int, deadline: float) -> bytes:
    """``size`` bytes from ``fd``, waiting at most until ``deadline`` (``time.monotonic``)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    chunks: list[bytes] = []
    left = size
    while left:
        wait = deadline - time.monotonic()
        if wait <= 0 or not poller.poll(max(1, int(wait * 1000))):
            if time.monotonic() >= deadline:
                raise _Stopped(timed_out=True)
            continue
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise _Stopped(timed_out=False)
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _Worker:
    """One renderer process and the source sets it holds (by digest)."""

    def __init__(self) -> None:
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT.format(root=_PACKAGE_ROOT)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True, bufsize=0)
        except OSError as exc:
            raise DiagnosticError(Diagnostic("template-render",
                                             f"cannot start the template renderer: {exc}")) from None
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin = self.proc.stdin.fileno()
        self.stdout = self.proc.stdout.fileno()
        self.known: set[str] = set()
        try:
            ready = _read_exact(self.stdout, 1, time.monotonic() + _START_TIMEOUT_S)
        except _Stopped as exc:
            self.kill()
            why = "did not start in time" if exc.timed_out else f"exited at start (code {self.proc.returncode})"
            raise DiagnosticError(Diagnostic("template-render", f"the template renderer {why}")) from None
        if ready != _READY:
            self.kill()
            raise DiagnosticError(Diagnostic("template-render", "the template renderer did not start"))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """Stop the process now and reap it (no CPU spent on it afterwards, no zombie)."""
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL is not ignorable
            self.proc.wait(timeout=10)
        self.close_pipes()

    def close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def exchange(self, message: bytes, deadline: float, largest: int = 0) -> tuple[bytes, bool, bytes]:
        """Send one request and read its answer: (tag, recycle, payload); an answer over
        ``largest`` bytes (default :data:`_MAX_ANSWER`) counts as a broken renderer."""
        try:
            _write_all(self.stdin, _HEADER.pack(len(message)) + message)
        except OSError:
            raise _Stopped(timed_out=False, sent=False) from None
        (size,) = _HEADER.unpack(_read_exact(self.stdout, _HEADER.size, deadline))
        if size < 2 or size > (largest or _MAX_ANSWER):
            raise _Stopped(timed_out=False)
        body = _read_exact(self.stdout, size, deadline)
        return body[:1], body[1:2] == b"1", body[2:]


_MAX_ANSWER = 64 << 20
"""Largest answer frame the caller reads (the text is capped far lower in the renderer)."""


class _Pool:
    """Idle renderers, shared by the threads of this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[_Worker] = []
        self.pid = os.getpid()

    def acquire(self) -> _Worker:
        with self.lock:
            while self.idle:
                worker = self.idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
        return _Worker()

    def release(self, worker: _Worker) -> None:
        with self.lock:
            if os.getpid() == self.pid and worker.alive() and len(self.idle) < _MAX_IDLE:
                self.idle.append(worker)
                return
        worker.kill()

    def shutdown(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for worker in idle:
            worker.kill()

    def forget(self) -> None:
        """In a forked child: the renderers belong to the parent; drop them without a word."""
        self.lock = threading.Lock()
        for worker in self.idle:
            worker.close_pipes()
        self.idle = []
        self.pid = os.getpid()


_POOL = _Pool()
atexit.register(_POOL.shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL.forget)


def shutdown() -> None:
    """Stop the idle renderers of this process (they are started again when needed)."""
    _POOL.shutdown()


def _encode(worker: _Worker, request: Request, context: Mapping[str, Any], limits: RenderLimits,
            entry_file: str, *, resend: bool = False) -> tuple[bytes, str | None]:
    """The pickled request for ``worker`` (sources it already holds are sent by digest only)."""
    digest = None
    if request[0] == "sources":
        from aira_dsl.templates.environment import sources_digest

        _, sources, entry = request
        digest = sources_digest(sources)
        held = digest in worker.known and not resend
        request = ("sources", digest, None if held else sources, entry)
    try:
        return pickle.dumps((*request, dict(context), limits), protocol=pickle.HIGHEST_PROTOCOL), digest
    except Exception as exc:  # a context holding something pickle cannot copy
        raise DiagnosticError(Diagnostic(
            "template-render", f"the render context cannot be sent to the renderer: {exc}", file=entry_file,
            hint="a context holds plain data only: mappings, lists, strings, numbers, booleans and null")) from None


def render_isolated(request: Request, context: Mapping[str, Any], limits: RenderLimits, entry_file: str) -> str:
    """Render ``request`` (see the module docstring) in a renderer process under ``limits``.

    Returns the text, or raises :class:`DiagnosticError` with the renderer's diagnostics, or a
    ``template-limit`` one when the render had to be killed. A renderer goes back to the pool
    only after a complete answer: one left mid-request (a ``KeyboardInterrupt`` in the caller)
    is killed, so no later render can read a stale answer.
    """
    worker = _POOL.acquire()
    answered = False
    try:
        for attempt in range(3):
            message, digest = _encode(worker, request, context, limits, entry_file, resend=attempt > 0)
            try:
                tag, recycle, payload = worker.exchange(
                    message, time.monotonic() + limits.timeout_s + RENDER_KILL_GRACE_S,
                    max(_MAX_ANSWER, 4 * limits.max_output_chars + (1 << 20)))
            except _Stopped as stop:
                dead = worker
                worker.kill()
                if stop.timed_out:
                    raise DiagnosticError(Diagnostic(
                        LIMIT_CODE, f"rendering did not stop within {limits.timeout_s:g} s; the renderer "
                        "process was killed", file=entry_file, hint=LIMIT_HINT)) from None
                if not stop.sent and attempt == 0:  # an idle renderer that had just exited
                    worker = _Worker()
                    continue
                code = dead.proc.returncode
                why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                raise DiagnosticError(Diagnostic(
                    LIMIT_CODE, f"the renderer process ended while rendering ({why})",
                    file=entry_file, hint=LIMIT_HINT)) from None
            answered = not recycle
            if digest is not None:
                worker.known.add(digest)
            if tag == b"M" and digest is not None:
                worker.known.discard(digest)
                continue
            if tag == b"T":
                return payload.decode("utf-8", "surrogatepass")
            raise DiagnosticError([_diagnostic(item) for item in json.loads(payload)])
        raise DiagnosticError(Diagnostic("template-render", "the renderer lost the template sources",
                                         file=entry_file))
    finally:
        if answered:
            _POOL.release(worker)
        else:
            worker.kill()


def _diagnostic(data: Mapping[str, Any]) -> Diagnostic:
    return Diagnostic(str(data["code"]), str(data["message"]), Severity(data.get("severity", "error")),
                      file=data.get("file"), line=data.get("line"), col=data.get("col"),
                      end_line=data.get("end_line"), end_col=data.get("end_col"), hint=data.get("hint"))


# ---------------------------------------------------------------------- the renderer process

_SOURCES: OrderedDict[str, dict[str, str]] = OrderedDict()
_SOURCES_KEPT = 32


def _on_alarm(signum: int, frame: Any) -> None:
    raise TemplateLimitError(f"rendering took longer than {_current_timeout:g} s")


_current_timeout = 0.0


def _address_space() -> int | None:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


_baseline = 0


class _Limited:
    """Time, memory and CPU limits around one render in the renderer process.

    The memory limit is the address space the renderer had when it started plus the render's
    allowance (measured once: the renderer holds only compiled templates besides)."""

    def __init__(self, limits: RenderLimits):
        self.limits = limits
        self.saved: list[tuple[int, tuple[int, int]]] = []

    def __enter__(self) -> None:
        import resource

        global _current_timeout
        _current_timeout = self.limits.timeout_s
        if _baseline:
            self._lower(resource.RLIMIT_AS, _baseline + self.limits.memory_bytes)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime
        self._lower(resource.RLIMIT_CPU, int(cpu + self.limits.timeout_s + RENDER_KILL_GRACE_S) + 2)
        signal.setitimer(signal.ITIMER_REAL, self.limits.timeout_s)

    def _lower(self, which: int, value: int) -> None:
        import resource

        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        try:
            resource.setrlimit(which, (value, hard))
        except (ValueError, OSError):
            return
        self.saved.append((which, (soft, hard)))

    def __exit__(self, *exc: object) -> None:
        import resource

        signal.setitimer(signal.ITIMER_REAL, 0)
        for which, previous in reversed(self.saved):
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(which, previous)


def _handle(message: tuple[Any, ...]) -> tuple[bytes, bool, bytes]:
    from aira_dsl.templates.environment import (
        render_file_local,
        render_from_sources_local,
        render_source_local,
    )

    kind, *args, context, limits = message
    try:
        with _Limited(limits):
            if kind == "file":
                path, search_paths = args
                text = render_file_local(path, search_paths, context, limits)
            elif kind == "source":
                source, name, search_paths, line_offset = args
                text = render_source_local(source, name, search_paths, line_offset, context, limits)
            else:
                digest, sources, entry = args
                if sources is None:
                    sources = _SOURCES.get(digest)
                    if sources is None:
                        return b"M", False, b""
                _SOURCES[digest] = sources
                _SOURCES.move_to_end(digest)
                while len(_SOURCES) > _SOURCES_KEPT:
                    _SOURCES.popitem(last=False)
                text = render_from_sources_local(sources, entry, context, limits, key=digest)
        return b"T", False, text.encode("utf-8", "surrogatepass")
    except DiagnosticError as exc:
        recycle = any(d.code == LIMIT_CODE for d in exc.diagnostics)
        return b"E", recycle, json.dumps([d.to_dict() for d in exc.diagnostics]).encode()
    except (TemplateLimitError, MemoryError, RecursionError) as exc:  # outside the template's own frames
        message_text = str(exc) if isinstance(exc, TemplateLimitError) else \
            "rendering needed more memory than a render may use"
        diag = Diagnostic(LIMIT_CODE, message_text, hint=LIMIT_HINT)
        return b"E", True, json.dumps([diag.to_dict()]).encode()
    except Exception as exc:  # a bug in the renderer itself: report it, start afresh
        diag = Diagnostic("template-render", f"the renderer failed: {type(exc).__name__}: {exc}")
        return b"E", True, json.dumps([diag.to_dict()]).encode()


def serve() -> None:
    """The renderer process's main loop: read a request, render it, answer; see the module doc."""
    global _baseline
    from aira_dsl.templates import environment  # noqa: F401 - imported before the baseline is taken

    parent = os.getppid()
    _baseline = _address_space() or 0
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle
    signal.signal(signal.SIGALRM, _on_alarm)
    answers = os.dup(1)
    os.dup2(2, 1)  # a stray print must not corrupt the answers
    requests = 0
    _write_all(answers, _READY)
    poller = select.poll()
    poller.register(requests, select.POLLIN | select.POLLHUP | select.POLLERR)
    while True:
        if not poller.poll(500):
            if os.getppid() != parent:
                return
            continue
        try:
            (size,) = _HEADER.unpack(_read_exact(requests, _HEADER.size, time.monotonic() + 60))
            data = _read_exact(requests, size, time.monotonic() + 60)
        except (_Stopped, OSError):
            return
        try:
            message = pickle.loads(data)
        except Exception as exc:  # e.g. a context object whose class only the caller can import
            diag = Diagnostic("template-render", f"the renderer cannot read the render context: {exc}",
                              hint="a context holds plain data only: mappings, lists, strings, numbers, "
                                   "booleans and null")
            tag, recycle, payload = b"E", False, json.dumps([diag.to_dict()]).encode()
        else:
            tag, recycle, payload = _handle(message)
        try:
            _write_all(answers, _HEADER.pack(len(payload) + 2) + tag + (b"1" if recycle else b"0") + payload)
        except OSError:
            return
        if recycle:
            return
