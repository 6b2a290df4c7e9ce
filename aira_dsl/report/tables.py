"""A plain table and its three renderings (aligned text, GitHub markdown, CSV).

Both ``aira-dsl runs`` and ``aira-dsl report`` print tables; one small type keeps their text,
markdown and CSV output consistent without pulling a table library into the core.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Table"]


@dataclass
class Table:
    """Rows of already formatted cells under a header; ``right`` names right-aligned columns."""

    columns: Sequence[str]
    rows: list[list[str]] = field(default_factory=list)
    title: str | None = None
    right: frozenset[str] = frozenset()

    def add(self, *cells: str) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"a row of {len(cells)} cells in a table of {len(self.columns)} columns")
        self.rows.append(list(cells))

    def text(self) -> str:
        widths = [max([len(c)] + [len(r[i]) for r in self.rows]) for i, c in enumerate(self.columns)]

        def line(cells: Sequence[str]) -> str:
            parts = [cell.rjust(w) if col in self.right else cell.ljust(w)
                     for cell, w, col in zip(cells, widths, self.columns, strict=True)]
            return "  ".join(parts).rstrip()

        out = [self.title] if self.title else []
        out += [line(self.columns), "  ".join("-" * w for w in widths)]
        out += [line(r) for r in self.rows]
        return "\n".join(out) + "\n"

    def markdown(self) -> str:
        def esc(cell: str) -> str:
            return cell.replace("|", "\\|")

        out = [f"### {self.title}", ""] if self.title else []
        out.append("| " + " | ".join(esc(c) for c in self.columns) + " |")
        out.append("|" + "|".join("---:" if c in self.right else "---" for c in self.columns) + "|")
        out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in self.rows]
        return "\n".join(out) + "\n"

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return buffer.getvalue()
