"""``aira-dsl view``: one self-contained HTML file to read a run as a tree.

Everything the page needs is inside the file (no CDN, works offline and as an e-mail
attachment): the CSS and JavaScript are package data files inlined by a Jinja template, and
the run is embedded as JSON that the script draws as an SVG tree (layout computed here, in
:mod:`aira_dsl.report.layout`), two progress plots, node filters and a details panel. Static
parts (the summary and the per-operator table) are rendered here so they read even with scripts
off; they are separate templates so the server (:mod:`aira_dsl.report.serve`) can re-render
them for a page that follows a live run.

Execution output is capped per node (head and tail kept) so a 1,000-node run stays a file a
browser opens quickly; code, plans and reviews are kept whole. LLM prompts and answers are never
embedded (they would dominate the file): a page loads one node's calls on demand, from the
server or from the per-node files :mod:`aira_dsl.report.viewer_calls` writes with ``--calls``.
"""

from __future__ import annotations

import functools
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from aira_dsl import __version__
from aira_dsl.atomicfile import atomic_write
from aira_dsl.report.errors import ReportError
from aira_dsl.report.layout import tree_layout
from aira_dsl.report.load import load_run
from aira_dsl.report.model import NodeView, RunData
from aira_dsl.report.selection import select_test, select_validation
from aira_dsl.report.series import best_so_far
from aira_dsl.report.viewer_calls import finite, write_call_files

__all__ = ["OUTPUT_LIMIT", "OperatorRow", "calls_folder", "operator_table", "page_fragments", "render_viewer",
           "run_facts", "viewer_data", "write_run_page", "write_viewer"]

OUTPUT_LIMIT = 40_000
"""Characters of execution output kept per node (half from the head, half from the tail)."""

_ASSETS = "assets"


@dataclass(frozen=True)
class OperatorRow:
    """One line of the per-operator table."""

    operator: str
    roles: str
    nodes: int
    done: int
    valid: int
    calls: int
    tokens: int
    cost_usd: float
    errors: int

    @property
    def success_rate(self) -> float | None:
        """Valid nodes over finished nodes made by this operator (``None``: it makes no nodes)."""
        return self.valid / self.done if self.done else None


def operator_table(run: RunData) -> list[OperatorRow]:
    """Per operator: nodes made, how many were valid, and its LLM calls, tokens and cost."""
    nodes: dict[str, list[NodeView]] = defaultdict(list)
    for node in run.nodes:
        nodes[node.record.operator].append(node)
    rows = []
    for name in sorted(set(nodes) | set(run.operator_usage)):
        mine = nodes.get(name, [])
        usage = run.operator_usage.get(name)
        rows.append(OperatorRow(
            operator=name, roles=", ".join(sorted({n.record.role for n in mine})) or "-", nodes=len(mine),
            done=sum(n.record.status == "done" for n in mine), valid=sum(n.valid for n in mine),
            calls=usage.calls if usage else 0, tokens=usage.tokens if usage else 0,
            cost_usd=usage.cost_usd if usage else 0.0, errors=usage.errors if usage else 0))
    return rows


