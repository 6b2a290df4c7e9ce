"""Durations as task.yaml writes them: seconds as a number, or ``90s``, ``30m``, ``4h``, ``1d``."""

from __future__ import annotations

import re

__all__ = ["parse_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd])")


def parse_duration(value: object) -> float | None:
    """Seconds for a number or a duration string; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value > 0 else None
    if isinstance(value, str):
        match = _RE.fullmatch(value.strip())
        if match:
            return float(match.group(1)) * _UNITS[match.group(2)]
    return None
