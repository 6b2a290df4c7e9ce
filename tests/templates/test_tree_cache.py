"""Parsed template trees kept between processes (aira_dsl/templates/environment.py).

A second process checking the same templates unpickles their trees instead of parsing them
(about 18 ms of a cold `validate` of the shipped specs), and finds exactly what the first
found; a damaged file is ignored, and one written by another version is replaced.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from aira_dsl.templates.environment import PromptEnvironment
parsed = []
original = PromptEnvironment.parse
def counting(self, source, name=None, filename=None):
    parsed.append(name)
    return original(self, source, name, filename)
PromptEnvironment.parse = counting
from aira_dsl.compiler import check_spec
found = [d.to_dict() for d in check_spec("specs/aira-greedy.yaml").diagnostics.sorted()]
broken = [d.to_dict() for d in check_spec(sys.argv[1]).diagnostics.sorted()]
print(json.dumps({"parsed": len(parsed), "found": found, "broken": broken}))
"""


def probe(cache: Path, broken: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "AIRA_DSL_NO_DERIVED_CACHE"}
    env["XDG_CACHE_HOME"] = str(cache)
    done = subprocess.run([sys.executable, "-c", PROBE, str(broken)], cwd=REPO, env=env, capture_output=True,
                          text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_second_process_reads_trees_instead_of_parsing(tmp_path: Path) -> None:
    broken = tmp_path / "project" / "spec.yaml"
    broken.parent.mkdir()
    (broken.parent / ".git").mkdir()
    (broken.parent / "bad.j2").write_text("{% if task.name %}\nunclosed\n")
    broken.write_text("version: 1\nname: b\nmodels: {m: {model: x}}\noperators:\n"
                      "  draft: {kind: draft, model: m, prompt: bad.j2}\n  improve: {kind: improve, model: m, "
                      "prompt: bad.j2}\n  debug: {kind: debug, model: m, prompt: bad.j2}\npolicy: {kind: greedy}\n"
                      "fitness: {metric: reported.score, buggy: \"exec.exit_code != 0\"}\n")
    cache = tmp_path / "cache"
    first = probe(cache, broken)
    assert first["parsed"] and first["found"] == []
    assert [d["code"] for d in first["broken"]] == ["template-syntax"]  # type: ignore[index]
    (tree_file,) = (cache / "aira-dsl").glob("jinja-trees-*.pickle")
    assert oct(tree_file.stat().st_mode & 0o777) == "0o600"

    second = probe(cache, broken)
    assert second["found"] == first["found"] and second["broken"] == first["broken"]
    assert second["parsed"] == 1  # only the template with the syntax error (errors are not kept)

    tree_file.write_bytes(b"not a pickle")
    assert probe(cache, broken)["found"] == first["found"]


def test_file_of_another_version_is_replaced(tmp_path: Path) -> None:
    stale = tmp_path / "cache" / "aira-dsl" / "jinja-trees-00000000.pickle"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    probe(tmp_path / "cache", tmp_path / "missing.yaml")
    names = [p.name for p in (tmp_path / "cache" / "aira-dsl").glob("jinja-trees-*.pickle")]
    assert len(names) == 1 and names != [stale.name]
