"""Prometheus' own spelling of durations, which rule names embed (``ratio_rate4w``).

Parsing lives in ``slaengine.durations``; this module only adds the exact
``model.Duration.String()`` form (years and weeks when exact, so 28d is ``4w``
but 30d stays ``30d``), which Sloth-compatible record names depend on.
"""

from __future__ import annotations

from datetime import timedelta

from slaengine.durations import parse_duration

__all__ = ["format_duration", "hours_of", "parse_duration"]

_UNITS_MS = {
    "y": 365 * 24 * 3600 * 1000,
    "w": 7 * 24 * 3600 * 1000,
    "d": 24 * 3600 * 1000,
    "h": 3600 * 1000,
    "m": 60 * 1000,
    "s": 1000,
    "ms": 1,
}


def format_duration(value: timedelta) -> str:
    """Format like Prometheus' ``model.Duration.String()``: ``30d``, ``4w``, ``1h30m``."""
    remaining = round(value.total_seconds() * 1000)
    if remaining == 0:
        return "0s"
    out = ""
    for unit, size in _UNITS_MS.items():
        # 90d reads better than 12w6d, so years and weeks are only used when exact
        if unit in ("y", "w") and remaining % size:
            continue
        count, remaining = divmod(remaining, size)
        if count:
            out += f"{count}{unit}"
    return out


def hours_of(value: timedelta) -> float:
    return value.total_seconds() / 3600
