"""Makes ``search_support`` (graph builders and the fake environment) importable by name."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
