"""Parsed expression trees kept between processes (aira_dsl/expr/parser.py).

A fresh process that meets only text parsed before never imports lark (about 40 ms of a cold
`aira-dsl validate`), and gets the very trees the parser builds; a damaged cache file or one
written by another version is ignored; text that does not parse is not cached.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TEXTS = ["exec.exit_code != 0 or exec.timed_out or metric == null", "clip(metric, 0, 1) if node.depth > 2 else 1h30m",
         "'a\\\\n' == vars.style"]

PROBE = """
import json, sys
from aira_dsl.expr import parse
from aira_dsl.expr.ast import Expr
out = {"trees": [repr(parse(t)) for t in json.loads(sys.argv[1])], "lark": "lark" in sys.modules}
try:
    parse("metric ==")
except Exception as exc:
    out["error"] = type(exc).__name__
print(json.dumps(out))
"""


def probe(cache: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "AIRA_DSL_NO_DERIVED_CACHE"}
    env["XDG_CACHE_HOME"] = str(cache)
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(TEXTS)], env=env, capture_output=True,
                          text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_second_process_reuses_the_trees_without_lark(tmp_path: Path) -> None:
    first = probe(tmp_path)
    assert first["lark"] is True and first["error"] == "ExprSyntaxError"
    (cache_file,) = (tmp_path / "aira-dsl").glob("expr-trees-*.json")
    assert oct(cache_file.stat().st_mode & 0o777) == "0o600"
    stored = json.loads(cache_file.read_text())["trees"]
    assert sorted(stored) == sorted(TEXTS)  # "metric ==" does not parse: not kept

    second = probe(tmp_path)
    assert second["trees"] == first["trees"]  # the same trees, spans included
    assert second["lark"] is False  # the syntax error above was parsed lazily, after the trees


def test_damaged_cache_is_ignored(tmp_path: Path) -> None:
    first = probe(tmp_path)
    (cache_file,) = (tmp_path / "aira-dsl").glob("expr-trees-*.json")
    data = json.loads(cache_file.read_text())
    data["trees"][TEXTS[0]] = {"kind": "nonsense"}
    cache_file.write_text(json.dumps(data))
    assert probe(tmp_path)["trees"] == first["trees"]
    cache_file.write_text("{not json")
    assert probe(tmp_path)["trees"] == first["trees"]


def test_cache_file_is_per_version_of_the_grammar_and_tree_code(tmp_path: Path) -> None:
    """The file name carries a checksum of the grammar and the modules that build trees."""
    from aira_dsl.expr import parser

    probe(tmp_path)
    (cache_file,) = (tmp_path / "aira-dsl").glob("expr-trees-*.json")
    assert cache_file.name == f"expr-trees-{parser._stamp():08x}.json"
    assert "expr/grammar.lark" in parser._TREE_SOURCES and "expr/lalr.py" in parser._TREE_SOURCES
