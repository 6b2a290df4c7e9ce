"""Agent-ready data: archives in a task's public folder, unpacked once into a cache.

Many MLE-bench competitions ship their data zipped (``train.zip``, ``test.zip``, sometimes
``.7z`` or ``.tar.gz``). A solution that has to unzip several gigabytes into ``./working`` at
every step wastes its time limit on it, and a prompt that says "already extracted" when it is
not sends the model down the wrong path. So before a run the public folder is mirrored into a
*view* under the task cache (``<cache>/unpacked/<task>-<key>/data``): every original file is
hard-linked there (copied where links are impossible), and every archive is unpacked next to
it. The sandbox's ``./data`` is that view; the user's prepared folder is only read.

Where an archive goes: an archive holding one top-level entry (``train.zip`` → ``train/...``,
or a single ``train.csv``) is unpacked beside it; one holding many loose files is unpacked into
a folder named after it (``train.zip`` → ``train/``); a name already taken gets ``.unpacked``.

The key hashes the archives' bytes and every other file's path, size and modification time, so
a re-prepared competition is unpacked again while a second run of the same one reuses the view
(archive digests are remembered by path, size, mtime and inode, so they are not re-read).

Archives are untrusted input: members with absolute paths or ``..`` components, links and
device files are refused (nothing is ever written outside the view being built), the declared
sizes must fit on the disk, and a damaged archive is a :class:`TaskError` naming it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from aira_dsl.tasks.errors import TaskError

__all__ = [
    "ARCHIVE_SUFFIXES",
    "SEVEN_ZIP_EXTRA",
    "DataView",
    "UnpackedArchive",
    "archive_kind",
    "find_archives",
    "unpack_public_dir",
]

UNPACK_FORMAT_VERSION = 1
ARCHIVE_SUFFIXES: tuple[str, ...] = (".zip", ".7z", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2",
                                     ".tar.xz", ".txz")
"""File name endings treated as archives (case-insensitive)."""
SEVEN_ZIP_EXTRA = "archives"
"""The aira-dsl extra that brings what ``.7z`` archives need (``py7zr``; MLE-bench depends on it too)."""
DISK_MARGIN_BYTES = 1 << 30
"""Unpacking refuses to leave less than this much free space on the cache's file system."""
_CHUNK = 1 << 20
_MANIFEST = "manifest.json"


@dataclass(frozen=True)
class UnpackedArchive:
    """One archive of the public folder and where its content went in the view."""

    archive: str
    """Path of the archive relative to the public folder (``train.zip``)."""
    into: str
    """Folder of the view (relative, ``.`` for the top) its members were unpacked into."""
    entries: tuple[str, ...]
    """The top-level names it created there (``train/``, ``train.csv``), sorted."""
    files: int
    bytes: int


@dataclass(frozen=True)
class DataView:
    """A public folder with its archives unpacked (see the module docstring)."""

    root: Path
    """The folder solutions see as ``./data``."""
    source: Path
    """The original public folder (unchanged)."""
    key: str
    archives: tuple[UnpackedArchive, ...]
    nested: tuple[str, ...] = ()
    """Archives found inside unpacked archives: left packed (relative paths in the view)."""


def archive_kind(name: str) -> str | None:
    """``zip``, ``7z`` or ``tar`` for an archive file name, else None."""
    lower = name.lower()
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith(".7z"):
        return "7z"
    if any(lower.endswith(suffix) for suffix in ARCHIVE_SUFFIXES):
        return "tar"
    return None


def _stem(name: str) -> str:
    lower = name.lower()
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            return name[: -len(suffix)] or name
    return name


def _walk_files(root: Path) -> Iterator[Path]:
    """Regular files under ``root`` (sorted, not following links into other trees)."""
    for current, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            yield Path(current) / name


def find_archives(public: Path) -> list[Path]:
    """Archive files anywhere under ``public`` (sorted)."""
    return [path for path in _walk_files(public) if archive_kind(path.name) and path.is_file()]


