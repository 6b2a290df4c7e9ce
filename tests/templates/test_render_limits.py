"""Bounded templates: the DoS templates are refused by ``validate`` or stopped at render time
within the limit, with a positioned ``template-limit`` error and the CPU really released."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tests_support import run_cli

from aira_dsl.diagnostics import Diagnostic, DiagnosticError
from aira_dsl.templates import (
    check_template_source,
    load_sample_context,
    render_file,
    render_from_sources,
    render_source,
    renderer,
)
from aira_dsl.templates import limits as limits_module
from aira_dsl.templates.limits import RenderLimits

from .conftest import REPO

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "limits"
FAST = RenderLimits(timeout_s=0.5)


def context(**variables: Any) -> dict[str, Any]:
    ctx = load_sample_context("improve")
    ctx["vars"] = variables
    return ctx


def refused(source: str, limits: RenderLimits = FAST, **variables: Any) -> tuple[Diagnostic, float]:
    """Render ``source`` (as ``hostile.j2``) expecting a failure; the diagnostic and the seconds taken."""
    start = time.monotonic()
    with pytest.raises(DiagnosticError) as caught:
        render_source(source, "hostile.j2", context(**variables), [], limits=limits)
    return caught.value.diagnostics[0], time.monotonic() - start


# ---------------------------------------------------------------------------- validate


@pytest.mark.parametrize(("spec", "line", "col", "message"), [
    ("indent_gigabyte", 3, 21, "indent width 1000000000 is above the limit of 100000"),
    ("center_huge", 2, 14, "center width 300000000 is above the limit of 100000"),
    ("nested_ranges", 3, 6, "nested loops would run 10000000000 iterations (limit 1000000)"),
])
def test_dos_specs_fail_validate_with_positioned_diagnostics(spec: str, line: int, col: int, message: str) -> None:
    result = run_cli("validate", str(FIXTURES / f"{spec}.yaml"))
    assert result.returncode == 1, result.stdout + result.stderr
    template = (FIXTURES / f"{spec}.j2").relative_to(REPO)
    assert f"{template}:{line}:{col}: error: {message} [template-limit]" in result.stdout


@pytest.mark.parametrize(("spec", "line", "message", "limits"), [
    ("indent_gigabyte", 3, "indent width 1000000000 is above the limit of 100000", FAST),
    ("center_huge", 2, "center width 300000000 is above the limit of 100000", FAST),
    # it prints i * j in the inner loop: the output limit comes before the loop limit (given
    # the default time, so a loaded machine still reaches 2,000,000 characters first)
    ("nested_ranges", 3, "the rendered prompt is longer than 2000000 characters", RenderLimits()),
])
def test_dos_templates_are_stopped_at_render_time_too(spec: str, line: int, message: str,
                                                       limits: RenderLimits) -> None:
    # as a plan that skipped validate (or was edited after it) would render them
    template = FIXTURES / f"{spec}.j2"
    start = time.monotonic()
    with pytest.raises(DiagnosticError) as caught:
        render_file(template, context(), [FIXTURES], limits=limits)
    (diag,) = caught.value.diagnostics
    assert (diag.code, diag.file, diag.line) == ("template-limit", str(template), line)
    assert message in diag.message
    assert time.monotonic() - start < limits.timeout_s + 3


@pytest.mark.parametrize(("source", "message"), [
    ("{{ range(10000000)|list }}", "range of 10000000 items is above the limit of 100000"),
    ("{{ 'ab' * 10000000 }}", "repetition would build 20000000 items (limit 1000000)"),
    ("{{ 2 ** 100000 }}", "exponent 100000 is too large (limit 10000)"),
    ("{{ (10 ** 1000) ** 1000 }}", "an integer of 3322 bits ** 1000 would have more than 100000 bits"),
    ("{{ '%1000000s' % task.name }}", "format width 1000000 is above the limit of 100000"),
    ("{{ '%.1000000f'|format(1.5) }}", "format width 1000000 is above the limit of 100000"),
    ("{{ '{:>1000000}'.format(task.name) }}", "format width 1000000 is above the limit of 100000"),
    ("{{ parent.output|truncate(length=10**7) }}", "truncate length 10000000 is above the limit of 100000"),
    ("{{ parent.output|wordwrap(-1e9) }}", "wordwrap width -1000000000 is above the limit of 100000"),
    ("{{ parent.output|head_tail(keep=200000) }}", "head_tail keep 200000 is above the limit of 100000"),
])
def test_literal_shapes_past_the_limits_are_static_errors(source: str, message: str) -> None:
    found = check_template_source(source, "t.j2", "improve", search_paths=[])
    assert [(d.code, d.message) for d in found] == [("template-limit", message)]
    assert found[0].line == 1 and found[0].col is not None


def test_literal_shapes_within_the_limits_pass_validate() -> None:
    source = ("{{ parent.output|indent(8)|center(100000)|wordwrap(80)|truncate(5000) }}"
              "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}"
              "{{ '%10s' % task.name }}{{ '{:>12}'.format(task.name) }}{{ 'ab' * 1000 }}{{ 2 ** 64 }}"
              "{{ parent.output|indent(vars.width) }}")  # known only at render time
    assert check_template_source(source, "t.j2", "improve", search_paths=[], var_names=["width"]) == []


# ---------------------------------------------------------------------------- render time


@pytest.mark.parametrize(("source", "variables", "line", "message"), [
    ("intro\n{{ task.description|indent(vars.width) }}", {"width": 10**9},
     2, "indent width 1000000000 is above the limit of 100000"),
    ("{{ task.name|center(vars.width) }}", {"width": 3e8}, 1, "center width 300000000 is above the limit of 100000"),
    ("{{ parent.output|indent(vars.width) }}", {"width": "x" * 200_000}, 1,
     "indent width of 200000 characters is above the limit of 100000"),
    ("{{ ('line\\n' * 100000)|indent(vars.width) }}", {"width": 50}, 1, "indent would build 5500050 characters"),
    ("{% for i in range(vars.n) %}\n{% for j in range(vars.n) %}{% endfor %}\n{% endfor %}", {"n": 100_000},
     2, "loops ran more than 1000000 iterations in all"),
    ("{{ '%*d' % (vars.width, 1) }}", {"width": 10**9}, 1, "format width 1000000000 is above the limit"),
    ("{{ '{:>{w}}'.format('x', w=vars.width) }}", {"width": 10**9}, 1, "format width 1000000000 is above"),
    ("{{ ('x' * 1000000)|replace('x', vars.s) }}", {"s": "yyy"}, 1, "replace would build 3000000 characters"),
    ("{{ range(vars.n)|length }}", {"n": 10**8}, 1, "range of 100000000 items is above the limit of 100000"),
])
def test_sizes_known_only_at_render_time_stop_with_a_positioned_error(
        source: str, variables: dict[str, Any], line: int, message: str) -> None:
    diag, elapsed = refused(source, **variables)
    assert (diag.code, diag.file, diag.line) == ("template-limit", "hostile.j2", line), diag
    assert message in diag.message
    assert "docs/templates.md#limits" in (diag.hint or "")
    assert elapsed < FAST.timeout_s + 3  # refused up front or by a counter, not by the clock (+ start-up)


def test_output_is_cut_at_the_limit_at_the_line_that_crossed_it() -> None:
    source = "head\n{% for i in range(100) %}\n{{ task.description }}\n{% endfor %}"
    diag, _ = refused(source, RenderLimits(timeout_s=5, max_output_chars=5_000))
    assert (diag.code, diag.line) == ("template-limit", 3)
    assert diag.message == "the rendered prompt is longer than 5000 characters"


def test_memory_is_bounded_in_the_renderer() -> None:
    # a million references to one 1 MB string: its text would be a terabyte
    source = "{% set big = 'x' * 1000000 %}{{ ([big] * 1000000)|join|length }}"
    diag, elapsed = refused(source, RenderLimits(timeout_s=5, memory_bytes=256 << 20))
    assert diag.code == "template-limit" and diag.line == 1
    assert "memory" in diag.message or "took longer" in diag.message
    assert elapsed < 5 + 3


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == os.getpid():
                found.append(int(entry.name))
    return found


def _busy_after(seconds: float) -> float:
    """CPU seconds this process and its children burn during the next ``seconds``."""
    pids = [os.getpid(), *_children()]

    def total() -> float:
        spent = 0.0
        for pid in pids:
            with contextlib.suppress(OSError):  # gone: burns nothing
                spent += _cpu_seconds(pid)
        return spent

    before = total()
    time.sleep(seconds)
    return total() - before


GROW = ("{% macro grow(n) %}{% if n %}{{ grow(n - 1) }}{{ grow(n - 1) }}{% endif %}{% endmacro %}\n"
        "start\n{{ grow(60) }}")
"""Exponential macro recursion: no loop, no filter, no output to count; only the clock stops it."""
STUCK_IN_C = "{% set big = 'x' * 1000000 %}{{ ([big] * 1000000)|tojson|length }}"
"""A terabyte of JSON built inside one C call, where the renderer's own timer cannot interrupt it."""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads CPU times from /proc")
@pytest.mark.parametrize("source", [GROW, STUCK_IN_C], ids=["python-recursion", "inside-one-c-call"])
def test_timeout_stops_the_render_and_releases_the_cpu(source: str) -> None:
    render_source("warm {{ task.name }}", "warm.j2", context(), [])  # start the renderer first
    threads = threading.active_count()
    diag, elapsed = refused(source, RenderLimits(timeout_s=0.5))
    assert diag.code == "template-limit", diag
    if source == GROW:  # interrupted by the clock inside the template: positioned
        assert diag.message == "rendering took longer than 0.5 s"
        assert diag.file == "hostile.j2" and diag.line in (1, 3)  # wherever the clock caught it
    else:  # killed at the grace deadline (or out of memory first, on a very fast machine)
        assert "did not stop within 0.5 s" in diag.message or "memory" in diag.message
    assert elapsed < 0.5 + limits_module.RENDER_KILL_GRACE_S + 1
    assert threading.active_count() == threads  # no thread left behind
    assert _busy_after(1.0) < 0.2  # nothing spins: not this process, not a renderer


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_a_renderer_that_does_not_stop_is_killed_at_the_grace_deadline() -> None:
    # A renderer stuck where its own timer cannot interrupt it (simulated: stopped by SIGSTOP).
    import signal

    renderer.shutdown()
    render_source("{{ task.name }}", "warm.j2", context(), [])
    (stuck,) = renderer._POOL.idle
    os.kill(stuck.proc.pid, signal.SIGSTOP)
    start = time.monotonic()
    diag, _ = refused("{{ task.name }}", RenderLimits(timeout_s=0.3))
    elapsed = time.monotonic() - start
    assert diag.code == "template-limit" and "did not stop within 0.3 s" in diag.message
    assert diag.file == "hostile.j2"
    assert 0.3 + limits_module.RENDER_KILL_GRACE_S - 0.05 < elapsed < 0.3 + limits_module.RENDER_KILL_GRACE_S + 1
    assert stuck.proc.returncode == -signal.SIGKILL and not Path(f"/proc/{stuck.proc.pid}").exists()
    assert render_source("{{ task.name }}", "next.j2", context(), []) == "Palmer penguins species"


