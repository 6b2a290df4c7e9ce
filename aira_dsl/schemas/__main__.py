"""``python -m aira_dsl.schemas``: regenerate the shipped schemas (see :mod:`.generate`)."""

from __future__ import annotations

import sys

from aira_dsl.schemas.generate import main

sys.exit(main())
