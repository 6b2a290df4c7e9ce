"""Limits enforced inside the template sandbox: filter arguments, format widths, ranges, loops.

The renderer process (:mod:`aira_dsl.templates.renderer`) is what guarantees a hostile template
cannot take more than its time and memory; the checks here make the common cases fail early,
cheaply and with a message at the offending template line (``indent width 1000000000 is above
the limit of 100000``) instead of a timeout: a filter asked to build a gigabyte refuses before
allocating it, a loop refuses its millionth-and-first iteration. Each raises
:class:`~aira_dsl.templates.limits.TemplateLimitError`.

Loops are counted by rewriting each template's syntax tree before Jinja generates its code
(:func:`instrument_loops`): the iterable of every ``for`` is passed through
``environment.bounded_loop``, which counts iterations against the render's budget (kept in a
context variable set by the render function, so a cached environment serves concurrent renders).
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from string import Formatter
from typing import Any

from jinja2 import nodes

from aira_dsl.templates.limits import (
    DEFAULT_LIMITS,
    MAX_EXPONENT,
    MAX_POWER_BITS,
    MAX_RANGE,
    MAX_REPEAT,
    MAX_WIDTH,
    RenderLimits,
    TemplateLimitError,
)

__all__ = [
    "BOUNDED_FILTER_ARGS",
    "BoundedLoop",
    "RenderBudget",
    "bound_filters",
    "bounded_range",
    "check_format_spec",
    "check_percent_format",
    "check_power",
    "check_repeat",
    "filter_arg_positions",
    "format_string_number",
    "instrument_loops",
    "percent_format_number",
    "power_message",
    "rendering",
]

BOUNDED_FILTER_ARGS: Mapping[str, tuple[str, ...]] = {
    "indent": ("width",),
    "center": ("width",),
    "wordwrap": ("width",),
    "truncate": ("length", "leeway"),
    "head_tail": ("limit", "keep"),
    "batch": ("linecount",),
    "slice": ("slices",),
    "round": ("precision",),
    "tojson": ("indent",),
    "humanize": ("parts",),
}
"""Filters whose numeric arguments size what they build (or how long they run), and those
arguments by name; each must be at most :data:`~aira_dsl.templates.limits.MAX_WIDTH`.
``format`` is bounded by the widths inside its format string instead."""


# ------------------------------------------------------------------ per-render budget


@dataclass
class RenderBudget:
    """What one render has used so far of its :class:`~aira_dsl.templates.limits.RenderLimits`."""

    limits: RenderLimits
    iterations: int = 0


_BUDGET: ContextVar[RenderBudget | None] = ContextVar("aira_dsl_render_budget", default=None)


@contextmanager
def rendering(limits: RenderLimits) -> Iterator[RenderBudget]:
    """``with rendering(limits): ...`` counts the loops of the render inside the block."""
    budget = RenderBudget(limits)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def _max_output() -> int:
    budget = _BUDGET.get()
    return (budget.limits if budget is not None else DEFAULT_LIMITS).max_output_chars


# ------------------------------------------------------------------ loops


class BoundedLoop:
    """An iterable that counts each item it hands out against the render's loop budget.

    ``len()`` is passed through, so ``loop.length`` and ``loop.last`` behave as without it.
    """

    __slots__ = ("_budget", "_inner")

    def __init__(self, inner: Iterable[Any], budget: RenderBudget):
        self._inner = inner
        self._budget = budget

    def __len__(self) -> int:
        return len(self._inner)  # type: ignore[arg-type]  # TypeError: Jinja counts another way

    def __iter__(self) -> Iterator[Any]:
        budget = self._budget
        limit = budget.limits.max_loop_iterations
        for item in self._inner:
            budget.iterations += 1
            if budget.iterations > limit:
                raise TemplateLimitError(f"loops ran more than {limit} iterations in all (nested loops "
                                         "multiply)")
            yield item


def bounded_loop(iterable: Any) -> Any:
    """What an instrumented ``for`` iterates: ``iterable``, counted when a render budget is set."""
    budget = _BUDGET.get()
    return iterable if budget is None else BoundedLoop(iterable, budget)


_LOOP_HOOK = "bounded_loop"


def _counted(expr: nodes.Node) -> nodes.Expr:
    if isinstance(expr, nodes.Call) and isinstance(expr.node, nodes.EnvironmentAttribute) \
            and expr.node.name == _LOOP_HOOK:
        return expr
    call = nodes.Call(nodes.EnvironmentAttribute(_LOOP_HOOK), [expr], [], None, None)
    call.set_lineno(expr.lineno)
    return call


def _recursive_calls(body: Iterable[nodes.Node]) -> Iterator[nodes.Call]:
    """``loop(...)`` calls of a recursive loop's body (not those of loops nested in it)."""
    for node in body:
        if isinstance(node, nodes.For):
            yield from _recursive_calls([node.iter])
            continue
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name == "loop":
            yield node
        yield from _recursive_calls(node.iter_child_nodes())


