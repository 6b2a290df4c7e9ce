"""The viewer's sweep index, LLM call files and local server, without a browser.

The server's safety is tested at both levels: :func:`url_segments` / :func:`resolve_inside`
directly, and whole requests through :class:`ViewerSite` (and a real socket for the ``Host``
check), since a path that is safe to resolve must also be one the router agrees to serve.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_support import N, make_run
from tests_support import REPO, run_cli
from viewer_support import HOSTILE, finish, sweep

from aira_dsl.report import ReportError
from aira_dsl.report.serve import (
    ViewerServer,
    ViewerSite,
    make_server,
    resolve_inside,
    run_version,
    url_segments,
)
from aira_dsl.report.viewer import write_viewer
from aira_dsl.report.viewer_calls import call_script, node_calls, write_call_files
from aira_dsl.report.viewer_index import write_index


def embedded(page: str, block: str = "run-data") -> dict[str, Any]:
    match = re.search(rf'<script id="{block}" type="application/json">(.*?)</script>', page, re.S)
    assert match, f"the {block} block is missing"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def get(site: ViewerSite, target: str) -> tuple[int, str]:
    response = site.handle(target)
    body = response.body if isinstance(response.body, bytes) else response.body.read()
    if not isinstance(response.body, bytes):
        response.body.close()
    return response.status, body.decode()


# -- path safety --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/../etc/passwd", "/a/../../x", "/%2e%2e/x", "/a/%2E%2E/%2e%2e/x", "/.git/config",
                                  "/run/.env", "/a%00b", "/a\\..\\b", "/%ff", "/run/%2e/x"])
def test_unsafe_url_paths_are_refused(path: str) -> None:
    assert url_segments(path) is None


def test_url_segments_decode_once() -> None:
    assert url_segments("/a%20b//c/") == ["a b", "c"]
    assert url_segments("/x%252e%252e") == ["x%2e%2e"]  # a literal name, not a second decoding


def test_resolve_inside_follows_links_only_within_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "run" / "nodes").mkdir(parents=True)
    (root / "run" / "nodes" / "out.txt").write_text("inside")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (root / "run" / "in.txt").symlink_to(root / "run" / "nodes" / "out.txt")
    (root / "run" / "out.txt").symlink_to(outside / "secret.txt")
    (root / "run" / "outdir").symlink_to(outside, target_is_directory=True)
    real = Path(os.path.realpath(root))
    assert resolve_inside(real, ["run", "in.txt"]) == real / "run" / "nodes" / "out.txt"
    assert resolve_inside(real, ["run", "out.txt"]) is None
    assert resolve_inside(real, ["run", "outdir", "secret.txt"]) is None
    assert resolve_inside(real, ["run", ".."]) is None and resolve_inside(real, ["a/b"]) is None
    assert resolve_inside(real, []) == real


def test_the_server_serves_files_of_runs_only_and_never_through_a_link_out(tmp_path: Path) -> None:
    root = sweep(tmp_path / "sweep")
    (tmp_path / "secret.txt").write_text("secret")
    (root / "notes.txt").write_text("not part of a run")
    (root / ".env").write_text("OPENAI_API_KEY=sk-secret")
    run = root / "a" / "t1-0"
    (run / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (run / "leakdir").symlink_to(tmp_path, target_is_directory=True)
    (run / "page.html").write_text("<script>alert(1)</script>")
    site = ViewerSite(root)
    assert get(site, "/a/t1-0/nodes/00000/output.txt") == (200, "ok\n")
    for target in ("/a/t1-0/leak.txt", "/a/t1-0/leakdir/secret.txt", "/notes.txt", "/.env", "/a/t1-0/../../secret.txt",
                   "/a/t1-0/%2e%2e/%2e%2e/secret.txt", "/a/t1-0/journal.sqlite-nope", "/a/t1-0/nodes"):
        status, body = get(site, target)
        assert status == 404 and "secret" not in body, target
    html = site.handle("/a/t1-0/page.html")  # served as text, in a sandbox, never as a page
    assert (html.status, html.content_type, html.headers["Content-Disposition"]) == (
        200, "application/octet-stream", "attachment")
    assert html.headers["Content-Security-Policy"].startswith("sandbox")
    if not isinstance(html.body, bytes):
        html.body.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ViewerServer]:
    server = make_server(sweep(tmp_path / "sweep"), 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _request(server: ViewerServer, method: str, path: str, host: str | None = None,
             cookie: str | None = "") -> tuple[int, dict[str, str], str]:
    """One request; with the server's access cookie unless ``cookie`` is given (None: none)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    try:
        headers = {"Host": host} if host is not None else {}
        if cookie == "":
            cookie = f"{server.cookie_name}={server.token}"
        if cookie is not None:
            headers["Cookie"] = cookie
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


