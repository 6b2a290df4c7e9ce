"""The viewer in headless Chromium: loads without console errors, a click shows the node's code.

The page carries a self-test (``?selftest=1``): after drawing, it clicks a node the way a user
does (a DOM click event on the node's circle), checks the details panel shows that node's code,
and writes the result and every error it recorded (``window.onerror``, resource errors,
``console.error``) into the DOM, which ``--dump-dom`` returns. Chromium's own console log is
checked too, for exceptions thrown before the page's error hook was installed. Needs Debian's
``chromium`` package (``.ci/run`` installs it); skipped with the reason otherwise.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from report_support import N, big_run, make_run
from tests_support import skip_unless_provided

from aira_dsl.report import write_viewer

pytestmark = pytest.mark.browser

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


@pytest.fixture
def _chromium_present() -> None:
    if CHROMIUM is None:
        skip_unless_provided("chromium", "headless Chromium is not installed "
                             "(Debian: apt-get install chromium; .ci/run installs it)")


needs_chromium = pytest.mark.usefixtures("_chromium_present")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp_path / "chromium-profile"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--window-size=1400,1000", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


def selftest(tmp_path: Path, page: Path, node: int | None = None) -> dict[str, Any]:
    """Load ``page`` with the self-test on; its result, with Chromium's uncaught errors added."""
    query = "?selftest=1" + (f"&node={node}" if node is not None else "")
    done = _chromium(tmp_path, "--dump-dom", page.resolve().as_uri() + query)
    assert done.returncode == 0, done.stderr[-2000:]
    match = re.search(r'<pre id="selftest-result">(.*?)</pre>', done.stdout, re.S)
    assert match, f"the self-test did not report; stderr: {done.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    result["uncaught"] = [line for line in done.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    return result


def _graph(tmp_path: Path) -> Path:
    nodes = [N(0, metric=0.61, test=0.6), N(1, metric=0.55, test=0.58), N(2, buggy=True),
             N(3, (2,), "debug", metric=0.63, test=0.7, medal="bronze"),
             N(4, (0,), "improve", metric=0.72, test=0.66, medal="bronze",
               code="import numpy as np\n\ndef fit(x):\n    '''Train.'''\n    return np.mean(x)  # mean\n"),
             N(5, (4, 3), "crossover", metric=0.70, test=0.8, medal="silver"),
             N(6, (4,), "improve", buggy=True, output="Traceback (most recent call last):\nValueError\n"),
             N(7, (6,), "debug", status="pending")]
    return make_run(tmp_path, "run", nodes, status="interrupted", stop_reason="interrupted")


@needs_chromium
def test_page_loads_without_errors_and_a_click_shows_the_code(tmp_path: Path) -> None:
    page = write_viewer(_graph(tmp_path))
    result = selftest(tmp_path, page)
    assert result["errors"] == [] and result["uncaught"] == [], result
    assert result["clicked"] == 4 and result["code_shown"] is True and result["nodes"] == 8
    assert result["title"].startswith("Node 4 · improve · valid, final node")

    shot = tmp_path / "viewer.png"
    done = _chromium(tmp_path, "--hide-scrollbars", f"--screenshot={shot}", page.resolve().as_uri() + "?node=5")
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1400, 1000)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 50  # a drawn page, not a blank one


@needs_chromium
@pytest.mark.parametrize("case", ["no-valid", "empty", "minimize"])
def test_odd_runs_load_without_errors(tmp_path: Path, case: str) -> None:
    if case == "no-valid":
        run_dir = make_run(tmp_path, "r", [N(0, buggy=True), N(1, (0,), "debug", buggy=True)])
    elif case == "empty":
        run_dir = make_run(tmp_path, "r", [], status="running", stop_reason=None)
    else:
        run_dir = make_run(tmp_path, "r", [N(0, metric=3.0, test=2.5), N(1, (0,), "improve", metric=2.0)],
                           direction="minimize")
    result = selftest(tmp_path, write_viewer(run_dir))
    assert result["errors"] == [] and result["uncaught"] == [], result
    expected = {"no-valid": 0, "empty": None, "minimize": 1}[case]
    assert result["clicked"] == expected


@needs_chromium
def test_a_1000_node_run_loads_without_errors(tmp_path: Path) -> None:
    page = write_viewer(big_run(tmp_path, "big", 1000, code_lines=10))
    result = selftest(tmp_path, page)
    assert result["errors"] == [] and result["uncaught"] == [] and result["nodes"] == 1000
    assert result["code_shown"] is True