def test_a_limit_error_recycles_the_renderer_and_the_next_render_works() -> None:
    refused("{{ task.name|center(vars.w) }}", w=10**9)
    assert render_source("ok {{ task.name }}", "ok.j2", context(), []) == "ok Palmer penguins species"


# ---------------------------------------------------------------------------- unchanged behaviour

PLAIN_CASES = [
    "{% for x in items %}{{ loop.index }}/{{ loop.length }}{{ ',' if not loop.last else '.' }}{% endfor %}",
    "{% for x in items if x > 1 %}{{ x }}{{ loop.revindex }}{% else %}none{% endfor %}",
    "{% for k, v in mapping|dictsort %}{{ k }}={{ v }};{% endfor %}{% for k in mapping %}{{ k }}{% endfor %}",
    "{% for x in [] %}x{% else %}empty{% endfor %}",
    "{% for n in tree recursive %}[{{ n.name }}{% if n.kids %}{{ loop(n.kids) }}{% endif %}]{% endfor %}",
    "{% for x in items %}{{ loop.previtem is defined }}{{ loop.cycle('a', 'b') }}{{ loop.depth }}{% endfor %}",
    "{{ text|indent(4, first=true) }}|{{ text|center(30) }}|{{ text|wordwrap(5) }}|{{ text|truncate(9) }}",
    "{{ '%5.2f|%-4s' % (3.14159, 'x') }}{{ '%(a)s!' % mapping }}",
    "{{ '{:>8}|{:.3f}|{name}'.format('r', 2.5, name='n') }}{{ '%03d'|format(7) }}",
    "{{ items|batch(2)|list }}{{ items|slice(2)|list }}{{ 3.14159|round(2) }}{{ mapping|tojson(indent=2) }}",
    "{{ text|replace('a', 'AA') }}{{ range(3)|list }}{{ 'ab' * 3 }}{{ 2 ** 10 }}{{ 7 % 3 }}{{ 'x%sx' % 1 }}",
]


