"""The operator-kind table: what each kind of operator is, in one place.

An operator's ``kind`` decides how many parent nodes it takes, what its LLM call produces, which
template variables its prompt receives beyond the common ones, whether the complexity cue applies
and which policy roles it may play. Search (graph arity, debug chains), templates (declared
variables), the compiler (schema enum, role binding, complexity warnings) and the runtime (context
building, the generate stage) all read this table instead of restating the vocabulary.

Adding a kind is one :func:`register_kind` call plus, if it needs a template variable no kind has
yet, that variable's declaration (``aira_dsl.templates.declarations.register_context_variable``).
User-defined kinds declared in YAML (DESIGN.md, "Spec language v2") build on the same table.

This module sits at the bottom of the layering: it imports nothing from aira_dsl.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BUILTIN_KINDS",
    "KindError",
    "OperatorKind",
    "Output",
    "get_kind",
    "kind_names",
    "node_kinds",
    "register_kind",
    "role_kinds",
    "roles",
    "unregister_kind",
]

Output = Literal["code", "review"]
"""What an operator's LLM call produces: a solution (plan + code, a new graph node) or a review
of a node's run (``{is_bug, summary, metric}``, no new node)."""


class KindError(ValueError):
    """An unknown kind, or a registration that would make the table inconsistent."""


@dataclass(frozen=True)
class OperatorKind:
    """One row of the table.

    ``parents`` is the (min, max) number of parent nodes a node made by this kind has; it is
    ``None`` for kinds that make no node (analyze reviews the node another operator made).
    ``context`` names the template variables this kind adds to the common ones (declared in
    ``aira_dsl/templates/declarations.py``). ``roles`` are the policy roles an operator of this
    kind may be bound to (``policy.use``); a role is a slot a built-in policy fills, such as
    ``debug``.
    """

    name: str
    description: str
    parents: tuple[int, int] | None
    output: Output
    context: tuple[str, ...]
    complexity: bool
    roles: tuple[str, ...]
    debug: bool = False
    """A node of this kind continues a debug chain (``debug_depth`` counts these in a row)."""

    def __post_init__(self) -> None:
        if self.parents is not None:
            low, high = self.parents
            if low < 0 or high < low:
                raise KindError(f"kind {self.name!r}: parents must be (min, max) with 0 <= min <= max")
        if (self.parents is None) != (self.output == "review"):
            raise KindError(f"kind {self.name!r}: a review kind makes no node (parents=None), a code kind does")

    @property
    def makes_nodes(self) -> bool:
        return self.parents is not None

    def accepts_parents(self, count: int) -> bool:
        return self.parents is not None and self.parents[0] <= count <= self.parents[1]


BUILTIN_KINDS: tuple[OperatorKind, ...] = (
    OperatorKind("draft", "write a new solution from the task alone", (0, 0), "code", (), True, ("draft",)),
    OperatorKind("improve", "make one change to a valid solution", (1, 1), "code", ("parent",), True,
                 ("improve",)),
    OperatorKind("debug", "fix a buggy solution", (1, 1), "code", ("parent",), False, ("debug",), debug=True),
    OperatorKind("crossover", "combine two valid solutions", (2, 2), "code", ("parents",), False,
                 ("crossover",)),
    OperatorKind("analyze", "review a node's run: bug?, summary, validation metric", None, "review", ("node",),
                 False, ("analyze",)),
)

_TABLE: dict[str, OperatorKind] = {kind.name: kind for kind in BUILTIN_KINDS}


def register_kind(kind: OperatorKind) -> OperatorKind:
    """Add a kind (a name already in the table is an error unless it is the same row)."""
    existing = _TABLE.get(kind.name)
    if existing is not None and existing != kind:
        raise KindError(f"operator kind {kind.name!r} is already registered")
    _TABLE[kind.name] = kind
    return kind


def unregister_kind(name: str) -> None:
    """Remove a registered kind (built-in kinds stay)."""
    if any(k.name == name for k in BUILTIN_KINDS):
        raise KindError(f"built-in operator kind {name!r} cannot be removed")
    _TABLE.pop(name, None)


def get_kind(name: str) -> OperatorKind:
    try:
        return _TABLE[name]
    except KeyError:
        raise KindError(f"unknown operator kind {name!r}; expected one of {', '.join(_TABLE)}") from None


def kind_names() -> tuple[str, ...]:
    """Every kind, built-ins first, in registration order (the order docs and schemas list them)."""
    return tuple(_TABLE)


def node_kinds() -> Iterator[OperatorKind]:
    """Kinds whose operators make graph nodes."""
    return (k for k in _TABLE.values() if k.makes_nodes)


def roles() -> tuple[str, ...]:
    """Every policy role some kind may play, in table order (``policy.use`` keys)."""
    seen: dict[str, None] = {}
    for kind in _TABLE.values():
        for role in kind.roles:
            seen.setdefault(role)
    return tuple(seen)


def role_kinds(role: str) -> tuple[str, ...]:
    """The kinds that may play ``role``."""
    return tuple(k.name for k in _TABLE.values() if role in k.roles)
