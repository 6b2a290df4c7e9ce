"""Prompt render cost: bounded rendering (renderer process) against plain in-process rendering.

Renders every shipped operator template with its kind's sample context, as the runtime does
(``render_from_sources`` over the collected sources), and prints the median time per render of:

- ``plain``: the sandboxed environment as it was before templates were bounded (same options and
  filters, no loop counting, no bounded filters, ``template.render`` in this process);
- ``bounded, in process``: the bounded environment with the output streamed and capped
  (``render_from_sources_local``: what the renderer process runs);
- ``bounded, renderer process``: the public ``render_from_sources`` (pipe round trip included);

with the ratios to ``plain``, and the cost of starting a renderer (first render of a process).
Rounds are interleaved so a load change on the machine hits every variant alike; CPU time per
render (this process plus the renderer, read from /proc) is printed too, as it is far less
sensitive to other load on the machine than wall time.

Usage: python3 bench/bench_render.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHIPPED = {
    "aide/draft.j2": "draft", "aide/improve.j2": "improve", "aide/debug.j2": "debug",
    "aira/draft.j2": "draft", "aira/improve.j2": "improve", "aira/debug.j2": "debug",
    "aira/crossover.j2": "crossover", "common/analyze.j2": "analyze",
    "dojo/aide/draft.j2": "draft", "dojo/aide/improve.j2": "improve", "dojo/aide/debug.j2": "debug",
    "dojo/aira/draft.j2": "draft", "dojo/aira/improve.j2": "improve", "dojo/aira/debug.j2": "debug",
    "dojo/analyze.j2": "analyze",
}


def plain_renderer() -> Callable[[Mapping[str, str], str, Mapping[str, Any]], str]:
    """Rendering as before the limits: one cached sandboxed environment per source set."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from aira_dsl.templates.environment import _StoreLoader
    from aira_dsl.templates.filters import FILTERS
    from aira_dsl.templates.store import MemoryStore, resolve_name

    class Plain(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def __init__(self, store: MemoryStore):
            self.store = store
            super().__init__(loader=_StoreLoader(store), undefined=StrictUndefined, autoescape=False,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, auto_reload=False)
            self.filters.update(FILTERS)

        def join_path(self, template: str, parent: str) -> str:
            return resolve_name(self.store, template, parent)

    from aira_dsl.templates.environment import sources_digest

    cache: dict[str, Plain] = {}

    def render(sources: Mapping[str, str], entry: str, context: Mapping[str, Any]) -> str:
        key = sources_digest(sources)  # the old cache hashed the sources on every call too
        env = cache.get(key)
        if env is None:
            env = cache[key] = Plain(MemoryStore(sources))
        return env.get_template(entry).render(dict(context))

    return render


def _cpu_seconds(renderer: Any) -> float:
    """CPU time of this process and of its idle renderers (Linux /proc; this process alone elsewhere)."""
    import os

    total = time.process_time()
    for worker in list(renderer._POOL.idle):
        try:
            fields = Path(f"/proc/{worker.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()

    started = time.perf_counter()
    from aira_dsl.templates import collect_sources, load_sample_context, render_from_sources, renderer
    from aira_dsl.templates.environment import render_from_sources_local

    prompts = REPO / "prompts"
    cases = [(collect_sources(prompts / name, [prompts]), name, load_sample_context(kind))
             for name, kind in sorted(SHIPPED.items())]
    variants: dict[str, Callable[[Mapping[str, str], str, Mapping[str, Any]], str]] = {
        "plain (before)": plain_renderer(),
        "bounded, in process": render_from_sources_local,
        "bounded, renderer process": render_from_sources,
    }
    renderer.shutdown()
    start = time.perf_counter()
    render_from_sources(*cases[0])
    first = time.perf_counter() - start
    for render in variants.values():  # compile every template once
        for sources, name, context in cases:
            render(sources, name, context)
    expected = [variants["plain (before)"](*case) for case in cases]
    assert all([render(*case) for case in cases] == expected for render in variants.values())
    times: dict[str, list[float]] = {label: [] for label in variants}
    cpu: dict[str, float] = dict.fromkeys(variants, 0.0)
    for _ in range(args.rounds):
        for label, render in variants.items():
            cpu_start = _cpu_seconds(renderer)
            start = time.perf_counter()
            for sources, name, context in cases:
                render(sources, name, context)
            times[label].append((time.perf_counter() - start) / len(cases))
            cpu[label] += _cpu_seconds(renderer) - cpu_start
    base = statistics.median(times["plain (before)"])
    base_cpu = cpu["plain (before)"]
    renders = args.rounds * len(cases)
    print(f"{len(cases)} shipped prompts x {args.rounds} rounds (interleaved); identical output in every variant")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"{label:28s} wall median {median * 1000:7.3f} ms/render (ratio {median / base:5.2f}x)   "
              f"CPU {cpu[label] / renders * 1000:7.3f} ms/render (ratio {cpu[label] / base_cpu:5.2f}x)")
    print(f"first render of a process (starts a renderer): {first * 1000:.0f} ms")
    print(f"(setup {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
