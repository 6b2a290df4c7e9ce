"""The sweep index page: one row per run below a folder, sortable, each linking to its run's page.

``aira-dsl view SWEEP_DIR`` writes ``SWEEP_DIR/index.html`` and every run's ``report.html``, so
the index's links work from ``file://`` as well as when served. Rows are rendered here (the
table reads with scripts off); the page's script only sorts and filters them and, when served,
refreshes them while a run is live. A run whose journal cannot be read still gets a row, with
the reason, rather than hiding it (a typo should not silently shrink an experiment).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aira_dsl import __version__
from aira_dsl.atomicfile import atomic_write
from aira_dsl.report.discover import runs_below
from aira_dsl.report.errors import ReportError
from aira_dsl.report.load import load_run
from aira_dsl.report.model import RunData
from aira_dsl.report.viewer import _asset, _environment, _script_json, run_facts, write_run_page

__all__ = ["INDEX_FILE", "PAGE_FILE", "IndexResult", "index_row", "render_index", "write_index"]

INDEX_FILE = "index.html"
PAGE_FILE = "report.html"


@dataclass
class IndexResult:
    """What :func:`write_index` wrote: the index, the run pages, and the runs it could not read."""

    index: Path
    pages: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def _href(path: str) -> str:
    """A relative URL for a relative file path (each segment percent-encoded)."""
    return "/".join(quote(part) for part in path.split(os.sep))


def index_row(run: RunData | None, run_dir: Path, root: Path, *, error: str | None = None) -> dict[str, Any]:
    """One run's row: its facts (as its page's header shows them) and the link to its page."""
    rel = os.path.relpath(run_dir, root)
    row: dict[str, Any] = {"rel": rel if rel != "." else run_dir.name, "href": _href(
        PAGE_FILE if rel == "." else os.path.join(rel, PAGE_FILE)), "error": error}
    if run is not None:
        facts = run_facts(run)
        when = run.created_at
        row.update(facts)
        row["started"] = time.strftime("%Y-%m-%d %H:%M", time.localtime(when)) if when else "-"
        row["created_at"] = when
    return row


def _counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    status = Counter(str(r.get("status") or "unreadable") for r in rows)
    return {"runs": len(rows), "status": sorted(status.items()),
            "specs": sorted({str(r["spec"]) for r in rows if r.get("spec")}),
            "tasks": sorted({str(r["task"]) for r in rows if r.get("task")}),
            "live": sum(r.get("status") == "running" for r in rows)}


def render_index(root: Path, rows: list[dict[str, Any]], *, api: bool = False) -> str:
    """The index page of the runs ``rows`` found below ``root``.

    ``api``: the page is served (``aira-dsl view --serve``), so while a run is live its script
    re-reads the page from the server and swaps the rows in.
    """
    counts = _counts(rows)
    data = {"api": api, "live": counts["live"], "runs": len(rows)}
    return _environment().get_template("index.html.j2").render(
        rows=rows, counts=counts, root=str(root), title=f"runs in {root.resolve().name or root}",
        css=_asset("viewer.css"), js=_asset("index.js"), data_json=_script_json(data),
        version=__version__)


def write_index(root: Path, output: Path | None = None, *, calls: bool = False) -> IndexResult:
    """Write every run's page below ``root`` and an index page linking to them.

    The index goes to ``output`` (default ``ROOT/index.html``); each run's page to
    ``RUN/report.html`` with a link back to the index. Raises :class:`ReportError` when
    ``root`` holds no run or a file cannot be written; unreadable runs are listed in
    ``skipped`` (and in the index, with the reason).
    """
    root = Path(root)
    runs = runs_below(root)
    if not runs:
        raise ReportError(f"{root}: no runs in this folder (no run.json or journal.sqlite at any depth)",
                          "pass the folder a run wrote, or a folder that contains runs")
    target = Path(output) if output is not None else root / INDEX_FILE
    result = IndexResult(index=target)
    rows = []
    for run_dir in runs:
        try:
            run = load_run(run_dir)
        except ReportError as exc:
            result.skipped.append((run_dir, exc.message))
            rows.append(index_row(None, run_dir, root, error=exc.message))
            continue
        page = run_dir / PAGE_FILE
        back = _href(os.path.relpath(target.resolve(), page.resolve().parent))
        write_run_page(run, page, calls=calls, index_href=back)
        result.pages.append(page)
        row = index_row(run, run_dir, root)
        row["href"] = _href(os.path.relpath(page.resolve(), target.resolve().parent))
        rows.append(row)
    try:
        atomic_write(target, render_index(root, rows))
    except OSError as exc:
        raise ReportError(f"cannot write {target}: {exc.strerror or exc}",
                          "choose another file with -o/--output") from None
    return result