def test_the_server_listens_on_loopback_and_refuses_foreign_hosts_and_writes(served: ViewerServer) -> None:
    assert served.server_address[0] == "127.0.0.1"
    status, headers, body = _request(served, "GET", "/")
    assert status == 200 and "5 runs" in body and "default-src 'none'" in headers["Content-Security-Policy"]
    assert _request(served, "GET", "/", host="evil.example:80")[0] == 403  # DNS rebinding
    assert _request(served, "GET", "/", host=f"localhost:{served.server_address[1]}")[0] == 200
    assert _request(served, "POST", "/")[0] == 501 and _request(served, "PUT", "/live/run.json")[0] == 501
    status, headers, body = _request(served, "HEAD", "/live/report.html")
    assert status == 200 and body == "" and int(headers["Content-Length"]) > 1000


# -- the served pages and endpoints ----------------------------------------------------------------

def test_served_index_and_pages_link_to_each_other(tmp_path: Path) -> None:
    root = sweep(tmp_path / "sweep")
    site = ViewerSite(root)
    status, index = get(site, "/")
    assert status == 200 and 'href="a/t1-0/report.html"' in index and 'href="live/report.html"' in index
    assert embedded(index, "index-data") == {"api": True, "live": 1, "runs": 5}
    status, page = get(site, "/a/t1-0/report.html")
    data = embedded(page)
    assert status == 200 and data["page"]["api"] is True and data["page"]["index_href"] == "../../index.html"
    assert data["version"] == run_version(root / "a" / "t1-0")
    assert get(site, "/a/t1-0/")[0] == 200 and get(site, "/a/")[0] == 404  # a folder that is not a run
    single = ViewerSite(root / "live")
    assert embedded(get(single, "/")[1])["page"]["index_href"] is None and get(single, "/index.html")[0] == 404


def test_api_nodes_sends_only_what_changed_since_the_page_version(tmp_path: Path) -> None:
    root = sweep(tmp_path / "sweep")
    run = root / "live"
    site = ViewerSite(root)
    version = embedded(get(site, "/live/report.html")[1])["version"]
    assert json.loads(get(site, f"/live/api/nodes?since={version}")[1]) == {"changed": False, "version": version}
    finish(run, 1, 0, pending=False, metric=0.8)  # the pending node finishes
    finish(run, 2, 1, metric=0.9)                # and a new one is made and finishes
    update = json.loads(get(site, f"/live/api/nodes?since={version}")[1])
    assert update["changed"] and not update["full"] and update["removed"] == []
    assert sorted(n["id"] for n in update["nodes"]) == [1, 2]  # node 0 did not change
    assert [row[0] for row in update["layout"]] == [0, 1, 2] and update["run"]["best_node"] == 2
    assert "3 (" not in update["summary_html"] and "steps" in update["summary_html"]
    assert "<td>improve</td>" in update["operators_html"]
    stale = json.loads(get(site, "/live/api/nodes?since=unknown")[1])
    assert stale["full"] and len(stale["nodes"]) == 3


