"""aira-dsl: AI research agents written as YAML specs, compiled to plans, run as graph searches.

The public Python API is re-exported here; everything in modules whose names start with an
underscore is private.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