def _clip(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    half = limit // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n\n[... {cut} characters cut by the viewer ...]\n\n{text[-half:]}", True


def _node_data(node: NodeView, x: float, y: int) -> dict[str, Any]:
    r = node.record
    data: dict[str, Any] = {
        "id": r.id, "parents": list(r.parent_ids), "op": r.operator, "role": r.role, "kind": node.kind,
        "x": x, "y": y, "metric": r.metric, "fitness": r.fitness, "value": r.value, "plan": r.plan or "",
        "code": r.code or "", "summary": r.summary or "", "error": r.error or "", "depth": r.depth,
        "debug_depth": r.debug_depth, "generation": r.generation, "island": r.island, "worker": r.worker,
        "created": r.created_at, "finished": r.finished_at, "meta": r.meta,
        "usage": {"calls": node.usage.calls, "prompt_tokens": node.usage.prompt_tokens,
                  "completion_tokens": node.usage.completion_tokens,
                  "reasoning_tokens": node.usage.reasoning_tokens, "cost_usd": node.usage.cost_usd,
                  "errors": node.usage.errors, "latency": node.usage.latency},
        "exec": None, "review": None, "grade": None}
    if node.execution is not None:
        e = node.execution
        output, clipped = _clip(e.output, OUTPUT_LIMIT)
        data["exec"] = {"exit_code": e.exit_code, "timed_out": e.timed_out, "oom_killed": e.oom_killed,
                        "duration": e.duration, "output": output, "output_clipped": clipped,
                        "isolation": e.isolation, "submission_exists": e.submission_exists,
                        "submission_valid": e.submission_valid, "submission_reason": e.submission_reason,
                        "reported": e.reported}
    if node.review is not None:
        v = node.review
        data["review"] = {"is_bug": v.is_bug, "summary": v.summary, "metric": v.metric, "method": v.method}
    if node.grade is not None:
        g = node.grade
        data["grade"] = {"hidden_score": g.hidden_score, "test_score": g.test_score,
                         "valid_submission": g.valid_submission, "medal": g.medal,
                         "above_median": g.above_median}
    return data


def _run_data(run: RunData, best: NodeView | None, oracle: NodeView | None) -> dict[str, Any]:
    task = run.task
    metric = task.get("metric")
    metric_name = metric.get("name") if isinstance(metric, dict) else metric
    grade = best.grade if best else None
    usage = run.usage
    return {
        "path": str(run.path), "run_id": str(run.info.get("run_id") or run.path.name), "spec": run.spec,
        "plan_hash": run.plan_hash, "task": run.task_id, "metric": str(metric_name) if metric_name else "metric",
        "direction": run.direction, "seed": run.seed, "status": run.status,
        "stop_reason": run.info.get("stop_reason"), "created_at": run.created_at,
        "finished_at": run.info.get("finished_at"), "workers": run.info.get("workers"),
        "steps": sum(n.record.status == "done" for n in run.nodes), "nodes": len(run.nodes),
        "valid": sum(n.valid for n in run.nodes), "buggy": sum(n.kind == "buggy" for n in run.nodes),
        "pending": sum(n.kind == "pending" for n in run.nodes), "failed": sum(n.kind == "failed" for n in run.nodes),
        "best_node": best.id if best else None, "best_validation": best.record.metric if best else None,
        "best_test": grade.test_score if grade else None, "medal": grade.medal if grade else None,
        "above_median": grade.above_median if grade else None,
        "test_node": oracle.id if oracle else None,
        "test_node_score": oracle.grade.test_score if oracle and oracle.grade else None,
        "cost_usd": usage.cost_usd, "tokens": usage.tokens, "calls": usage.calls,
        "warnings": run.warnings, "version": __version__}


def run_facts(run: RunData) -> dict[str, Any]:
    """The run's header facts (status, steps, best node and scores, cost), as the page shows them.

    Also one row of the sweep index page, so the index and each run's page agree by construction.
    """
    facts: dict[str, Any] = finite(_run_data(run, select_validation(run.nodes),
                                              select_test(run.nodes, run.direction)))
    return facts


def viewer_data(run: RunData) -> dict[str, Any]:
    """Everything the page's script draws, as JSON-ready values."""
    best = select_validation(run.nodes)
    oracle = select_test(run.nodes, run.direction)
    positions = tree_layout([n.id for n in run.nodes], [n.record.parent_ids for n in run.nodes])
    nodes = [_node_data(n, positions[n.id].x, positions[n.id].y) for n in run.nodes]
    progress = [p.to_dict() for p in best_so_far(run.nodes, run.created_at)]
    data: dict[str, Any] = finite({"run": _run_data(run, best, oracle), "nodes": nodes, "progress": progress})
    return data


def _asset(name: str) -> str:
    return (resources.files("aira_dsl.report") / _ASSETS / name).read_text(encoding="utf-8")


def _script_json(data: Any) -> str:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>``, no ``<!--``)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _fmt(value: Any, digits: int = 6) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


