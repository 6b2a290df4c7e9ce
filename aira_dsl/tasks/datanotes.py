"""``task.data_notes``: what prompts say about the public data, derived from what is on disk.

A prompt that claims "the data is already extracted" when ``train.zip`` sits unopened in
``./data`` misleads the model; one that says nothing leaves it to unzip gigabytes at every step.
These notes are built from the task as loaded: which archives were unpacked and where, which
are still packed, and, when a competition's sample submission exists only among its private
files (MLE-bench issue #47), the submission's columns and row count, nothing else of it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from aira_dsl.tasks.unpack import DataView, find_archives

__all__ = ["SubmissionShape", "archive_notes", "join_notes", "shape_note", "submission_shape"]

_MAX_LISTED = 12


@dataclass(frozen=True)
class SubmissionShape:
    """The format of a sample submission the agent cannot see: its header and row count."""

    columns: tuple[str, ...]
    rows: int


def submission_shape(sample: Path) -> SubmissionShape:
    """Read only the header and count the rows of a (private) sample submission."""
    with sample.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        rows = sum(1 for row in reader if row)
    return SubmissionShape(tuple(name.strip() for name in header), rows)


def shape_note(shape: SubmissionShape) -> str:
    columns = ", ".join(f"`{c}`" for c in shape.columns)
    return (f"- There is no sample submission among the data files. The submission must be a CSV file whose "
            f"header has the columns {columns} (in this order), followed by {shape.rows} data rows.")


def _inside(into: str, name: str) -> str:
    return name if into in ("", ".") else f"{into}/{name}"


def archive_notes(view: DataView | None, public_dir: Path) -> list[str]:
    """Lines about archives: unpacked ones and where they went, nested ones still packed."""
    if view is None:
        packed = find_archives(public_dir)
        if not packed:
            return ["- No file here is an archive: read the files directly."]
        names = ", ".join(f"`{p.relative_to(public_dir).as_posix()}`" for p in packed[:_MAX_LISTED])
        return [f"- These files are archives and are not unpacked: {names}. Unpack what you need into the "
                "working directory; the data folder itself cannot be written."]
    lines = []
    for archive in view.archives[:_MAX_LISTED]:
        shown = [f"`{_inside(archive.into, e)}`" for e in archive.entries[:4]]
        where = ", ".join(shown) + (" and more" if len(archive.entries) > 4 else "")
        what = "its one file is" if archive.files == 1 else f"its {archive.files} files are in"
        lines.append(f"- `{archive.archive}` has been unpacked for you: {what} {where or '(nothing)'}. "
                     "The archive itself is still there; do not unpack it again.")
    if len(view.archives) > _MAX_LISTED:
        lines.append(f"- {len(view.archives) - _MAX_LISTED} more archives were unpacked the same way, each "
                     "next to the archive or into a folder named after it.")
    if view.nested:
        names = ", ".join(f"`{n}`" for n in view.nested[:_MAX_LISTED])
        lines.append(f"- Archives found inside the unpacked ones are still packed: {names}. Unpack what you need "
                     "into the working directory.")
    return lines


def join_notes(*parts: list[str] | str) -> str:
    lines: list[str] = []
    for part in parts:
        lines.extend([part] if isinstance(part, str) else part)
    return "\n".join(line for line in lines if line)
