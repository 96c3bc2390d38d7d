"""Durations as written in config and Prometheus (``30s``, ``5m``, ``1h30m``, ``30d``, ``1w``)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def parse_duration(text: str) -> timedelta:
    """Parse a Prometheus-style duration; raises ValueError with the offending text."""
    text = str(text).strip()
    if not text or _PART.sub("", text):
        raise ValueError(f"invalid duration {text!r} (use e.g. 30s, 5m, 1h, 30d, 1w)")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be positive")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest Prometheus-style spelling: 30d, 6h, 5m, 1h30m."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out += f"{count}{unit}"
    return out