def instrument_loops(tree: nodes.Template) -> nodes.Template:
    """Route every ``for`` loop's iterable (and the items a recursive loop recurses into)
    through ``environment.bounded_loop``. Mutates and returns ``tree``; idempotent."""
    for loop in tree.find_all(nodes.For):
        loop.iter = _counted(loop.iter)
        if loop.recursive:
            for call in _recursive_calls(loop.body):
                if call.args:
                    call.args[0] = _counted(call.args[0])
    return tree


def bounded_range(*args: int) -> range:
    """``range()`` for templates: at most :data:`MAX_RANGE` items."""
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise TemplateLimitError(f"range of {len(rng)} items is above the limit of {MAX_RANGE}")
    return rng


# ------------------------------------------------------------------ operators


def check_repeat(left: Any, right: Any) -> None:
    """Refuse ``*`` repetitions that would build more than :data:`MAX_REPEAT` items."""
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(count, int) and len(seq) * count > MAX_REPEAT:
            raise TemplateLimitError(f"repetition would build {len(seq) * count} items "
                                     f"(limit {MAX_REPEAT})")


def check_power(left: Any, right: Any) -> None:
    """Refuse integer powers with a huge exponent or a huge result (CPU and memory)."""
    if not (isinstance(right, int) and isinstance(left, int)):
        return
    if abs(right) > MAX_EXPONENT:
        raise TemplateLimitError(f"exponent {right} is too large (limit {MAX_EXPONENT})")
    if right > 0 and max(left.bit_length() - 1, 0) * right > MAX_POWER_BITS:
        raise TemplateLimitError(power_message(left, right))


def power_message(base: int, exponent: int) -> str:
    """Why ``base ** exponent`` is refused (a huge base is described, not printed)."""
    shown = str(base) if base.bit_length() <= 64 else f"an integer of {base.bit_length()} bits"
    return f"{shown} ** {exponent} would have more than {MAX_POWER_BITS} bits"


# ------------------------------------------------------------------ format strings

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?[a-zA-Z%]")
_NUMBER = re.compile(r"\d+")


def percent_format_number(fmt: str) -> tuple[int, bool]:
    """The largest width or precision in a ``%``-format string, and whether one is ``*``."""
    largest, star = 0, False
    for match in _PERCENT_SPEC.finditer(fmt):
        for part in match.groups():
            if part == "*":
                star = True
            elif part:
                largest = max(largest, int(part) if len(part) < 20 else 10 ** 20)
    return largest, star


def format_string_number(fmt: str) -> int:
    """The largest number in the format specs of a ``str.format`` string (its widths and
    precisions; nested ``{}`` fields count as nothing). Malformed strings count as 0."""
    try:
        specs = [spec for _, _, spec, _ in Formatter().parse(fmt) if spec]
    except ValueError:
        return 0
    return max((_spec_number(spec) for spec in specs), default=0)


def _spec_number(spec: str) -> int:
    return max((int(n) if len(n) < 20 else 10 ** 20 for n in _NUMBER.findall(spec)), default=0)


def _too_wide(what: str, value: int) -> TemplateLimitError:
    return TemplateLimitError(f"{what} {value} is above the limit of {MAX_WIDTH}")


def check_format_spec(spec: str) -> None:
    """Refuse a ``str.format`` field spec whose width or precision is above :data:`MAX_WIDTH`."""
    number = _spec_number(spec)
    if number > MAX_WIDTH:
        raise _too_wide("format width", number)


