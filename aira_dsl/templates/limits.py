"""The bounds one prompt render must stay within, defined in one place.

Templates come from spec authors and plans may be run by someone else, so a template must not be
able to stall or exhaust the orchestrator: ``{{ x|indent(10**9) }}`` would build a gigabyte,
two nested ``range(100000)`` loops would never end. Every limit below is enforced at render time
(:mod:`aira_dsl.templates.bounded` inside the template sandbox, :mod:`aira_dsl.templates.renderer`
around it) and, where a template's literal shape already shows it, by ``aira-dsl validate``
(:mod:`aira_dsl.templates.checker`). Both report the code :data:`LIMIT_CODE`.
``docs/templates.md`` ("Limits") lists them; a test keeps that table in step with this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2.exceptions import SecurityError

__all__ = [
    "DEFAULT_LIMITS",
    "LIMIT_CODE",
    "LIMIT_HINT",
    "MAX_EXPONENT",
    "MAX_LOOP_ITERATIONS",
    "MAX_OUTPUT_CHARS",
    "MAX_POWER_BITS",
    "MAX_RANGE",
    "MAX_REPEAT",
    "MAX_WIDTH",
    "RENDER_KILL_GRACE_S",
    "RENDER_MEMORY_BYTES",
    "RENDER_TIMEOUT_S",
    "RenderLimits",
    "TemplateLimitError",
]

LIMIT_CODE = "template-limit"
"""Diagnostic code of every limit below, at validate time and at render time."""

LIMIT_HINT = "prompt templates are bounded in time, size, loops and filter arguments: see docs/templates.md#limits"
"""The hint of every :data:`LIMIT_CODE` diagnostic."""

RENDER_TIMEOUT_S = 5.0
"""Wall-clock seconds one render may take (shipped prompts take well under a millisecond).
At this point the render is interrupted where it is and reported at that template line."""

RENDER_KILL_GRACE_S = 1.0
"""Seconds after :data:`RENDER_TIMEOUT_S` at which a render that did not stop (stuck inside one
long operation) has its renderer process killed, so no CPU is spent on it afterwards."""

RENDER_MEMORY_BYTES = 1 << 30
"""Memory (address space) a render may add to its renderer process: 1 GiB."""

MAX_OUTPUT_CHARS = 2_000_000
"""Largest rendered prompt, in characters (about 500k tokens: more than any model accepts)."""

MAX_WIDTH = 100_000
"""Largest numeric argument of a filter that builds text (``indent``, ``center``, ``wordwrap``,
``truncate``, ``head_tail``, ...) and largest width or precision in a format string."""

MAX_RANGE = 100_000
"""Most items ``range()`` may produce (Jinja's own sandbox limit)."""

MAX_LOOP_ITERATIONS = 1_000_000
"""Most ``for``-loop iterations one render may run, all loops together (nested loops multiply)."""

MAX_REPEAT = 1_000_000
"""Largest string or list a template may build with ``*``."""

MAX_EXPONENT = 10_000
"""Largest exponent ``**`` takes."""

MAX_POWER_BITS = 100_000
"""Largest integer (in bits, about 30,000 digits) ``**`` may produce."""


@dataclass(frozen=True)
class RenderLimits:
    """The per-render limits, as one value a caller may tighten (tests use short timeouts).

    The bounds on filter arguments, ranges, repetition and powers are fixed module constants:
    they shape what a template may be, and ``validate`` checks them statically.
    """

    timeout_s: float = RENDER_TIMEOUT_S
    max_output_chars: int = MAX_OUTPUT_CHARS
    max_loop_iterations: int = MAX_LOOP_ITERATIONS
    memory_bytes: int = RENDER_MEMORY_BYTES


DEFAULT_LIMITS = RenderLimits()


class TemplateLimitError(SecurityError):
    """A template went past one of the limits above; reported with code :data:`LIMIT_CODE`.

    A :class:`~jinja2.exceptions.SecurityError` (the sandbox refused it), so code that treats
    sandbox refusals as template errors keeps working.
    """
