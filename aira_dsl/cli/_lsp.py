"""``aira-dsl lsp``: the language server, for editors."""

from __future__ import annotations

import sys

import click

from aira_dsl.diagnostics import EXIT_USAGE

MISSING_PYGLS = """\
aira-dsl lsp: the language server needs pygls, which is not installed.

  Install it with:

      pip install 'aira-dsl[lsp]'

  then point your editor at the command `aira-dsl lsp` (it talks LSP over stdin/stdout).
  docs/editors.md shows the setup for VS Code and Neovim.
"""


@click.command("lsp")
@click.option("--stdio", is_flag=True, help="Talk over stdin/stdout (the only transport; accepted because "
                                            "some editors pass it).")
@click.option("--log-level", type=click.Choice(["error", "warning", "info", "debug"]), default="warning",
              show_default=True, help="What to log to stderr (editors show it in their output panel).")
def lsp_command(stdio: bool, log_level: str) -> None:
    """Run the language server: validate's diagnostics as you type, hover, completion, definitions.

    The server speaks the Language Server Protocol over stdin/stdout; start it from an editor,
    not by hand. It checks agent specs, tasks, sandbox profiles and sweeps on their unsaved
    text, and prompt templates (.j2) through the specs that use them.

    \b
    Examples:
      aira-dsl lsp                      what an editor runs (see docs/editors.md)
      aira-dsl lsp --log-level info     also log each check and its time
    """
    try:
        import pygls  # noqa: F401  (only to see whether it is installed)
    except ImportError:
        click.echo(MISSING_PYGLS, err=True, nl=False)
        sys.exit(EXIT_USAGE)
    from aira_dsl.lsp.server import serve

    serve(log_level)