def test_api_calls_returns_a_nodes_prompts_and_answers(tmp_path: Path) -> None:
    root = sweep(tmp_path / "sweep")
    finish(root / "live", 2, 0, calls=2)
    status, body = get(ViewerSite(root), "/live/api/calls/2")
    calls = json.loads(body)["calls"]
    assert status == 200 and len(calls) == 2 and calls[0]["messages"][0]["content"] == HOSTILE
    assert calls[1]["messages"][1]["content"] == "improve node 0, attempt 1" and calls[0]["response"] == "here is the code"
    assert json.loads(get(ViewerSite(root), "/live/api/calls/7")[1])["calls"] == []
    assert node_calls(root / "live", 2) == calls


def test_unreadable_run_is_a_row_with_the_reason(tmp_path: Path) -> None:
    root = sweep(tmp_path / "sweep")
    (root / "broken").mkdir()
    (root / "broken" / "journal.sqlite").write_bytes(b"\x00garbage" * 500)
    status, index = get(ViewerSite(root), "/")
    assert status == 200 and "cannot read this run" in index
    assert get(ViewerSite(root), "/broken/report.html")[0] == 500


# -- static pages: the index and the call files ------------------------------------------------------

def test_write_index_writes_every_page_and_links_both_ways(tmp_path: Path) -> None:
    root = sweep(tmp_path / "sweep")
    result = write_index(root)
    assert result.index == root / "index.html" and len(result.pages) == 5 and result.skipped == []
    index = result.index.read_text()
    rows = re.findall(r'<tr data-rel="([^"]+)"', index)
    assert rows == ["a/t1-0", "a/t1-1", "b/t2-0", "b/t2-1", "live"]
    assert embedded(index, "index-data")["api"] is False
    page = (root / "a" / "t1-0" / "report.html").read_text()
    assert embedded(page)["page"]["index_href"] == "../../index.html" and "&larr; all runs" in page
    elsewhere = write_index(root, tmp_path / "out" / "runs.html").index.read_text()
    assert 'href="../sweep/a/t1-0/report.html"' in elsewhere


def test_call_files_are_valid_scripts_whatever_the_prompts_hold(tmp_path: Path) -> None:
    root = sweep(tmp_path / "sweep")
    finish(root / "live", 2, 0, calls=2)
    folder = tmp_path / "calls"
    (folder).mkdir()
    (folder / "00009.js").write_text("stale")
    assert write_call_files(root / "live", folder) == 1
    assert sorted(p.name for p in folder.iterdir()) == ["00002.js"]
    script = (folder / "00002.js").read_text()
    assert script.isascii() and "</script>" not in script and "\u2028" not in script
    payload = re.fullmatch(r"window\.__airaViewerCalls && window\.__airaViewerCalls\(2, (.*)\);\n", script, re.S)
    assert payload and json.loads(payload.group(1))[0]["messages"][0]["content"] == HOSTILE
    assert call_script(3, []).endswith("(3, []);\n")


def test_write_viewer_with_calls_points_the_page_at_its_folder(tmp_path: Path) -> None:
    root = sweep(tmp_path / "sweep")
    finish(root / "live", 2, 0)
    page = write_viewer(root / "live", tmp_path / "my page.html", calls=True)
    assert embedded(page.read_text())["page"] == {"api": False, "calls_href": "my%20page.calls/", "index_href": None}
    assert (tmp_path / "my page.calls" / "00002.js").is_file()
    plain = embedded(write_viewer(root / "live").read_text())
    assert plain["page"]["calls_href"] is None and not (root / "live" / "report.calls").exists()
    assert HOSTILE not in (root / "live" / "report.html").read_text()  # prompts stay out of the page


# -- the command -----------------------------------------------------------------------------------

def test_view_on_a_sweep_folder_writes_the_index(tmp_path: Path) -> None:
    root = sweep(tmp_path / "sweep")
    result = run_cli("view", str(root))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(root / "index.html") and (root / "live" / "report.html").is_file()
    bad = run_cli("view", str(root), "--serve", "-o", str(tmp_path / "x.html"))
    assert bad.returncode == 2 and "--serve writes nothing" in bad.stderr


