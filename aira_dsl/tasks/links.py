"""Links in a task's public folder that lead to what the agent must not see.

The public folder is bound into every sandbox and summarised into prompts, so anything reachable
through it is shown to the agent. A symbolic link there to the answers (or to a folder holding
them) hands the agent the test labels; so does a *hard* link, which is indistinguishable from a
copy except by its inode: a red-team task whose ``public/test_labels.csv`` shared the answers'
inode scored 1.0. A symbolic link that leaves the allowed roots (:mod:`aira_dsl.roots`) reaches
files of the host that no task may expose (``~/.ssh``, ``/etc/shadow``), since the host follows
it when it splits, copies or previews the data.

:func:`public_link_problems` finds all three before a run (``validate`` reports them, loading the
task refuses it). It never follows a link, never reads a file, and costs one ``lstat`` per public
file only when some private file has several names (``st_nlink > 1``), so even a folder of a
hundred thousand images is checked in a fraction of a second.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["MAX_REPORTED", "public_link_problems", "summarize"]

MAX_REPORTED = 3
"""Problems named in full; the rest are counted."""


def _entries(root: Path) -> Iterator[os.DirEntry[str]]:
    """Every entry below ``root``, links not followed, unreadable folders skipped."""
    stack = [os.fspath(root)]
    while stack:
        try:
            with os.scandir(stack.pop()) as listing:
                for entry in listing:
                    yield entry
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue


def _shared_inodes(private: Path) -> dict[tuple[int, int], str]:
    """(device, inode) → name of each private file that has other names (hard links)."""
    found: dict[tuple[int, int], str] = {}
    for entry in _entries(private):
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
            found[(info.st_dev, info.st_ino)] = os.path.relpath(entry.path, private)
    return found


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def public_link_problems(public: Path, private: Path, roots: Iterable[Path] | None = None) -> list[str]:
    """Why ``public`` leaks: links into ``private`` (symbolic or hard) and, when ``roots`` is given,
    symbolic links resolving outside those roots. Empty when the folder is clean."""
    from aira_dsl.roots import is_inside

    allowed = list(roots) if roots is not None else None
    private_real = os.path.realpath(private)
    shared = _shared_inodes(private)
    problems: list[str] = []
    for entry in _entries(public):
        rel = os.path.relpath(entry.path, public)
        if entry.is_symlink():
            target = os.path.realpath(entry.path)
            if _inside(target, private_real):
                problems.append(f"{rel} is a symbolic link into the private folder "
                                f"({os.path.relpath(target, private_real)})")
            elif _inside(private_real, target):  # a link to a folder above the answers reaches them too
                problems.append(f"{rel} is a symbolic link to {target}, a folder holding the private folder")
            elif allowed is not None and not is_inside(target, allowed):
                problems.append(f"{rel} is a symbolic link to {target}, outside the allowed roots")
            else:
                try:
                    info = os.stat(target)
                except OSError:
                    continue
                name = shared.get((info.st_dev, info.st_ino))
                if name is not None:
                    problems.append(f"{rel} is a symbolic link to a hard link of the private file {name}")
            continue
        if not shared:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        name = shared.get((info.st_dev, info.st_ino)) if stat.S_ISREG(info.st_mode) else None
        if name is not None:
            problems.append(f"{rel} is a hard link to the private file {name} (the same file)")
    return problems


def summarize(problems: list[str]) -> str:
    """The first few problems, and how many more there are."""
    shown = "; ".join(problems[:MAX_REPORTED])
    more = len(problems) - MAX_REPORTED
    return shown + (f"; and {more} more" if more > 0 else "")