# --------------------------------------------------------------------------------------------
# The key


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _archive_digest(path: Path, memo_dir: Path) -> str:
    """sha256 of an archive, remembered by (path, size, mtime, inode) so it is read once."""
    info = path.stat()
    identity = f"{path.resolve()}|{info.st_size}|{info.st_mtime_ns}|{info.st_ino}"
    memo = memo_dir / (hashlib.sha256(identity.encode()).hexdigest()[:32] + ".json")
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        data = json.loads(memo.read_text(encoding="utf-8"))
        if data["identity"] == identity and isinstance(data["sha256"], str):
            return str(data["sha256"])
    value = _file_digest(path)
    with contextlib.suppress(OSError):
        memo_dir.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"identity": identity, "sha256": value}), encoding="utf-8")
        os.replace(tmp, memo)
    return value


def _view_key(public: Path, archives: list[Path], memo_dir: Path) -> str:
    listing: list[Any] = [UNPACK_FORMAT_VERSION]
    archive_set = set(archives)
    for path in _walk_files(public):
        rel = path.relative_to(public).as_posix()
        info = path.stat()
        if path in archive_set:
            listing.append([rel, info.st_size, _archive_digest(path, memo_dir)])
        else:
            listing.append([rel, info.st_size, info.st_mtime_ns])
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Reading archives safely


@dataclass(frozen=True)
class _Member:
    name: str
    is_dir: bool
    size: int


def _safe_name(raw: str, archive: str) -> str | None:
    """The member's relative POSIX path, or None for the archive's root; TaskError if it escapes."""
    name = raw.replace("\\", "/")
    pure = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in pure.parts:
        raise TaskError(f"the archive {archive} has a member that would be written outside its folder: "
                        f"{raw!r}",
                        hint="refused: archive members must be relative paths without '..'; re-create "
                             "the archive, or prepare the competition again")
    parts = [p for p in pure.parts if p not in ("", ".")]
    return "/".join(parts) if parts else None


def _refuse_kind(archive: str, raw: str, what: str) -> TaskError:
    return TaskError(f"the archive {archive} holds {what} ({raw!r}), which is not unpacked",
                     hint="refused: only regular files and folders are unpacked from a public archive")


def _zip_members(handle: zipfile.ZipFile, archive: str) -> list[tuple[_Member, zipfile.ZipInfo]]:
    out = []
    for info in handle.infolist():
        name = _safe_name(info.filename, archive)
        mode = (info.external_attr >> 16) & 0o170000
        if mode == stat.S_IFLNK:
            raise _refuse_kind(archive, info.filename, "a symbolic link")
        if mode not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise _refuse_kind(archive, info.filename, "a special file")
        if name is None:
            continue
        out.append((_Member(name, info.is_dir(), info.file_size), info))
    return out


def _tar_members(handle: tarfile.TarFile, archive: str) -> list[tuple[_Member, tarfile.TarInfo]]:
    out = []
    for info in handle.getmembers():
        name = _safe_name(info.name, archive)
        if info.issym() or info.islnk():
            raise _refuse_kind(archive, info.name, "a link")
        if not (info.isreg() or info.isdir()):
            raise _refuse_kind(archive, info.name, "a special file")
        if name is None:
            continue
        out.append((_Member(name, info.isdir(), info.size), info))
    return out


def _seven_zip_module(archive: str) -> Any:
    try:
        import py7zr
    except ImportError:
        raise TaskError(f"the public data holds the 7z archive {archive}, and unpacking 7z needs the "
                        f"'{SEVEN_ZIP_EXTRA}' extra of aira-dsl (the py7zr package), which is not installed",
                        hint=f"pip install 'aira-dsl[{SEVEN_ZIP_EXTRA}]' (or pip install py7zr; MLE-bench "
                             "installs it too), then rerun") from None
    return py7zr