@pytest.mark.parametrize("source", PLAIN_CASES)
def test_bounded_sandbox_renders_like_plain_jinja(source: str) -> None:
    data = {"items": [1, 2, 3, 4, 5], "mapping": {"b": 2, "a": 1}, "text": "a long line of plain text",
            "tree": [{"name": "r", "kids": [{"name": "c1", "kids": []}, {"name": "c2", "kids": []}]}]}
    plain = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    assert render_source(source, "same.j2", data, []) == plain.from_string(source).render(data)


def test_renders_from_many_threads_at_once_are_each_right() -> None:
    sources = {"main.j2": "{% for i in range(n) %}{{ i }}{% endfor %}:{{ who }}"}
    results: dict[int, str] = {}

    def work(k: int) -> None:
        results[k] = render_from_sources(sources, "main.j2", {"n": k % 7, "who": f"t{k}"})

    threads = [threading.Thread(target=work, args=(k,)) for k in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {k: "".join(map(str, range(k % 7))) + f":t{k}" for k in range(12)}


def test_unpicklable_context_is_a_clear_error() -> None:
    with pytest.raises(DiagnosticError) as caught:
        render_source("{{ f }}", "ctx.j2", {"f": lambda: 1}, [])
    assert caught.value.diagnostics[0].code == "template-render"
    assert "plain data" in (caught.value.diagnostics[0].hint or "")


# ---------------------------------------------------------------------------- documentation


def _shown(value: float) -> str:
    if isinstance(value, float):
        return f"{value:g} s"
    if value >= 1 << 30 and value % (1 << 30) == 0:
        return f"{value >> 30} GiB"
    return f"{value:,}".replace(",", " ")


def test_limits_table_in_the_docs_matches_the_constants() -> None:
    text = (REPO / "docs" / "templates.md").read_text(encoding="utf-8")
    section = text.split("## Limits", 1)[1].split("\n## ", 1)[0]
    for name in limits_module.__all__:
        value = getattr(limits_module, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        rows = [row for row in section.splitlines() if f"`{name}`" in row]
        assert rows, f"{name} is not in the Limits table of docs/templates.md"
        assert _shown(value) in rows[0], f"docs/templates.md shows {name} wrongly: {rows[0]}"
