"""Keep docs/expressions.md's generated blocks in sync with the code.

The page embeds :mod:`aira_dsl.expr.reference`'s tables between
``<!-- BEGIN GENERATED: name -->`` and ``<!-- END GENERATED: name -->`` markers, and a test
fails when they drift apart. Regenerate with ``python -m aira_dsl.expr.docgen
docs/expressions.md`` (``--check`` only compares, exit 1 when stale).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from aira_dsl.expr.reference import generated_blocks

__all__ = ["main", "sync_docs"]


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- BEGIN GENERATED: {name} -->\n)(.*?)(<!-- END GENERATED: {name} -->)",
                      re.DOTALL)


def _replacer(content: str) -> Callable[[re.Match[str]], str]:
    return lambda match: match.group(1) + content + match.group(3)


def sync_docs(text: str) -> str:
    """``text`` with every generated block replaced by its current content.

    ``ValueError`` if a block's markers are missing.
    """
    for name, content in generated_blocks().items():
        pattern = _pattern(name)
        if not pattern.search(text):
            raise ValueError(f"missing <!-- BEGIN/END GENERATED: {name} --> markers")
        text = pattern.sub(_replacer(content), text)
    return text


def main(argv: list[str] | None = None) -> int:
    """``python -m aira_dsl.expr.docgen [--check] FILE``: refresh (or compare) the blocks."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    paths = [a for a in args if a != "--check"]
    if len(paths) != 1:
        print("usage: python -m aira_dsl.expr.docgen [--check] docs/expressions.md", file=sys.stderr)
        return 2
    path = Path(paths[0])
    text = path.read_text(encoding="utf-8")
    updated = sync_docs(text)
    if check:
        if updated != text:
            print(f"{path}: generated blocks are stale; run without --check", file=sys.stderr)
            return 1
        return 0
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
