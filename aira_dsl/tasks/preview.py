"""A bounded, deterministic text preview of a data directory, for prompts.

Agents write better first drafts when they know what the files look like. The preview has
three parts: a file tree with sizes (long directories summarised by extension), a summary of
each CSV (rows, and per column: type, missing count, unique count, examples or range), and
counts of images and other files. It never prints absolute paths, timestamps or anything
else that changes between runs, and it is cut to ``max_chars`` (with a marker saying so), so
the same directory always gives the same text and a prompt's size stays under control.

The preview runs on the host with the host's rights, so it never follows a symbolic link: a
link is listed as one (``name -> (link, not followed)``) and never summarised, or a public folder
holding a link to the answers would put the test labels' distribution into the prompt.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from aira_dsl.tasks.csvread import format_bytes

__all__ = ["data_preview"]

_IMAGE_EXT = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}
_TABLE_EXT = {".csv", ".tsv"}
MAX_ENTRIES_PER_DIR = 8
"""Entries listed per directory; the rest are summarised as counts by extension."""
MAX_CSV_FILES = 8
MAX_COLUMNS = 40
SAMPLE_ROWS = 5000
"""Column summaries look at this many rows of each CSV (and say so when there are more)."""
_ROW_COUNT_BYTES = 256 * 1024 * 1024
_TRUNCATED = "\n… (preview truncated at {n} characters)"


@dataclass(frozen=True)
class _Entry:
    rel: str
    size: int
    is_dir: bool
    is_link: bool = False


def _walk(root: Path) -> list[_Entry]:
    """Every entry below ``root``; links (to files or folders) are entries of their own, never
    followed (``os.walk`` lists a linked folder among the folders: it is moved to the links)."""
    entries: list[_Entry] = []
    for current, dirs, files in os.walk(root):
        base = Path(current)
        links = [name for name in dirs if (base / name).is_symlink()]
        dirs[:] = sorted(name for name in dirs if name not in links)
        for name in dirs:
            entries.append(_Entry((base / name).relative_to(root).as_posix(), 0, True))
        for name in sorted([*files, *links]):
            path = base / name
            try:
                info = path.lstat()
            except OSError:
                continue
            is_link = stat.S_ISLNK(info.st_mode)
            entries.append(_Entry(path.relative_to(root).as_posix(), 0 if is_link else info.st_size, False,
                                  is_link))
    return sorted(entries, key=lambda e: e.rel)


def _ext(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix or "(no extension)"


def _by_extension(files: list[_Entry]) -> str:
    counts = Counter(_ext(f.rel) for f in files)
    return ", ".join(f"{n} {ext}" for ext, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _tree(entries: list[_Entry]) -> list[str]:
    children: dict[str, list[_Entry]] = {}
    for entry in entries:
        parent = entry.rel.rsplit("/", 1)[0] if "/" in entry.rel else ""
        children.setdefault(parent, []).append(entry)
    files_under: dict[str, list[_Entry]] = {}
    for entry in entries:
        if entry.is_dir or entry.is_link:
            continue
        parts = entry.rel.split("/")
        for depth in range(1, len(parts)):
            files_under.setdefault("/".join(parts[:depth]), []).append(entry)

    lines: list[str] = []

    def visit(parent: str, depth: int) -> None:
        items = children.get(parent, [])
        for index, entry in enumerate(items):
            indent = "  " * depth
            name = entry.rel.rsplit("/", 1)[-1]
            if index == MAX_ENTRIES_PER_DIR:
                rest = items[index:]
                rest_files = [e for e in rest if not e.is_dir]
                size = sum(e.size for e in rest_files)
                lines.append(f"{indent}… {len(rest)} more entries ({_by_extension(rest_files) or 'directories'}; "
                             f"{format_bytes(size)})")
                return
            if entry.is_dir:
                inner = files_under.get(entry.rel, [])
                size = sum(e.size for e in inner)
                summary = f"{len(inner)} files, {format_bytes(size)}" + (
                    f": {_by_extension(inner)}" if inner else "")
                lines.append(f"{indent}{name}/ ({summary})")
                visit(entry.rel, depth + 1)
            elif entry.is_link:
                lines.append(f"{indent}{name} -> (link, not followed)")
            else:
                lines.append(f"{indent}{name} ({format_bytes(entry.size)})")

    visit("", 0)
    return lines


def _count_rows(path: Path) -> tuple[int, bool]:
    """Data rows (newlines minus the header) and whether the count is exact."""
    count = 0
    read = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            read += len(chunk)
            last = chunk[-1:]
            if read >= _ROW_COUNT_BYTES:
                size = path.stat().st_size
                return int(count * size / read) - 1, False
    if last != b"\n":
        count += 1
    return max(count - 1, 0), True


def _short(value: object, width: int = 24) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _fmt_number(value: float) -> str:
    return f"{value:.6g}"


def _column_line(name: str, series: pd.Series) -> str:
    missing = int(series.isna().sum())
    present = series.dropna()
    unique = int(present.nunique())
    kind = "empty"
    detail = ""
    if len(present):
        numeric = pd.to_numeric(present, errors="coerce")
        if numeric.notna().all():
            is_int = bool((numeric == numeric.round()).all()) and not any("." in str(v) for v in present[:50])
            kind = "int" if is_int else "float"
            detail = f", range {_fmt_number(float(numeric.min()))}..{_fmt_number(float(numeric.max()))}"
        else:
            kind = "text"
        if kind == "text" and unique <= 10:
            counts = present.astype(str).value_counts()
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            detail = ": " + ", ".join(f"{_short(v)} ({n})" for v, n in ordered[:6])
        else:
            examples = list(dict.fromkeys(present.astype(str).tolist()))[:3]
            detail += ", e.g. " + ", ".join(_short(v) for v in examples)
    parts = [kind]
    if missing:
        parts.append(f"{missing} missing")
    parts.append(f"{unique} unique")
    return f"    {_short(name, 40)}: {', '.join(parts)}{detail}"


def _csv_summary(root: Path, rel: str) -> list[str]:
    path = root / rel
    sep = "\t" if rel.lower().endswith(".tsv") else ","
    try:
        rows, exact = _count_rows(path)
        frame = pd.read_csv(path, sep=sep, nrows=SAMPLE_ROWS, dtype=str, encoding="utf-8-sig",
                            skipinitialspace=True, on_bad_lines="skip", engine="c")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        return [f"  {rel}: not readable as a table ({type(exc).__name__})"]
    row_text = f"{rows:,} rows" if exact else f"about {rows:,} rows"
    sampled = f" (columns summarised from the first {SAMPLE_ROWS:,})" if rows > SAMPLE_ROWS else ""
    lines = [f"  {rel}: {row_text}, {frame.shape[1]} columns{sampled}"]
    for name in list(frame.columns)[:MAX_COLUMNS]:
        lines.append(_column_line(str(name), frame[name]))
    if frame.shape[1] > MAX_COLUMNS:
        lines.append(f"    … {frame.shape[1] - MAX_COLUMNS} more columns: "
                     + ", ".join(_short(c, 20) for c in list(frame.columns)[MAX_COLUMNS:MAX_COLUMNS + 10]))
    return lines


def _image_line(root: Path, images: list[_Entry]) -> str:
    counts = Counter(_ext(e.rel) for e in images)
    text = ", ".join(f"{n} {ext}" for ext, n in sorted(counts.items()))
    size = ""
    try:
        from PIL import Image

        with Image.open(root / images[0].rel) as image:
            size = f"; e.g. {images[0].rel}: {image.width}x{image.height} pixels, mode {image.mode}"
    except Exception:  # an unreadable image only loses the example, never the preview
        size = ""
    return f"Images: {len(images)} files ({text}){size}"


def data_preview(directory: Path | str, max_chars: int = 6000, *, label: str = "./data") -> str:
    """A deterministic text description of ``directory``, at most ``max_chars`` characters.

    ``label`` is how the solution sees the directory (the sandbox mounts it at ``./data``).
    """
    root = Path(directory)
    if not root.is_dir():
        return _bound(f"(no data directory: {label} is missing)", max_chars)
    entries = _walk(root)
    files = [e for e in entries if not e.is_dir and not e.is_link]
    total = sum(f.size for f in files)
    out = [f"Data in {label}/: {len(files)} files, {format_bytes(total)}", "", "Files:"]
    out.extend("  " + line for line in _tree(entries))
    tables = [f for f in files if _ext(f.rel) in _TABLE_EXT]
    if tables:
        out += ["", "Tables:"]
        for table in tables[:MAX_CSV_FILES]:
            out.extend(_csv_summary(root, table.rel))
        if len(tables) > MAX_CSV_FILES:
            out.append(f"  … {len(tables) - MAX_CSV_FILES} more tables not summarised")
    images = [f for f in files if _ext(f.rel) in _IMAGE_EXT]
    others = [f for f in files if _ext(f.rel) not in _IMAGE_EXT | _TABLE_EXT]
    if images or others:
        out.append("")
    if images:
        out.append(_image_line(root, images))
    if others:
        out.append(f"Other files: {len(others)} ({_by_extension(others)})")
    return _bound("\n".join(out), max_chars)


def _bound(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    marker = _TRUNCATED.format(n=max_chars)
    if max_chars <= len(marker):
        return text[:max_chars]
    cut = text[: max_chars - len(marker)]
    if "\n" in cut:
        cut = cut[: cut.rfind("\n")]
    return cut + marker
