"""Bounded capture of a process's output: keep the head and the tail, count the middle.

LLM-written code can print gigabytes (a forgotten ``print`` in a training loop). The first lines
say what the script set out to do and the last ones say how it ended, so both are kept and the
middle is replaced by a marker that says how much was dropped. Memory use is bounded by the
limit whatever the process writes.
"""

from __future__ import annotations

__all__ = ["HeadTail", "OutputCapture", "decode"]


def decode(data: bytes) -> str:
    """Bytes to text; invalid UTF-8 (binary junk, a cut multi-byte character) becomes U+FFFD."""
    return data.decode("utf-8", errors="replace")


class HeadTail:
    """Keeps the first ``limit // 2`` and the last ``limit - limit // 2`` bytes of a stream."""

    def __init__(self, limit: int):
        self.head_limit = limit // 2
        self.tail_limit = limit - self.head_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def write(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        if len(chunk) >= self.tail_limit:
            self.tail = bytearray(chunk[-self.tail_limit:])
            return
        self.tail += chunk
        # Trim lazily: at most twice the tail is held, so each byte is copied O(1) times.
        if len(self.tail) > 2 * self.tail_limit:
            del self.tail[: len(self.tail) - self.tail_limit]

    @property
    def dropped(self) -> int:
        kept = len(self.head) + min(len(self.tail), self.tail_limit)
        return self.total - kept

    @property
    def truncated(self) -> bool:
        return self.dropped > 0

    def text(self) -> str:
        tail = bytes(self.tail[-self.tail_limit:]) if self.tail_limit else b""
        if not self.truncated:
            return decode(bytes(self.head) + tail)
        marker = f"\n[... {self.dropped:,} bytes of output omitted ({self.total:,} in total) ...]\n"
        return decode(bytes(self.head)) + marker + decode(tail)


class OutputCapture:
    """stdout, stderr and their interleaving (in arrival order), each bounded by ``limit``."""

    def __init__(self, limit: int):
        self.stdout = HeadTail(limit)
        self.stderr = HeadTail(limit)
        self.combined = HeadTail(limit)

    def feed(self, stream: str, chunk: bytes) -> None:
        (self.stdout if stream == "stdout" else self.stderr).write(chunk)
        self.combined.write(chunk)

    @property
    def truncated(self) -> bool:
        return self.combined.truncated

    @property
    def total(self) -> int:
        return self.combined.total
