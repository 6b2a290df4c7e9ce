"""Language-server re-check time: a 500-line spec, one-character edits, against a cold validate.

Generates a project with a 500-line agent spec (models, vars, a dozen operators with inline
and file prompts, memory filters, fitness expressions) and measures, in one process:

- cold validate: ``validate_paths`` on the spec with every content cache of the library
  cleared first (what ``aira-dsl validate`` does in a fresh process, minus the imports);
- warm validate: the same after editing one character on disk (library caches kept);
- the language server's re-check (``Analyzer.update`` + ``recheck``) after each of N
  one-character edits of the editor's text, cycling through prose inside a prompt, a number
  and an expression: the median, the 90th percentile and the maximum, and the ratio of the
  median to the cold validate.

The goal (issue 16) is a median re-check of at most 100 ms.

Usage: python3 bench/bench_lsp.py [--edits N] [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

KINDS = ["draft", "improve", "debug", "analyze"]


def generate_spec(target_lines: int = 500) -> str:
    """A valid spec of exactly ``target_lines`` lines (the last inline prompt is padded with
    guidance lines, as long prompts are)."""
    lines = ["# yaml-language-server: $schema=../schema/agent.schema.json", "version: 1", "name: big",
             "description: a generated spec for the language-server bench", "", "models:"]
    for name in ("coder", "reviewer", "helper"):
        lines += [f"  {name}:", "    model: gpt-4o", "    temperature: 0.5", "    timeout: 5m",
                  "    price: {input_per_mtok: 2.5, output_per_mtok: 10.0}"]
    lines += ["", "operators:"]
    for index in range(14):
        kind = KINDS[index % 4]
        name = kind if index < 4 else f"{kind}_{index}"
        extra = {"improve": " {{ parent.code }}", "debug": " {{ parent.output | head_tail(2000) }}",
                 "analyze": " {{ node.output | head_tail(4000) }}", "draft": ""}[kind]
        lines += [f"  {name}:", f"    kind: {kind}", "    model: coder", "    retries: 2", "    prompt:"]
        if index % 3 == 0:
            lines += [f"      system: ../prompts/{kind}.j2"]
        else:
            lines += ["      system: |",
                      "        You are an expert machine-learning engineer. Task: {{ task.name }}.",
                      "        {{ task.description }}",
                      "        Metric: {{ task.metric.name }} ({{ task.metric.direction }}).",
                      "        {% for entry in memory %}",
                      "        - {{ entry.plan }} scored {{ entry.metric }}",
                      "        {% endfor %}",
                      "        Constant: {{ vars.v1 }}; packages: {{ packages | join(', ') }}",
                      f"        Now write the answer.{extra}"]
        lines += ["      user: Answer with a plan and one code block.",
                  "    memory:", "      scope: global", '      where: "not node.buggy and node.metric != null"',
                  "      limit: 5"]
        if kind in ("draft", "improve"):  # the kinds complexity cues are given to
            lines += ["    complexity:", "      - {below: 2, cue: minimal}", "      - {below: 4, cue: moderate}",
                      "      - {cue: advanced}"]
    tail = ["", "policy:", "  kind: greedy", "  num_drafts: 5", "  debug_prob: 1.0", "  max_debug_depth: 20",
            "  use: {draft: draft, improve: improve, debug: debug}", "",
            "fitness:", "  direction: task", "  metric: review.metric",
            '  buggy: "exec.exit_code != 0 or exec.timed_out or review.is_bug or metric == null"',
            "  value: metric", "", "budget: {time: 24h, exec_timeout: 4h}", "",
            "vars:", *(f"  v{i}: {i}" for i in range(10))]
    last_prompt = max(i for i, line in enumerate(lines) if line == "      system: |")
    padding = [f"        - Guideline {i}: keep the solution simple and print the validation metric."
               for i in range(max(0, target_lines - len(lines) - len(tail)))]
    lines[last_prompt + 1:last_prompt + 1] = padding
    return "\n".join([*lines, *tail]) + "\n"


TEMPLATES = {
    "draft.j2": "Solve {{ task.name }}.\n{{ task.description }}\n{% include '_rules.j2' %}\n",
    "improve.j2": "Improve this:\n{{ parent.code }}\n{% include '_rules.j2' %}\n",
    "debug.j2": "Fix this:\n{{ parent.output | head_tail(2000) }}\n",
    "analyze.j2": "Review:\n{{ node.output | head_tail(4000) }}\n",
    "_rules.j2": "Metric: {{ task.metric.name }} ({{ task.metric.direction }})\n",
}


def make_project(root: Path) -> Path:
    (root / "prompts").mkdir(parents=True)
    (root / "specs").mkdir()
    (root / "pyproject.toml").write_text("")  # the project root prompt paths must stay inside
    for name, text in TEMPLATES.items():
        (root / "prompts" / name).write_text(text)
    spec = root / "specs" / "big.yaml"
    spec.write_text(generate_spec())
    return spec


def edits(text: str) -> list[tuple[int, str]]:
    """Offsets and replacement characters of one-character edits, each of which keeps the spec
    valid: prose inside an inline prompt, a number, an expression."""
    found = []
    prose = text.index("Now write the answer") + len("Now write the ")
    found.append((prose, "b"))  # "answer" -> "bnswer"
    number = text.index("num_drafts: 5") + len("num_drafts: ")
    found.append((number, "6"))
    expression = text.index("exit_code != 0") + len("exit_code != ")
    found.append((expression, "1"))
    limit = text.index("limit: 5") + len("limit: ")
    found.append((limit, "7"))
    return found


def clear_caches() -> None:
    """Drop every content cache the checks keep, so the next check starts cold."""
    from aira_dsl.compiler import checks
    from aira_dsl.spec import schema_check, yamlpos
    from aira_dsl.templates import checker, environment, sources

    yamlpos._FILE_CACHE.clear()
    checker._PARSED.clear()
    environment._TREES.clear()  # parsed trees in memory (a fresh process reads them from the user's cache)
    checks._TEMPLATE_CHECKS.clear()
    checks._prompt_roots.cache_clear()
    sources._REFERENCES.clear()
    schema_check._VALIDATORS.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=100, help="one-character edits to time")
    parser.add_argument("--repeat", type=int, default=20, help="cold validates to time, between the edits")
    args = parser.parse_args()

    from aira_dsl.lsp.analysis import Analyzer
    from aira_dsl.validation import validate_paths

    with tempfile.TemporaryDirectory() as folder:
        spec = make_project(Path(folder) / "project")
        text = spec.read_text()
        print(f"spec: {len(text.splitlines())} lines, {len(text)} characters")

        reports, _ = validate_paths([spec])  # imports, and proof that the spec is what we think
        diagnostics = [d for r in reports for d in r.diagnostics]
        found = Counter(d.code for d in diagnostics)
        print(f"validate finds {len(diagnostics)} diagnostics ({sum(d.is_error for d in diagnostics)} errors): "
              + ", ".join(f"{count} {code}" for code, count in found.most_common()))

        warm = []
        for index in range(7):
            offset, char = edits(text)[index % 4]
            spec.write_text(text[:offset] + char + text[offset + 1:])
            started = time.perf_counter()
            validate_paths([spec])
            warm.append(time.perf_counter() - started)
        spec.write_text(text)

        analyzer = Analyzer([folder])
        key = analyzer.open(str(spec), text)
        started = time.perf_counter()
        analyzer.recheck(key)
        first = time.perf_counter() - started
        times: list[float] = []
        cold: list[float] = []
        current = text
        plan = edits(text)
        every = max(1, args.edits // args.repeat)

        def edit(index: int) -> float:
            nonlocal current
            offset, char = plan[index % len(plan)]
            original = text[offset]
            current = current[:offset] + (char if current[offset] == original else original) + current[offset + 1:]
            started = time.perf_counter()
            analyzer.update(key, current)
            outcome = analyzer.recheck(key)
            assert [r.key for r in outcome.checked] == [key]
            return time.perf_counter() - started

        # Cold validates interleaved with the edits, so both see the same machine load; after
        # each, one untimed edit lets the server's state be warm again, as it is while typing.
        for index in range(args.edits):
            if index % every == 0:
                clear_caches()
                started = time.perf_counter()
                validate_paths([spec])
                cold.append(time.perf_counter() - started)
                edit(index)
            times.append(edit(index))
        times.sort()

    median = statistics.median(times)
    cold_median = statistics.median(cold)
    print(f"cold validate (caches cleared):     median {cold_median * 1000:7.1f} ms over {len(cold)}")
    print(f"warm validate (one edit on disk):   median {statistics.median(warm) * 1000:7.1f} ms over {len(warm)}")
    print(f"lsp first check of the open spec:          {first * 1000:7.1f} ms")
    print(f"lsp re-check after a 1-character edit: median {median * 1000:7.1f} ms, "
          f"p90 {times[int(len(times) * 0.9) - 1] * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms over {len(times)} edits")
    print(f"ratio re-check / cold validate: {median / cold_median:.2f}x   (goal: re-check <= 100 ms: "
          f"{'met' if median <= 0.1 else 'NOT met'})")


if __name__ == "__main__":
    main()
