"""``aira-dsl view``: a run's page, a sweep's index of runs, or both served live over local HTTP.

Exit codes: 0 written (or server stopped with Ctrl-C); 2 not a run or a folder of runs,
unreadable journal, unwritable output, port in use: a message and a hint, never a traceback.
"""

from __future__ import annotations

import sys
import webbrowser
from pathlib import Path

import click

from aira_dsl.diagnostics import EXIT_OK, EXIT_USAGE


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Where to write the page (default: RUN_DIR/report.html, or SWEEP_DIR/index.html).")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default web browser.")
@click.option("--calls", is_flag=True,
              help="Also write each node's LLM prompts and answers beside the page (report.calls/), "
                   "loaded only when a node's calls are opened.")
@click.option("--serve", is_flag=True,
              help="Serve the pages on 127.0.0.1 instead of writing them: they follow live runs and load "
                   "prompts on demand. Ctrl-C stops.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port for --serve (0: any free port).")
def view(path: Path, output: Path | None, open_browser: bool, calls: bool, serve: bool, port: int) -> None:
    """Look at a run, or at every run of a sweep, in a web browser.

    PATH is a run folder or a folder holding runs at any depth (a sweep). For a run, writes one
    self-contained HTML page (works offline): the search graph with filters by status, operator
    and text, each node's plan, code, output, review, scores, tokens and cost, best-score plots
    and a per-operator table. For a folder of runs, also writes an index page with one sortable
    row per run, linking to each run's page.

    With --serve, nothing is written: a read-only server on 127.0.0.1 renders the same pages
    fresh, follows runs that are still running (pages update as nodes finish) and loads LLM
    prompts and answers when a node's details ask for them. It answers only requests holding
    its access token: open the link it prints (or use --open).

    \b
    Exit codes: 0 written (or server stopped), 2 not a run or a folder of runs, unreadable
    journal, unwritable output, port in use.

    \b
    Examples:
      aira-dsl view runs/<run>                       write runs/<run>/report.html
      aira-dsl view runs/<run> -o run.html --open
      aira-dsl view runs/ --calls                    index + one page per run, prompts beside
      aira-dsl view runs/ --serve --open             browse live on http://127.0.0.1:8765/?token=...
    """
    from aira_dsl.report import ReportError

    try:
        if serve:
            if output is not None or calls:
                raise click.UsageError("-o/--output and --calls write files; --serve writes nothing")
            _serve(path, port, open_browser)
        else:
            _write(path, output, calls, open_browser)
    except ReportError as exc:
        click.echo(exc.render(), err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_OK)


def _write(path: Path, output: Path | None, calls: bool, open_browser: bool) -> None:
    from aira_dsl.report.discover import is_run_dir, require_run_dir, runs_below
    from aira_dsl.report.viewer import write_viewer
    from aira_dsl.report.viewer_index import write_index

    if path.is_dir() and not is_run_dir(path) and runs_below(path):
        result = write_index(path, output, calls=calls)
        for run_dir, reason in result.skipped:
            click.echo(f"warning: skipped {run_dir}: {reason}", err=True)
        target = result.index
    else:
        target = write_viewer(require_run_dir(path), output, calls=calls)
    click.echo(str(target))
    if open_browser and not webbrowser.open(target.resolve().as_uri()):
        click.echo(f"warning: no web browser could be started; open {target} yourself", err=True)


def _serve(path: Path, port: int, open_browser: bool) -> None:
    from aira_dsl.report.discover import is_run_dir, require_run_dir
    from aira_dsl.report.serve import make_server

    if path.is_dir() and not is_run_dir(path):
        server = make_server(path, port)
    else:
        server = make_server(require_run_dir(path), port)
    what = "run" if server.site.single else "runs in"
    address = server.access_url()
    click.echo(f"serving {what} {path} at {address} (read-only; the link holds this server's access "
               "token; Ctrl-C to stop)", err=False)
    sys.stdout.flush()
    opener = _redirect_file(address) if open_browser else None
    if opener is not None and not webbrowser.open(opener.as_uri()):
        click.echo(f"warning: no web browser could be started; open {address} yourself", err=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        server.server_close()
        if opener is not None:
            opener.unlink(missing_ok=True)


def _redirect_file(address: str) -> Path:
    """A page readable by this user only that sends the browser on to ``address``: the browser is
    started with this file's name, so the token never shows in the process list."""
    import html
    import os
    import tempfile

    fd, name = tempfile.mkstemp(prefix="aira-dsl-view-", suffix=".html")  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        target = html.escape(address, quote=True)
        handle.write(f'<!DOCTYPE html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={target}">'
                     f'<title>aira-dsl view</title><a href="{target}">open the viewer</a>\n')
    return Path(name)