@functools.cache
def _environment() -> jinja2.Environment:
    """One Jinja environment for every page: a served run re-renders on each change, so the
    templates are compiled once per process rather than per request."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             loader=jinja2.FunctionLoader(_asset))
    env.filters["num"] = _fmt
    return env


def page_fragments(run: RunData, data: dict[str, Any], *, live: bool = False,
                   index_href: str | None = None) -> dict[str, str]:
    """The server-rendered parts of the page (summary header, operators table) as HTML.

    A served page that follows a live run swaps these in on each change, so the numbers in the
    header and the table are computed by the same code as in a static page.
    """
    env = _environment()
    when = run.created_at
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when)) if when else "-"
    return {
        "summary_html": env.get_template("viewer_summary.html.j2").render(
            run=data["run"], started=started, live=live, index_href=index_href),
        "operators_html": env.get_template("viewer_operators.html.j2").render(operators=operator_table(run)),
    }


def render_viewer(run: RunData, *, api: bool = False, calls_href: str | None = None,
                  index_href: str | None = None, version: str | None = None,
                  data: dict[str, Any] | None = None) -> str:
    """The viewer page of ``run`` as one HTML string.

    ``api``: the page is served by ``aira-dsl view --serve`` (it polls ``api/nodes`` from
    ``version`` on while the run is live and fetches ``api/calls/ID``); ``calls_href``: the
    folder, relative to the page, of the per-node LLM call files written by
    :func:`write_call_files`; ``index_href``: the sweep's index page, for a link back;
    ``data``: :func:`viewer_data` of ``run`` when the caller has it already (the server does).
    """
    data = dict(data) if data is not None else viewer_data(run)
    data["page"] = {"api": api, "calls_href": calls_href, "index_href": index_href}
    data["version"] = version
    return _environment().get_template("viewer.html.j2").render(
        run=data["run"], data_json=_script_json(data), css=_asset("viewer.css"), js=_asset("viewer.js"),
        title=f"{run.spec} · {run.task_id}",
        **page_fragments(run, data, live=api and run.status == "running", index_href=index_href))


def calls_folder(page: Path) -> Path:
    """Where the per-node LLM call files of the page ``page`` go: ``report.html`` -> ``report.calls/``."""
    return page.with_name(page.stem + ".calls")


def write_viewer(run_dir: Path, output: Path | None = None, *, calls: bool = False,
                 index_href: str | None = None) -> Path:
    """Render the viewer of the run at ``run_dir`` to ``output`` (default ``RUN_DIR/report.html``).

    The file is written atomically (a temporary file renamed over it), so a browser never
    shows half a page. With ``calls``, each node's LLM prompts and answers are also written, one
    small script per node, into the folder :func:`calls_folder` names, which the page loads
    only when a node's calls are opened (``<script src>`` works from ``file://`` where
    ``fetch`` does not). Raises :class:`ReportError` when the run cannot be read or a file
    cannot be written.
    """
    run = load_run(run_dir)
    target = Path(output) if output is not None else Path(run_dir) / "report.html"
    write_run_page(run, target, calls=calls, index_href=index_href)
    return target


def write_run_page(run: RunData, target: Path, *, calls: bool = False, index_href: str | None = None) -> None:
    """Write the page of an already loaded run to ``target`` (and its call files with ``calls``)."""
    folder = calls_folder(target)
    page = render_viewer(run, calls_href=quote(folder.name) + "/" if calls else None, index_href=index_href)
    try:
        atomic_write(target, page)
    except OSError as exc:
        raise _unwritable(target, exc) from None
    if calls:
        try:
            write_call_files(run.path, folder)
        except OSError as exc:
            raise _unwritable(folder, exc) from None


def _unwritable(path: Path, exc: OSError) -> ReportError:
    return ReportError(f"cannot write {path}: {exc.strerror or exc}", "choose another file with -o/--output")
