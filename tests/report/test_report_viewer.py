"""The HTML viewer without a browser: self-contained, embedded data intact, odd runs rendered."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import pytest
from report_support import N, make_run

from aira_dsl.report import ReportError, load_run, operator_table, render_viewer, write_viewer
from aira_dsl.report.viewer import OUTPUT_LIMIT


def embedded(page: str) -> dict[str, Any]:
    match = re.search(r'<script id="run-data" type="application/json">(.*?)</script>', page, re.S)
    assert match, "the run data block is missing"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def _run(tmp_path: Path, **kwargs: Any) -> Path:
    nodes = kwargs.pop("nodes", None) or [
        N(0, metric=0.6, test=0.55, calls=[("draft", 100, 20, 0.01)]),
        N(1, (0,), "improve", metric=0.8, test=0.5, medal="bronze", calls=[("improve", 300, 40, 0.03)]),
        N(2, (0,), "improve", metric=0.7, test=0.9, medal="gold"),
        N(3, (1,), "debug", buggy=True, calls=[("debug", 50, 10, 0.005)]),
    ]
    return make_run(tmp_path, "run", nodes, **kwargs)


def test_page_is_self_contained(tmp_path: Path) -> None:
    page = render_viewer(load_run(_run(tmp_path)))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page
    assert page.count("<script") == 4  # error hook, data, viewer, self-test fallback


def test_embedded_data_has_graph_scores_and_selection(tmp_path: Path) -> None:
    data = embedded(render_viewer(load_run(_run(tmp_path))))
    run, nodes = data["run"], {n["id"]: n for n in data["nodes"]}
    assert run["best_node"] == 1 and run["test_node"] == 2 and run["medal"] == "bronze"
    assert run["best_test"] == 0.5 and run["test_node_score"] == 0.9
    assert [nodes[i]["kind"] for i in range(4)] == ["valid", "valid", "valid", "buggy"]
    assert nodes[3]["parents"] == [1] and nodes[3]["op"] == "debug" and nodes[3]["y"] == 2
    assert nodes[2]["grade"]["medal"] == "gold" and nodes[1]["usage"]["prompt_tokens"] == 300
    assert [(p["step"], p["node"]) for p in data["progress"]] == [(1, 0), (2, 1), (4, 1)]


def test_hostile_text_cannot_break_out_of_the_data_block(tmp_path: Path) -> None:
    code = "print('</script><script>alert(1)</script><!--')\n"
    run_dir = _run(tmp_path, nodes=[N(0, metric=0.5, code=code, plan="<b>bold</b> & co")])
    page = render_viewer(load_run(run_dir))
    assert "alert(1)</script>" not in page
    node = embedded(page)["nodes"][0]
    assert node["code"] == code and node["plan"] == "<b>bold</b> & co"


def test_non_finite_metrics_become_null(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, nodes=[N(0, metric=math.inf, fitness=1.0), N(1, metric=0.5)])
    data = embedded(render_viewer(load_run(run_dir)))
    assert data["nodes"][0]["metric"] is None


def test_long_output_keeps_head_and_tail(tmp_path: Path) -> None:
    output = "HEAD\n" + "x" * (3 * OUTPUT_LIMIT) + "\nTAIL"
    run_dir = _run(tmp_path, nodes=[N(0, metric=0.5, output=output)])
    exec_data = embedded(render_viewer(load_run(run_dir)))["nodes"][0]["exec"]
    assert exec_data["output_clipped"] and exec_data["output"].startswith("HEAD")
    assert exec_data["output"].endswith("TAIL") and len(exec_data["output"]) < OUTPUT_LIMIT + 200


def test_operator_table(tmp_path: Path) -> None:
    rows = {r.operator: r for r in operator_table(load_run(_run(tmp_path)))}
    assert (rows["improve"].nodes, rows["improve"].valid, rows["improve"].success_rate) == (2, 2, 1.0)
    assert rows["debug"].success_rate == 0.0 and rows["debug"].calls == 1 and rows["draft"].tokens == 120
    page = render_viewer(load_run(_run(tmp_path / "again")))
    assert "<td>improve</td><td>improve</td><td class=\"r\">2</td><td class=\"r\">2 / 2</td>" in page


@pytest.mark.parametrize(("case", "banner"), [
    ("interrupted", "This run has not finished (status: interrupted"),
    ("no-valid", "No valid node"),
    ("empty", "The journal holds no nodes yet."),
])
def test_odd_runs_render_with_a_banner(tmp_path: Path, case: str, banner: str) -> None:
    if case == "interrupted":
        run_dir = _run(tmp_path, status="interrupted", stop_reason="interrupted",
                       nodes=[N(0, metric=0.5), N(1, (0,), "improve", status="pending")])
    elif case == "no-valid":
        run_dir = _run(tmp_path, nodes=[N(0, buggy=True), N(1, (0,), "debug", buggy=True)])
    else:
        run_dir = make_run(tmp_path, "empty", [], status="running")
    page = render_viewer(load_run(run_dir))
    assert banner in page
    assert embedded(page)["run"]["nodes"] == {"interrupted": 2, "no-valid": 2, "empty": 0}[case]


def test_write_viewer_default_and_explicit_paths(tmp_path: Path) -> None:
    run_dir = _run(tmp_path)
    assert write_viewer(run_dir) == run_dir / "report.html"
    assert (run_dir / "report.html").read_text().startswith("<!DOCTYPE html>")
    target = tmp_path / "out" / "page.html"
    assert write_viewer(run_dir, target) == target and target.is_file()
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_output_is_a_report_error(tmp_path: Path) -> None:
    run_dir = _run(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ReportError, match="cannot write"):
        write_viewer(run_dir, locked / "page.html")


def test_output_that_is_a_directory_is_a_report_error(tmp_path: Path) -> None:
    run_dir = _run(tmp_path)
    (tmp_path / "adir").mkdir()
    with pytest.raises(ReportError, match="cannot write"):
        write_viewer(run_dir, tmp_path / "adir")
