"""Reading a CSV someone else wrote (a submission, an answers file) without surprises.

Submissions come from generated code, spreadsheets and hand edits, so this reader accepts what
is unambiguous (a UTF-8 byte-order mark, quoted header names, spaces around names and values,
CRLF line ends) and turns everything else into a :class:`CsvProblem` with a precise reason:
missing or empty files, directories, binary or UTF-16 files, bad UTF-8, unnamed or duplicate
columns, rows with the wrong number of fields, and files over a size limit (checked before
reading a byte of content, so a huge file costs nothing).

All cells are read as text; converting to numbers is the caller's job, done per column with
row-precise messages.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["CsvProblem", "Table", "format_bytes", "read_table"]

_HEAD_BYTES = 1 << 20


class CsvProblem(Exception):
    """Why a file cannot be read as a table; ``code`` is a stable slug for tests and tools."""

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(reason)


@dataclass
class Table:
    """A CSV read as text: stripped column names in file order, and every cell as ``str``."""

    columns: list[str]
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    has_blanks: bool = True
    """Whether the file holds any space or tab (if not, cells need no stripping: faster)."""

    def column(self, name: str) -> pd.Series:
        """The cells of column ``name`` without surrounding whitespace."""
        series = self.frame[name]
        return series.str.strip() if self.has_blanks else series


def format_bytes(size: float) -> str:
    """``52428800`` -> ``"50.0 MiB"``: sizes in messages people read."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _check_file(path: Path, label: str, max_bytes: int | None) -> int:
    if not path.exists():
        raise CsvProblem("missing-file", f"{label} file not found: {path}")
    if path.is_dir():
        raise CsvProblem("not-a-file", f"{label} path is a directory, not a CSV file: {path}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CsvProblem("unreadable", f"cannot read {label} file {path}: {exc.strerror or exc}") from exc
    if size == 0:
        raise CsvProblem("empty-file", f"{label} file is empty (0 bytes): {path}")
    if max_bytes is not None and size > max_bytes:
        raise CsvProblem("too-large", f"{label} file is {format_bytes(size)}, over the limit of "
                         f"{format_bytes(max_bytes)}; it was not read")
    return size


def _bad_utf8(path: Path, label: str) -> CsvProblem:
    """Find the first byte that is not UTF-8 (streaming) and say where it is."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 1
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = chunk[exc.start] if exc.start < len(chunk) else 0
                line = lines + chunk[: exc.start].count(b"\n")
                return CsvProblem("not-utf8", f"{label} file is not valid UTF-8 (byte 0x{bad:02x} on line "
                                  f"{line}); save it as UTF-8")
            lines += chunk.count(b"\n")
    return CsvProblem("not-utf8", f"{label} file is not valid UTF-8; save it as UTF-8")


def _decode_head(head: bytes, label: str, path: Path) -> tuple[str, list[str]]:
    notes = []
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvProblem("not-utf8", f"{label} file is UTF-16 encoded; save it as UTF-8")
    if b"\x00" in head:
        raise CsvProblem("binary-file", f"{label} file holds binary data (NUL bytes), not CSV text")
    if head.startswith(b"\xef\xbb\xbf"):
        notes.append("the file starts with a UTF-8 byte-order mark (ignored)")
        head = head[3:]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if len(head) == _HEAD_BYTES and exc.start >= len(head) - 3:
            text = head[: exc.start].decode("utf-8")  # a multi-byte character cut by the read limit
        else:
            raise _bad_utf8(path, label) from exc
    return text, notes


def _header(text: str, label: str) -> tuple[list[str], list[str]]:
    try:
        first = next(csv.reader(io.StringIO(text)), None)
    except csv.Error as exc:
        raise CsvProblem("parse-error", f"{label} header cannot be parsed as CSV: {exc}") from exc
    if not first or all(not name.strip() for name in first):
        raise CsvProblem("no-header", f"{label} file has no header line (its first line is empty)")
    notes = []
    names = [name.strip() for name in first]
    if names != first:
        notes.append("column names had surrounding spaces (ignored)")
    for index, name in enumerate(names, start=1):
        if not name:
            extra = " (a trailing comma in the header?)" if index == len(names) else ""
            raise CsvProblem("unnamed-column", f"{label} column {index} has no name{extra}")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise CsvProblem("duplicate-columns", f"{label} has the column '{name}' more than once")
        seen.add(name)
    return names, notes


_LINE_RE = re.compile(r"line (\d+)")


def _has_blanks(path: Path) -> bool:
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            if b" " in chunk or b"\t" in chunk:
                return True
    return False


def read_table(path: Path, *, label: str = "submission", max_bytes: int | None = None) -> Table:
    """Read ``path`` as a table of text cells, or raise :class:`CsvProblem` saying why not."""
    _check_file(path, label, max_bytes)
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    text, notes = _decode_head(head, label, path)
    names, header_notes = _header(text, label)
    notes.extend(header_notes)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False,
                            encoding="utf-8-sig", skipinitialspace=True, header=0,
                            engine="c", quoting=csv.QUOTE_MINIMAL, skip_blank_lines=True)
    except UnicodeDecodeError as exc:
        raise _bad_utf8(path, label) from exc
    except pd.errors.EmptyDataError as exc:
        raise CsvProblem("no-header", f"{label} file has no header line") from exc
    except pd.errors.ParserError as exc:
        message = str(exc).replace("Error tokenizing data. C error: ", "").strip()
        raise CsvProblem("parse-error", f"{label} is not well-formed CSV: {message}") from exc
    if frame.shape[1] != len(names):
        raise CsvProblem("parse-error", f"{label} header has {len(names)} columns but pandas read "
                         f"{frame.shape[1]}; check the quoting of the header line")
    frame.columns = pd.Index(names)
    if frame.isna().to_numpy().any():
        # With na_filter off, NaN only appears where a row has fewer fields than the header.
        row = int(frame.isna().any(axis=1).to_numpy().argmax())
        raise CsvProblem("parse-error", f"{label} line {row + 2} has fewer fields than the header's "
                         f"{len(names)}")
    return Table(columns=names, frame=frame, notes=notes, has_blanks=_has_blanks(path))
