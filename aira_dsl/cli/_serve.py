"""``aira-dsl serve-scripted``: run the scripted OpenAI-compatible test server in the foreground."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click

from aira_dsl.diagnostics import EXIT_USAGE


@click.command("serve-scripted")
@click.argument("script", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on; 0 picks a free one.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--quiet", "-q", is_flag=True, help="Do not log one line per request on stderr.")
def serve_scripted(script: Path, port: int, host: str, quiet: bool) -> None:
    """Serve scripted answers over the Chat Completions API until interrupted.

    A test and demo instrument, not a model: it answers requests from the rules of SCRIPT (a
    YAML file, format in docs/llm.md) and can inject faults (rate limits, 5xx, hangs, malformed
    answers). The first line on stdout is the base URL to give a model as `base_url`.

    \b
    Examples:
      aira-dsl serve-scripted answers.yaml
      aira-dsl serve-scripted answers.yaml --port 0      # any free port; read the URL from stdout
    """
    from aira_dsl.llm.script import ScriptError
    from aira_dsl.llm.scripted import ScriptedServer

    def log(entry: dict[str, Any]) -> None:
        click.echo(f"{entry.get('method')} {entry.get('path')} kind={entry.get('kind') or '-'} "
                   f"operator={entry.get('operator') or '-'} node={entry.get('node') or '-'} "
                   f"rule={entry.get('rule') or '-'} -> {entry.get('outcome', 'ok')}", err=True)

    try:
        server = ScriptedServer(script, host=host, port=port, on_request=None if quiet else log)
        server.start()
    except ScriptError as exc:
        click.echo(f"error: {exc}\n  hint: the script format is described in docs/llm.md", err=True)
        sys.exit(EXIT_USAGE)
    except OSError as exc:
        click.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}\n"
                   "  hint: choose another --port (0 picks a free one)", err=True)
        sys.exit(EXIT_USAGE)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    click.echo(server.base_url)
    click.echo("scripted server (test instrument, not a model) — Ctrl-C to stop", err=True)
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("stopped", err=True)