def _write_stream(source: IO[bytes], target: Path, limit: int) -> int:
    """Copy a member's bytes to a new file (never through an existing path or link)."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    written = 0
    with os.fdopen(fd, "wb") as out:
        for block in iter(lambda: source.read(_CHUNK), b""):
            written += len(block)
            if written > limit:
                raise TaskError(f"{target.name} unpacks to more than its declared size",
                                hint="the archive is damaged or malicious; prepare the competition again")
            out.write(block)
    return written


def _inside(dest: Path, rel: str) -> Path:
    target = dest / rel
    if not target.resolve().is_relative_to(dest.resolve()):
        raise TaskError(f"archive member {rel!r} resolves outside the folder it is unpacked into",
                        hint="refused: re-create the archive without links")
    return target


def _extract(path: Path, kind: str, rel: str, dest: Path, members: list[tuple[_Member, Any]],
             handle: Any) -> tuple[int, int]:
    """Unpack ``members`` of an open archive into ``dest``; (files, bytes)."""
    files = written = 0
    for member, info in members:
        target = _inside(dest, member.name)
        if member.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            raise TaskError(f"the archive {rel} holds {member.name!r} twice",
                            hint="re-create the archive with unique member names")
        source = handle.open(info) if kind == "zip" else handle.extractfile(info)
        if source is None:
            raise _refuse_kind(rel, member.name, "an unreadable member")
        with source:
            written += _write_stream(source, target, member.size)
        files += 1
    return files, written


def _read_members(path: Path, kind: str, rel: str) -> list[_Member]:
    if kind == "zip":
        with zipfile.ZipFile(path) as handle:
            return [m for m, _ in _zip_members(handle, rel)]
    if kind == "tar":
        with tarfile.open(path, "r:*") as handle:
            return [m for m, _ in _tar_members(handle, rel)]
    py7zr = _seven_zip_module(rel)
    with py7zr.SevenZipFile(path, mode="r") as handle:
        out = []
        for entry in handle.files:
            name = _safe_name(entry.filename, rel)
            if entry.is_symlink or getattr(entry, "is_junction", False):
                raise _refuse_kind(rel, entry.filename, "a link")
            if getattr(entry, "is_socket", False):
                raise _refuse_kind(rel, entry.filename, "a special file")
            if name is not None:
                out.append(_Member(name, bool(entry.is_directory), int(entry.uncompressed or 0)))
        return out


def _unpack_one(path: Path, kind: str, rel: str, dest: Path, members: list[_Member]) -> tuple[int, int]:
    if kind == "zip":
        with zipfile.ZipFile(path) as handle:
            return _extract(path, kind, rel, dest, _zip_members(handle, rel), handle)
    if kind == "tar":
        with tarfile.open(path, "r:*") as handle:
            return _extract(path, kind, rel, dest, _tar_members(handle, rel), handle)
    py7zr = _seven_zip_module(rel)
    dest.mkdir(parents=True, exist_ok=True)
    with py7zr.SevenZipFile(path, mode="r") as handle:
        handle.extractall(path=dest)
    files = written = 0
    for current, dirs, names in os.walk(dest):
        for name in dirs + names:
            if os.path.islink(os.path.join(current, name)):
                raise _refuse_kind(rel, name, "a symbolic link")
        for name in names:
            files += 1
            written += os.path.getsize(os.path.join(current, name))
    return files, written


def _damaged(rel: str, exc: BaseException) -> TaskError:
    detail = str(exc) or type(exc).__name__
    return TaskError(f"cannot unpack the archive {rel} of the public data: {detail}",
                     hint="the archive is damaged or not what its name says; prepare the competition "
                          "again (for MLE-bench: remove <data-dir>/<id>/prepared, then `mlebench prepare -c <id>`)")


# --------------------------------------------------------------------------------------------
# Building the view


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _placement(members: list[_Member], archive: Path, public: Path, view: Path) -> Path:
    """The view folder an archive's members go into (see the module docstring)."""
    folder = view / archive.parent.relative_to(public)
    tops = sorted({m.name.split("/", 1)[0] for m in members})
    if len(tops) == 1 and not (folder / tops[0]).exists():
        return folder
    base = folder / _stem(archive.name)
    return base if not base.exists() else folder / f"{_stem(archive.name)}.unpacked"


