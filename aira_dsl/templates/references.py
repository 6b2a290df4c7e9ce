"""Finding the other templates a template refers to (include, import, from-import, extends).

Both the checker (to follow fragments) and :func:`collect_sources` (to embed them in a plan)
need the same answer; a reference whose name is not a string literal cannot be followed or
embedded, so it is reported instead of guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from jinja2 import nodes

__all__ = ["Reference", "ReferenceNode", "constant_names", "exported_names", "iter_references", "reference_of"]

ReferenceNode = nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends


@dataclass(frozen=True)
class Reference:
    """One ``include``/``import``/``from``/``extends`` tag; ``names`` is ``None`` if not literal."""

    node: ReferenceNode
    names: tuple[str, ...] | None
    ignore_missing: bool

    @property
    def lineno(self) -> int:
        return self.node.lineno


def constant_names(expr: nodes.Expr) -> tuple[str, ...] | None:
    """The template name(s) of a reference when they are string literals, else ``None``."""
    if isinstance(expr, nodes.Const) and isinstance(expr.value, str):
        return (expr.value,)
    if isinstance(expr, nodes.List | nodes.Tuple):
        names = []
        for item in expr.items:
            if not (isinstance(item, nodes.Const) and isinstance(item.value, str)):
                return None
            names.append(item.value)
        return tuple(names)
    return None


def reference_of(node: ReferenceNode) -> Reference:
    """The :class:`Reference` a reference tag makes."""
    ignore = bool(getattr(node, "ignore_missing", False))
    return Reference(node, constant_names(node.template), ignore)


def iter_references(tree: nodes.Node) -> Iterator[Reference]:
    """Every reference tag in ``tree``, in source order, at any depth."""
    for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        assert isinstance(node, ReferenceNode)
        yield reference_of(node)


def exported_names(tree: nodes.Template) -> frozenset[str]:
    """Names ``{% import %}`` makes available from a template: its top-level macros and sets.

    Names starting with an underscore are private in Jinja and not exported.
    """
    found: set[str] = set()

    def visit(body: list[nodes.Node]) -> None:
        for stmt in body:
            if isinstance(stmt, nodes.Macro):
                found.add(stmt.name)
            elif isinstance(stmt, nodes.Assign | nodes.AssignBlock):
                for name in stmt.target.find_all(nodes.Name):
                    found.add(name.name)
                if isinstance(stmt.target, nodes.Name):
                    found.add(stmt.target.name)
            elif isinstance(stmt, nodes.If):
                visit(stmt.body)
                for branch in stmt.elif_:
                    visit(branch.body)
                visit(stmt.else_)

    visit(tree.body)
    return frozenset(name for name in found if not name.startswith("_"))
