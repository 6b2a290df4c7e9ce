"""Read a spec as it was at a git revision (``REV:path``), with everything it refers to.

A spec at an old revision must be compiled with that revision's bases and prompt templates,
not today's, so the whole tree of that revision is exported (``git archive``) into a
temporary folder and the spec is compiled there.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from pathlib import Path

from aira_dsl.diagnostics import Diagnostic, DiagnosticError

__all__ = ["export_revision", "split_revision_ref"]


def split_revision_ref(ref: str) -> tuple[str, str] | None:
    """``"HEAD~1:specs/a.yaml"`` → ``("HEAD~1", "specs/a.yaml")``; None for a plain path."""
    if Path(ref).exists() or ":" not in ref:
        return None
    rev, _, path = ref.partition(":")
    if not rev or not path or (len(rev) == 1 and path.startswith("\\")):  # C:\ on Windows
        return None
    return rev, path


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=120)
    except FileNotFoundError:
        raise DiagnosticError(Diagnostic("git-missing", "git is not installed",
                                         hint="install git to compare revisions")) from None


def export_revision(ref: str, cwd: Path | None = None) -> tuple[Path, tempfile.TemporaryDirectory[str]]:
    """Export the repository at ``REV`` and return the spec's path inside the export.

    The caller keeps the returned TemporaryDirectory alive while using the path.
    """
    parts = split_revision_ref(ref)
    if parts is None:
        raise DiagnosticError(Diagnostic("bad-revision", f"{ref}: expected REV:path"))
    rev, path = parts
    where = cwd or Path.cwd()
    top = _git(["rev-parse", "--show-toplevel"], where)
    if top.returncode != 0:
        raise DiagnosticError(Diagnostic("bad-revision", f"{ref}: not inside a git repository",
                                         hint="run aira-dsl diff from inside the repository"))
    root = Path(top.stdout.decode().strip())
    commit = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], root)
    if commit.returncode != 0:
        raise DiagnosticError(Diagnostic("bad-revision", f"{ref}: unknown revision '{rev}'",
                                         hint="use a commit, branch or tag, e.g. HEAD~1 or main"))
    # As in `git show`: REV:path is relative to the repository's top, REV:./path to this folder.
    base = where.resolve() if path.startswith(("./", "../")) else root.resolve()
    rel = (base / path).resolve()
    try:
        repo_path = rel.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise DiagnosticError(Diagnostic("bad-revision", f"{ref}: {path} is outside the repository")) from None
    exists = _git(["cat-file", "-e", f"{commit.stdout.decode().strip()}:{repo_path}"], root)
    if exists.returncode != 0:
        raise DiagnosticError(Diagnostic("bad-revision", f"{ref}: '{repo_path}' does not exist at {rev}",
                                         hint=f"list the files there with: git ls-tree -r --name-only {rev}"))
    archive = _git(["archive", "--format=tar", commit.stdout.decode().strip()], root)
    if archive.returncode != 0:
        raise DiagnosticError(Diagnostic("bad-revision", f"{ref}: git archive failed: "
                                         f"{archive.stderr.decode(errors='replace').strip()}"))
    tmp = tempfile.TemporaryDirectory(prefix="aira-dsl-rev-")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tmp.name, filter="data")
    # The export is the repository's tree, so its top is the project root that allowed input
    # paths are confined to (aira_dsl.roots): mark it as the checkout's .git would.
    (Path(tmp.name) / ".git").mkdir(exist_ok=True)
    return Path(tmp.name) / repo_path, tmp
