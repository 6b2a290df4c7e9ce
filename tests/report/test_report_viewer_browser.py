"""The viewer's interactive parts in headless Chromium: index, filters, canvas size, live runs, prompts.

Each test drives one Chromium over the DevTools pipe (:mod:`cdp_support`) the way a user
would (real mouse clicks, typing, picking options) and reads the page's DOM; uncaught
exceptions and ``console.error`` lines fail the test. Live and lazy-loading tests run against
the real server on a free port; static ones open the written files over ``file://``. Needs
Debian's ``chromium`` package; skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cdp_support import CHROMIUM, Browser
from report_support import N, make_run
from tests_support import run_cli, skip_unless_provided
from viewer_support import HOSTILE, finish

from aira_dsl.report.serve import ViewerServer, make_server
from aira_dsl.report.viewer import write_viewer
from aira_dsl.report.viewer_index import write_index

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    if CHROMIUM is None:
        skip_unless_provided("chromium", "headless Chromium is not installed "
                             "(Debian: apt-get install chromium; .ci/run installs it)")
    with Browser(tmp_path / "chromium-profile") as b:
        yield b
        assert b.errors() == [], b.errors()


def serve(root: Path) -> ViewerServer:
    server = make_server(root, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def graph_run(root: Path) -> Path:
    """Eight nodes: drafts, improve and debug chains, a crossover, a buggy node and one in flight."""
    nodes = [N(0, metric=0.61, test=0.6), N(1, metric=0.55, test=0.58), N(2, buggy=True, output="KeyError: 'x'\n"),
             N(3, (2,), "debug", metric=0.63, test=0.7, medal="bronze"),
             N(4, (0,), "improve", metric=0.72, test=0.66, medal="bronze",
               code="import numpy as np\n\ndef fit(x):\n    return np.mean(x)\n"),
             N(5, (4, 3), "crossover", metric=0.70, test=0.8, medal="silver"),
             N(6, (4,), "improve", buggy=True, output="Traceback (most recent call last):\nValueError\n"),
             N(7, (6,), "debug", status="pending")]
    return make_run(root, "run", nodes, status="interrupted", stop_reason="interrupted")


def visible_nodes(b: Browser) -> list[int]:
    """Ids of the nodes drawn at full strength (filtered ones fade and stop taking clicks)."""
    ids: list[int] = b.eval("Array.from(document.querySelectorAll('g.node')).filter(function (g) {"
                            " var s = getComputedStyle(g); return s.opacity > 0.5 && s.pointerEvents !== 'none'; })"
                            ".map(function (g) { return Number(g.dataset.id); })")
    return sorted(ids)


def rows(b: Browser) -> list[str]:
    names: list[str] = b.eval("Array.from(document.querySelectorAll('#runs tbody tr')).filter(function (r) {"
                              " return !r.hidden; }).map(function (r) { return r.dataset.rel; })")
    return names


def test_index_lists_a_sweeps_runs_sorts_them_and_links_to_each_page(tmp_path: Path, browser: Browser) -> None:
    root = tmp_path / "sweep"
    for name, spec, seed, metric, cost in [("greedy/s0", "greedy", 0, 0.71, 0.5), ("greedy/s1", "greedy", 1, 0.93, 0.2),
                                           ("mcts/s0", "mcts", 0, 0.52, 0.9), ("mcts/s1", "mcts", 1, 0.88, 0.1)]:
        make_run(root, name, [N(0, metric=metric - 0.1, calls=[("draft", 10, 5, cost / 2)]),
                              N(1, (0,), "improve", metric=metric, calls=[("improve", 10, 5, cost / 2)])],
                 spec=spec, seed=seed)
    index = write_index(root).index
    browser.goto(index.as_uri())
    assert rows(browser) == ["greedy/s0", "greedy/s1", "mcts/s0", "mcts/s1"]
    assert "4 runs" in browser.eval("document.querySelector('h1').textContent")

    browser.click("#runs th[data-key=best]")  # numbers sort best first
    assert rows(browser) == ["greedy/s1", "mcts/s1", "greedy/s0", "mcts/s0"]
    browser.click("#runs th[data-key=best]")  # again: reversed
    assert rows(browser) == ["mcts/s0", "greedy/s0", "mcts/s1", "greedy/s1"]
    browser.click("#runs th[data-key=cost]")
    assert rows(browser) == ["mcts/s0", "greedy/s0", "greedy/s1", "mcts/s1"]
    assert browser.eval("location.hash") == "#sort=cost:desc"

    browser.type_text("#run-filter", "mcts")
    assert rows(browser) == ["mcts/s0", "mcts/s1"]
    assert browser.eval("document.getElementById('run-count').textContent") == "2 of 4 runs shown"

    browser.click('#runs a[href="mcts/s1/report.html"]')
    browser.wait_for("location.pathname.endsWith('/mcts/s1/report.html') && document.readyState === 'complete'")
    assert browser.eval("document.querySelectorAll('g.node').length") == 2
    browser.click(".crumbs a")  # back to the index, in the order it was left
    browser.wait_for("location.pathname.endsWith('/index.html') && document.readyState === 'complete'")


def test_filters_hide_nodes_by_status_operator_and_text(tmp_path: Path, browser: Browser) -> None:
    page = write_viewer(graph_run(tmp_path))
    browser.goto(page.as_uri())
    assert visible_nodes(browser) == list(range(8))
    assert browser.eval("document.getElementById('f-count').textContent") == "8 nodes"

    browser.choose("#f-status", "buggy")
    assert visible_nodes(browser) == [2, 6]
    assert browser.eval("document.getElementById('f-count').textContent") == "2 of 8 nodes match"
    browser.click('g.node[data-id="0"] circle')  # a faded node takes no clicks
    assert browser.eval("document.getElementById('details-body').hidden") is True

    browser.choose("#f-status", "")
    assert browser.eval("Array.from(document.getElementById('f-op').options).map(function (o) { return o.value; })") \
        == ["", "crossover", "debug", "draft", "improve"]
    browser.choose("#f-op", "debug")
    assert visible_nodes(browser) == [3, 7]
    browser.choose("#f-op", "")

    browser.type_text("#f-text", "NUMPY")  # case-insensitive, in code
    browser.wait_for("document.getElementById('f-count').textContent === '1 of 8 nodes match'")
    assert visible_nodes(browser) == [4]
    browser.key("Enter")  # jumps to the match
    assert browser.eval("document.getElementById('d-title').textContent").startswith("Node 4 ")
    browser.click("#f-clear")
    assert visible_nodes(browser) == list(range(8))

    browser.eval("document.getElementById('f-text').value = ''")
    browser.type_text("#f-text", "valueerror")  # in the execution output
    browser.wait_for("document.getElementById('f-count').textContent === '1 of 8 nodes match'")
    assert visible_nodes(browser) == [6]

    browser.goto(page.as_uri() + "?status=valid&op=improve")  # a link can carry a filter
    assert visible_nodes(browser) == [4]


def test_canvas_height_follows_the_graph_on_a_tall_window(tmp_path: Path, browser: Browser) -> None:
    browser.resize(1400, 2600)
    browser.goto(write_viewer(graph_run(tmp_path)).as_uri())
    canvas, drawn = browser.eval("(function () { var svg = document.getElementById('graph');"
                                 " var g = svg.firstChild; var t = g.transform.baseVal.consolidate().matrix;"
                                 " return [svg.getBoundingClientRect().height, g.getBBox().height * t.a]; })()")
    # The tree plus its margins, no empty band (the canvas was 68% of the window: ~1770 px).
    assert drawn > 150 and drawn <= canvas <= drawn + 120, (canvas, drawn)

    chain = [N(0, metric=0.5)] + [N(i, (i - 1,), "debug", buggy=True) for i in range(1, 60)]
    browser.goto(write_viewer(make_run(tmp_path, "chain", chain)).as_uri())
    canvas = browser.eval("document.getElementById('graph').getBoundingClientRect().height")
    assert canvas == round(2600 * 0.85)  # a graph taller than the window gets most of it, no more

    browser.resize(1400, 900)
    browser.goto(write_viewer(make_run(tmp_path, "flat", [N(i, metric=0.5) for i in range(40)])).as_uri())
    assert browser.eval("document.getElementById('graph').getBoundingClientRect().height") == 220  # the minimum


def test_a_live_runs_page_updates_after_a_node_finishes(tmp_path: Path, browser: Browser) -> None:
    root = tmp_path / "sweep"
    run = make_run(root, "live", [N(0, metric=0.3), N(1, (0,), "improve", status="pending")], status="running",
                   stop_reason=None)
    make_run(root, "done", [N(0, metric=0.5)])
    server = serve(root)
    try:
        browser.goto(server.access_url("live/report.html?poll=150"))
        assert browser.eval("document.querySelector('g.node[data-id=\"1\"]').classList.contains('pending')")
        assert "still running" in browser.eval("document.getElementById('summary').textContent")
        browser.click('g.node[data-id="0"] circle')
        browser.wait_for("document.getElementById('live').textContent.indexOf('live') === 0")

        finish(run, 1, 0, pending=False, metric=0.6)
        finish(run, 2, 1, metric=0.9)
        browser.wait_for("document.querySelector('g.node[data-id=\"2\"]') !== null")
        assert browser.eval("document.querySelector('g.node[data-id=\"1\"]').getAttribute('class')") == "node valid"
        assert browser.eval("document.querySelector('g.node[data-id=\"2\"]').classList.contains('best')")
        summary = browser.eval("document.getElementById('summary').textContent")
        assert "3 (3 valid, 0 buggy)" in " ".join(summary.split()) and "node 2" in summary
        assert browser.eval("document.getElementById('d-title').textContent").startswith("Node 0 ")  # kept
        assert "<td>improve</td><td>improve</td><td class=\"r\">2</td>" in browser.eval(
            "document.getElementById('operators-table').innerHTML")

        info = json.loads((run / "run.json").read_text())
        (run / "run.json").write_text(json.dumps({**info, "status": "finished", "stop_reason": "steps"}))
        browser.wait_for("document.getElementById('live').textContent === 'run finished; stopped following it'")
        polls = browser.eval("window.__viewerLive.polls")
        browser.eval("new Promise(function (r) { setTimeout(r, 600); })")
        assert browser.eval("window.__viewerLive.polls") == polls  # it stopped polling
    finally:
        server.shutdown()
        server.server_close()


def _open_calls(b: Browser, node: int) -> str:
    b.click(f'g.node[data-id="{node}"] circle')
    b.click("#d-calls-load")
    text: str = b.wait_for("document.querySelector('#d-calls details.call') && document.getElementById('d-calls').textContent")
    assert b.eval("document.querySelectorAll('#d-calls b, #d-calls script').length") == 0  # shown as text
    return text


def test_prompts_and_answers_load_on_demand(tmp_path: Path, browser: Browser) -> None:
    root = tmp_path / "sweep"
    run = make_run(root, "run", [N(0, metric=0.3)], status="running", stop_reason=None)
    finish(run, 1, 0, calls=2)
    server = serve(root)
    try:
        browser.goto(server.access_url("run/report.html"))
        assert browser.eval("document.querySelectorAll('#d-calls details').length") == 0
        text = _open_calls(browser, 1)
        assert HOSTILE in text and "improve node 0, attempt 1" in text and "here is the code" in text
    finally:
        server.shutdown()
        server.server_close()

    browser.goto(write_viewer(run, calls=True).as_uri())  # static, with the call files beside it
    assert "improve node 0, attempt 0" in _open_calls(browser, 1)

    browser.goto(write_viewer(run, tmp_path / "plain.html").as_uri())  # static, prompts not written
    browser.click('g.node[data-id="1"] circle')
    assert browser.eval("document.getElementById('d-calls-load')") is None
    assert "--serve" in browser.eval("document.getElementById('d-calls-head').textContent")


def test_a_served_index_follows_its_live_runs(tmp_path: Path, browser: Browser) -> None:
    root = tmp_path / "sweep"
    run = make_run(root, "live", [N(0, metric=0.3)], status="running", stop_reason=None)
    make_run(root, "done", [N(0, metric=0.5)])
    server = serve(root)
    steps = "document.querySelector('tr[data-rel=\"live\"] td:nth-child(6)').textContent.trim()"
    try:
        browser.goto(server.access_url("?poll=150#sort=steps:desc"))
        browser.wait_for("document.getElementById('index-live').textContent.indexOf('1 live') >= 0")
        assert browser.eval(steps) == "1"
        finish(run, 1, 0)
        browser.wait_for(f"{steps} === '2'")
        assert rows(browser) == ["live", "done"]  # the sort survives the refresh
        info = json.loads((run / "run.json").read_text())
        (run / "run.json").write_text(json.dumps({**info, "status": "finished", "stop_reason": "steps"}))
        browser.wait_for("document.querySelector('tr[data-rel=\"live\"] .status').textContent === 'finished'")
        assert browser.eval("document.getElementById('index-live').textContent") == ""
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_a_real_run_in_a_sweep_serves_its_real_prompts(tmp_path: Path, browser: Browser) -> None:
    """A run made by the whole pipeline (``aira-dsl demo``: scripted server, sandbox) beside a factory run."""
    root = tmp_path / "sweep"
    demo = run_cli("demo", "--out", str(root / "demo"), "--steps", "3", timeout=240)
    assert demo.returncode == 0, demo.stderr[-3000:]
    make_run(root, "factory", [N(0, metric=0.5)])
    server = serve(root)
    try:
        browser.goto(server.access_url())
        assert rows(browser) == ["demo", "factory"]
        browser.click('#runs a[href="demo/report.html"]')
        browser.wait_for("location.pathname === '/demo/report.html' && document.readyState === 'complete'")
        text = _open_calls(browser, 0)
        assert "TASK DESCRIPTION" in text and "answer" in text.lower()
    finally:
        server.shutdown()
        server.server_close()
