"""The allow-list of functions an expression may call, as data.

The checker reads the arity from here, the docs render this table, and the evaluator has one
implementation per name; anything not listed is an ``expr-unknown-name`` error, so there is no
way to reach Python builtins from a spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["FUNCTIONS", "FunctionSpec"]


@dataclass(frozen=True)
class FunctionSpec:
    """One allowed function: how many arguments it takes and what it does."""

    name: str
    min_args: int
    max_args: int | None
    signature: str
    arguments: str
    returns: str
    description: str

    def arity_text(self) -> str:
        if self.max_args is None:
            return f"{self.min_args} or more arguments"
        if self.min_args == self.max_args:
            return f"{self.min_args} argument" + ("" if self.min_args == 1 else "s")
        return f"{self.min_args} to {self.max_args} arguments"


_SPECS = (
    FunctionSpec("min", 2, None, "min(a, b, ...)", "numbers", "number",
                 "the smallest argument"),
    FunctionSpec("max", 2, None, "max(a, b, ...)", "numbers", "number",
                 "the largest argument"),
    FunctionSpec("abs", 1, 1, "abs(x)", "a number", "number", "the absolute value"),
    FunctionSpec("log", 1, 1, "log(x)", "a number", "number | null",
                 "the natural logarithm; null when x <= 0"),
    FunctionSpec("exp", 1, 1, "exp(x)", "a number", "number",
                 "e to the power x (a result too large for a float is a run-time error)"),
    FunctionSpec("coalesce", 2, None, "coalesce(a, b, ...)", "values of one type",
                 "that type", "the first argument that is not null (later ones are not evaluated); "
                 "null only if every argument is"),
    FunctionSpec("clip", 3, 3, "clip(x, low, high)", "numbers", "number",
                 "x limited to [low, high], i.e. min(max(x, low), high)"),
    FunctionSpec("len", 1, 1, "len(x)", "a string or a list", "number",
                 "the number of characters or items"),
)

FUNCTIONS: MappingProxyType[str, FunctionSpec] = MappingProxyType({s.name: s for s in _SPECS})
"""Allowed functions by name. Except ``coalesce``, each gives null if an argument is null."""