def test_view_serve_runs_until_interrupted(tmp_path: Path) -> None:
    root = sweep(tmp_path / "sweep")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "aira_dsl", "view", str(root), "--serve", "--port", "0"],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"at http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]+) ", line)
        assert match, line + (process.stderr.read() if process.poll() is not None and process.stderr else "")
        port, token = int(match.group(1)), match.group(2)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/live/api/nodes?since=x")
        refused = conn.getresponse()
        assert refused.status == 403 and "access link" in refused.read().decode()
        conn.request("GET", "/live/api/nodes?since=x", headers={"Cookie": f"aira_view_{port}={token}"})
        assert json.loads(conn.getresponse().read())["full"] is True
        conn.close()
    finally:
        process.send_signal(2)  # Ctrl-C
        deadline = time.monotonic() + 20
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0 and "Traceback" not in (process.stderr.read() if process.stderr else "")


def test_make_server_errors_are_report_errors(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no runs"):
        make_server(tmp_path, 0)
    with pytest.raises(ReportError, match="no such folder"):
        make_server(tmp_path / "missing", 0)
    server = make_server(sweep(tmp_path / "sweep"), 0)
    try:
        with pytest.raises(ReportError, match="cannot listen"):
            make_server(tmp_path / "sweep", server.server_address[1])
    finally:
        server.server_close()


def test_hostile_run_names_are_escaped_in_the_index(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    name = "<img src=x onerror=alert(1)>javascript:x"
    make_run(root, name, [N(0, metric=0.5)], spec="</script><b>spec</b>")
    index = write_index(root).index.read_text()
    assert "<img" not in index and "<b>spec" not in index and "&lt;img src=x onerror=alert(1)&gt;" in index
    assert 'href="%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3Ejavascript%3Ax/report.html"' in index


def test_only_requests_with_the_access_token_are_answered(served: ViewerServer) -> None:
    """Another local user who finds the port gets nothing: no token, a wrong token or another
    server's cookie is refused; the token in the URL is traded for an HttpOnly cookie and a
    redirect that drops it from the address (other query parameters kept)."""
    assert served.token and len(served.token) >= 32
    for path in ("/", "/live/report.html", "/live/api/nodes?since=x", "/live/api/calls/0"):
        status, _, body = _request(served, "GET", path, cookie=None)
        assert status == 403 and "access link" in body and "5 runs" not in body, (path, status)
    assert _request(served, "GET", "/?token=wrong", cookie=None)[0] == 403
    other_port = f"aira_view_{served.server_address[1] + 1}={served.token}"
    assert _request(served, "GET", "/", cookie=other_port)[0] == 403
    assert _request(served, "GET", "/", cookie=f"{served.cookie_name}={served.token}x")[0] == 403

    path = served.access_url("live/report.html?poll=150").removeprefix(served.url[:-1])
    status, headers, _ = _request(served, "GET", path, cookie=None)
    assert status == 303 and headers["Location"] == "/live/report.html?poll=150"
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"{served.cookie_name}={served.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    status, _, body = _request(served, "GET", "/live/report.html?poll=150", cookie=cookie.split(";")[0])
    assert status == 200 and "<html" in body.lower()
    assert _request(served, "HEAD", "/", cookie=None)[0] == 403


def test_open_starts_the_browser_on_a_private_file_not_on_the_token_url(tmp_path: Path) -> None:
    """`--open` gives the browser a file name (seen in the process list), not the token."""
    from aira_dsl.cli._view import _redirect_file

    page = _redirect_file('http://127.0.0.1:8765/?token=abc"<x>')
    try:
        assert page.stat().st_mode & 0o777 == 0o600
        text = page.read_text(encoding="utf-8")
        assert 'content="0;url=http://127.0.0.1:8765/?token=abc&quot;&lt;x&gt;"' in text
        assert "abc" not in page.name
    finally:
        page.unlink()
