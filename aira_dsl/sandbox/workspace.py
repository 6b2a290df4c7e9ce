"""Creating, listing and removing a node's workspace on the host (shared by all backends).

The layout is the contract prompts describe: ``./data`` (the task's public data, bound
read-only), ``./working`` (scratch), ``./submission/submission.csv`` (the output). A workspace
is owned by the uid that runs its code and is private to it (mode 0700), so one node's code
cannot write into another's even where both could see the folder.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from aira_dsl.sandbox.base import SandboxError, Workspace

__all__ = ["MAX_LISTED_FILES", "create_workspace", "list_produced_files", "remove_workspace"]

MAX_LISTED_FILES = 10_000
"""Listing stops here, so a script that creates a million files cannot stall the runtime."""

_NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _safe_relative(name: str) -> PurePosixPath:
    rel = PurePosixPath(name)
    if rel.is_absolute() or not rel.parts or ".." in rel.parts:
        raise SandboxError(f"workspace file name '{name}' must be a relative path inside the workspace")
    if rel.parts[0] == "data":
        raise SandboxError(f"workspace file '{name}' would be written into ./data, which is read-only")
    return rel


def _chown_tree(root: Path, uid: int) -> None:
    for directory, dirs, files in os.walk(root):
        os.chown(directory, uid, uid, follow_symlinks=False)
        for name in dirs + files:
            os.chown(os.path.join(directory, name), uid, uid, follow_symlinks=False)


def create_workspace(workdir_root: Path, node_id: str, data_dir: Path | None,
                     extra_files: Mapping[str, bytes], owner_uid: int | None,
                     link_data: bool = False) -> Workspace:
    """A fresh workspace ``workdir_root/node_id`` (an old one of that name is removed first).

    ``link_data`` makes ``./data`` a symlink to ``data_dir`` (isolation ``none``, where nothing
    is mounted); otherwise ``./data`` is an empty mount point the backend binds read-only.
    """
    if not _NODE_ID.match(node_id):
        raise SandboxError(f"node id '{node_id}' is not usable as a folder name",
                           hint="use letters, digits, '-', '_' and '.' (at most 128 characters)")
    if data_dir is not None:
        data_dir = Path(data_dir).resolve()
        if not data_dir.is_dir():
            raise SandboxError(f"data folder {data_dir} does not exist or is not a folder",
                               hint="pass the task's public data folder")
    files = {str(_safe_relative(name)): content for name, content in extra_files.items()}
    workdir_root = Path(workdir_root).resolve()
    workdir_root.mkdir(parents=True, exist_ok=True)
    root = workdir_root / node_id
    if root.exists() or root.is_symlink():
        remove_workspace(root)
    root.mkdir(mode=0o700)
    working, submission, data = root / "working", root / "submission", root / "data"
    working.mkdir()
    submission.mkdir()
    if link_data and data_dir is not None:
        data.symlink_to(data_dir, target_is_directory=True)
    else:
        data.mkdir()
    prepared: dict[str, tuple[int, int]] = {}
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        info = target.stat()
        prepared[name] = (info.st_size, info.st_mtime_ns)
    if owner_uid is not None and owner_uid != os.geteuid():
        _chown_tree(root, owner_uid)
    os.chmod(root, 0o700)
    return Workspace(root=root, data_dir=data, working_dir=working, submission_dir=submission,
                     node_id=node_id, source_data=data_dir, owner_uid=owner_uid, prepared=prepared)


def list_produced_files(workspace: Workspace) -> list[str]:
    """Relative paths of regular files under the workspace, except ``./data`` and unchanged inputs."""
    found: list[str] = []
    stack = [workspace.root]
    while stack and len(found) < MAX_LISTED_FILES:
        directory = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            rel = os.path.relpath(entry.path, workspace.root)
            if rel == "data":
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if workspace.prepared.get(rel) == (info.st_size, info.st_mtime_ns):
                continue
            found.append(rel)
            if len(found) >= MAX_LISTED_FILES:
                break
    return sorted(found)


def _make_writable(func: object, path: str, _exc: object) -> None:
    """rmtree error handler: code may have removed write permission from its own folders."""
    try:
        parent = os.path.dirname(path)
        os.chmod(parent, stat.S_IRWXU)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, stat.S_IRWXU)
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


def remove_workspace(root: Path) -> None:
    """Delete a workspace folder, including files the code made read-only."""
    if root.is_symlink() or root.is_file():
        root.unlink()
        return
    if root.exists():
        shutil.rmtree(root, onerror=_make_writable)