def check_percent_format(fmt: Any, args: Any) -> None:
    """Refuse ``fmt % args`` (and ``fmt|format(...)``) with a width or precision above
    :data:`MAX_WIDTH`, written in ``fmt`` or passed for a ``*``."""
    if not isinstance(fmt, str):
        return
    number, star = percent_format_number(fmt)
    if number > MAX_WIDTH:
        raise _too_wide("format width", number)
    if star:
        values = args if isinstance(args, tuple) else (args,)
        for value in values:
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_WIDTH:
                raise _too_wide("format width", value)


# ------------------------------------------------------------------ filters


def filter_arg_positions(func: Callable[..., Any], names: Iterable[str]) -> dict[str, int]:
    """Where each named parameter of filter ``func`` sits among the arguments a template writes
    (``x|indent(8)``: ``width`` is 0), i.e. after the value and any context Jinja passes."""
    return dict(_arg_positions(func, tuple(names)))


@functools.cache
def _arg_positions(func: Callable[..., Any], names: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    target = inspect.unwrap(func)
    params = [name for name, p in inspect.signature(target).parameters.items()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    skip = 2 if getattr(func, "jinja_pass_arg", None) is not None else 1
    visible = params[skip:]
    return tuple((name, visible.index(name)) for name in names if name in visible)


def _check_width(filter_name: str, param: str, value: Any) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float):
        if not math.isnan(value) and abs(value) > MAX_WIDTH:
            shown = int(value) if math.isfinite(value) and value == int(value) else value
            raise TemplateLimitError(f"{filter_name} {param} {shown} is above the limit of {MAX_WIDTH}")
    elif isinstance(value, str) and len(value) > MAX_WIDTH:
        raise TemplateLimitError(f"{filter_name} {param} of {len(value)} characters is above the limit of "
                                 f"{MAX_WIDTH}")


def _bounded(filter_name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with its :data:`BOUNDED_FILTER_ARGS` checked before it runs."""
    offset = 2 if getattr(func, "jinja_pass_arg", None) is not None else 1
    positions = {name: offset + index
                 for name, index in filter_arg_positions(func, BOUNDED_FILTER_ARGS[filter_name]).items()}

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        for name, position in positions.items():
            if name in kwargs:
                _check_width(filter_name, name, kwargs[name])
            elif position < len(args):
                _check_width(filter_name, name, args[position])
        if filter_name == "indent":
            _check_indent(args, kwargs)
        return func(*args, **kwargs)

    return bounded


def _check_indent(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """``indent`` repeats its width on every line: refuse before building an oversized text."""
    text = args[0] if args else kwargs.get("s", "")
    width = kwargs.get("width", args[1] if len(args) > 1 else 4)
    per_line = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    if isinstance(text, str) and per_line > 0:
        size = len(text) + (text.count("\n") + 1) * per_line
        if size > _max_output():
            raise TemplateLimitError(f"indent would build {size} characters (limit {_max_output()})")


def _bounded_format(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        check_percent_format(value, kwargs or args)
        return func(value, *args, **kwargs)

    return bounded


def _bounded_replace(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def bounded(eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None) -> Any:
        if isinstance(s, str) and isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
            found = s.count(old) if old else len(s) + 1
            if isinstance(count, int) and count >= 0:
                found = min(found, count)
            size = len(s) + found * (len(new) - len(old))
            if size > _max_output():
                raise TemplateLimitError(f"replace would build {size} characters (limit {_max_output()})")
        return func(eval_ctx, s, old, new, count)

    return bounded


_WRAPPED: dict[tuple[str, Callable[..., Any]], Callable[..., Any]] = {}


def bound_filters(filters: dict[str, Callable[..., Any]]) -> None:
    """Replace the filters of :data:`BOUNDED_FILTER_ARGS`, ``format`` and ``replace`` in
    ``filters`` (an environment's table) by bounded versions; results are unchanged. The
    wrappers are made once per filter function (environments are made per render of a file)."""
    for name in (*BOUNDED_FILTER_ARGS, "format", "replace"):
        func = filters.get(name)
        if func is None:
            continue
        wrapped = _WRAPPED.get((name, func))
        if wrapped is None:
            if name == "format":
                wrapped = _bounded_format(func)
            elif name == "replace":
                wrapped = _bounded_replace(func)
            else:
                wrapped = _bounded(name, func)
            _WRAPPED[(name, func)] = wrapped
        filters[name] = wrapped