def _free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def _build(public: Path, archives: list[Path], staging: Path, key: str) -> DataView:
    view = staging / "data"
    view.mkdir(parents=True)
    for path in _walk_files(public):
        _link_or_copy(path, view / path.relative_to(public))
    done: list[UnpackedArchive] = []
    for archive in archives:
        rel = archive.relative_to(public).as_posix()
        kind = archive_kind(archive.name)
        assert kind is not None
        try:
            members = _read_members(archive, kind, rel)
            declared = sum(m.size for m in members)
            if declared > _free_bytes(staging) - DISK_MARGIN_BYTES:
                raise TaskError(f"the archive {rel} unpacks to {declared} bytes, more than the free space "
                                f"under {staging.parent}",
                                hint="free some space or pass another --cache-dir (or AIRA_DSL_CACHE)")
            dest = _placement(members, archive, public, view)
            fresh = not dest.exists()
            before = set() if fresh else set(os.listdir(dest))
            files, written = _unpack_one(archive, kind, rel, dest, members)
        except TaskError:
            raise
        except Exception as exc:  # zipfile, tarfile, py7zr, zlib, lzma each raise their own types
            raise _damaged(rel, exc) from exc
        if fresh:  # a folder named after the archive: that folder is what it created
            created, into = [f"{dest.name}/"], dest.parent.relative_to(view).as_posix()
        else:
            created = sorted(f"{n}/" if (dest / n).is_dir() else n for n in set(os.listdir(dest)) - before)
            into = dest.relative_to(view).as_posix()
        done.append(UnpackedArchive(rel, into, tuple(created), files, written))
    originals = {a.relative_to(public).as_posix() for a in archives}
    nested = tuple(p.relative_to(view).as_posix() for p in find_archives(view)
                   if p.relative_to(view).as_posix() not in originals)
    manifest = {"version": UNPACK_FORMAT_VERSION, "key": key, "source": str(public),
                "archives": [a.__dict__ | {"entries": list(a.entries)} for a in done], "nested": list(nested)}
    (staging / _MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return DataView(root=view, source=public, key=key, archives=tuple(done), nested=nested)


def _load(folder: Path, public: Path) -> DataView | None:
    try:
        data = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
        archives = tuple(UnpackedArchive(str(a["archive"]), str(a["into"]), tuple(a["entries"]), int(a["files"]),
                                         int(a["bytes"])) for a in data["archives"])
        return DataView(root=folder / "data", source=public, key=str(data["key"]), archives=archives,
                        nested=tuple(str(n) for n in data["nested"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)[:80] or "task"


def unpack_public_dir(public: Path, cache_dir: Path, task_id: str) -> DataView | None:
    """The unpacked view of ``public``, built on first use; None when it holds no archive.

    Raises :class:`TaskError` for a damaged or unsafe archive, a missing ``py7zr`` for ``.7z``,
    or a cache that cannot be written.
    """
    public = Path(public).resolve()
    archives = find_archives(public)
    if not archives:
        return None
    root = Path(cache_dir).expanduser() / "unpacked"
    try:
        root.mkdir(parents=True, exist_ok=True)
        key = _view_key(public, archives, root / "digests")
        folder = root / f"{_slug(task_id)}-{key}"
        view = _load(folder, public)
        if view is not None:
            return view
        with (root / f".{folder.name}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; the others reuse its view
            view = _load(folder, public)
            if view is not None:
                return view
            staging = root / f".{folder.name}.{os.getpid()}.tmp"
            shutil.rmtree(staging, ignore_errors=True)
            try:
                _build(public, archives, staging, key)
                shutil.rmtree(folder, ignore_errors=True)
                os.replace(staging, folder)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise TaskError(f"cannot unpack the public data of {task_id} under {root}: {exc.strerror or exc}",
                        hint="pass a writable --cache-dir or set AIRA_DSL_CACHE") from exc
    loaded = _load(folder, public)
    if loaded is None:
        raise TaskError(f"the unpacked data of {task_id} under {folder} is incomplete",
                        hint=f"remove {folder} and rerun")
    return loaded
