"""aira-dsl: AI research agents written as YAML specs, compiled to plans, run as graph searches.

The public Python API, for notebooks and other tools (names are imported on first use, so
``import aira_dsl`` stays cheap)::

    import aira_dsl
    ctx = aira_dsl.check_spec("specs/aira-greedy.yaml")        # diagnostics, typed spec
    plan = aira_dsl.compile_spec("specs/aira-greedy.yaml").plan
    plan = aira_dsl.load_plan("plan.json")                     # checks version and hash
    summary = aira_dsl.run_plan(plan, task="penguins", out="runs/x", base_url="http://...")
    journal = aira_dsl.open_journal("runs/x")                   # the run's SQLite journal
    run = aira_dsl.load_run("runs/x")                           # nodes, scores, usage

Modules whose names start with an underscore are private.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

try:  # written by setuptools-scm when the package is built or installed (docs/releasing.md)
    from aira_dsl._version import __version__
except ImportError:  # a source tree used without installing it
    __version__ = "0.0.0+unknown"

_API = {
    "check_spec": "aira_dsl.compiler",
    "compile_spec": "aira_dsl.compiler",
    "load_plan_or_spec": "aira_dsl.compiler",
    "Plan": "aira_dsl.plan",
    "load_plan": "aira_dsl.plan",
    "Diagnostic": "aira_dsl.diagnostics",
    "run_plan": "aira_dsl.runtime",
    "open_journal": "aira_dsl.runtime.journal",
    "load_run": "aira_dsl.report",
    "resolve_task": "aira_dsl.tasks",
    "grade_submission": "aira_dsl.tasks",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'aira_dsl' has no attribute {name!r}")
