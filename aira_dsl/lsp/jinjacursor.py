"""What a cursor in a prompt template is on, and the declared type of a template expression.

Templates are checked against the variables their operator kind receives
(:mod:`aira_dsl.templates.declarations`); hover and completion read the same declarations, so
the editor can never offer a name the checker would reject. A template is often half-typed
(``{{ task.``), so the cursor context is read from the text before the cursor, not parsed.
Loop variables (``{% for m in memory %}``) are typed from what they iterate over.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from aira_dsl.templates.types import Field, ListOf, Record, StrMap, VarType

__all__ = ["TemplateCursor", "chain_at", "fields_of", "include_at", "loop_variables", "resolve", "template_cursor",
           "variables_for"]

_CHAIN = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)?(\.?)(\w*)$")
_FOR = re.compile(r"\{%-?\s*for\s+([A-Za-z_]\w*)\s+in\s+([A-Za-z_][\w.]*)")
_INCLUDE = re.compile(r"""\{%-?\s*(?:include|import|from|extends)\s+(['"])([^'"]+)\1""")


@dataclass(frozen=True)
class TemplateCursor:
    """The expression the cursor is in: ``chain`` names before the last dot, ``prefix`` the word
    being typed; ``filter`` when it follows ``|``; ``loops`` maps loop variables to what they
    iterate over."""

    chain: tuple[str, ...]
    prefix: str
    filter: bool
    loops: Mapping[str, tuple[str, ...]]


def _in_tag(before: str) -> bool:
    opened = max(before.rfind("{{"), before.rfind("{%"))
    closed = max(before.rfind("}}"), before.rfind("%}"))
    return opened >= 0 and opened > closed


def loop_variables(before: str) -> dict[str, tuple[str, ...]]:
    """Loop variables opened before the cursor, with the dotted names they iterate over."""
    return {m.group(1): tuple(m.group(2).split(".")) for m in _FOR.finditer(before)}


def template_cursor(before: str) -> TemplateCursor | None:
    """The cursor context from the template text before the cursor; None outside ``{{ }}``/``{% %}``."""
    if not _in_tag(before):
        return None
    match = _CHAIN.search(before)
    assert match is not None  # the pattern matches the empty string
    chain_text, dot, prefix = match.group(1) or "", match.group(2), match.group(3)
    if chain_text and not dot:  # "task" with no dot yet: the word being typed is the chain
        chain_text, prefix = chain_text.rsplit(".", 1) if "." in chain_text else ("", chain_text)
    chain = tuple(chain_text.split(".")) if chain_text else ()
    head = before[:match.start()].rstrip()
    return TemplateCursor(chain, prefix, head.endswith("|") and not chain, loop_variables(before))


def chain_at(line: str, char: int) -> tuple[str, ...]:
    """The dotted names up to and including the word under ``char`` (``task.metric`` when the
    cursor is on ``metric`` of ``task.metric.name``)."""
    start = char
    while start > 0 and (line[start - 1].isalnum() or line[start - 1] in "_."):
        start -= 1
    end = char
    while end < len(line) and (line[end].isalnum() or line[end] == "_"):
        end += 1
    text = line[start:end].strip(".")
    return tuple(part for part in text.split(".") if part) if text else ()


def include_at(line: str, char: int) -> str | None:
    """The template name of an include/import/extends tag whose quoted name holds ``char``."""
    for match in _INCLUDE.finditer(line):
        if match.start(2) - 1 <= char <= match.end(2) + 1:
            return match.group(2)
    return None


def variables_for(kinds: Iterable[str]) -> dict[str, Field]:
    """The top-level variables the templates of ``kinds`` receive (all kinds when empty)."""
    from aira_dsl.templates.declarations import declared_variables, kind_names

    found: dict[str, Field] = {}
    for kind in list(kinds) or list(kind_names()):
        try:
            found.update(declared_variables(kind))
        except KeyError:
            continue
    return found


def resolve(chain: Sequence[str], variables: Mapping[str, Field],
            loops: Mapping[str, tuple[str, ...]] | None = None, depth: int = 0) -> Field | None:
    """The declared field a dotted chain names (``task.metric.name``), or None."""
    if not chain or depth > 8:
        return None
    head = variables.get(chain[0])
    if head is None and loops and chain[0] in loops:
        iterated = resolve(loops[chain[0]], variables, loops, depth + 1)
        if iterated is not None and isinstance(iterated.type, ListOf):
            head = Field(chain[0], iterated.type.item, f"each item of `{'.'.join(loops[chain[0]])}`: "
                         + iterated.doc)
    current = head
    for name in chain[1:]:
        if current is None or not isinstance(current.type, Record):
            return None
        current = current.type.field(name)
    return current


def fields_of(vtype: VarType, var_names: Iterable[str] = ()) -> list[Field]:
    """What may follow a dot after a value of ``vtype`` (a ``vars`` mapping: the spec's names)."""
    if isinstance(vtype, Record):
        return list(vtype.fields)
    if isinstance(vtype, StrMap):
        return [Field(name, vtype.value, "a constant from the spec's `vars`") for name in var_names]
    return []
