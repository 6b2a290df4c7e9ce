"""``python -m aira_dsl.schemagen``: regenerate the shipped schemas (see :mod:`.generate`)."""

from __future__ import annotations

import sys

from aira_dsl.schemagen.generate import main

sys.exit(main())
