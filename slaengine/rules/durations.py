"""Prometheus duration strings (``5m``, ``1d``, ``4w``) to and from ``timedelta``.

Rule names embed windows (``slo:sli_error:ratio_rate4w``), so the formatting
must be the one Prometheus itself prints: years and weeks only when exact.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS_MS = {
    "y": 365 * 24 * 3600 * 1000,
    "w": 7 * 24 * 3600 * 1000,
    "d": 24 * 3600 * 1000,
    "h": 3600 * 1000,
    "m": 60 * 1000,
    "s": 1000,
    "ms": 1,
}
_DURATION_RE = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)


def parse_duration(text: str) -> timedelta:
    """Parse a Prometheus duration; raises ValueError with a readable message."""
    match = _DURATION_RE.match(text.strip()) if isinstance(text, str) else None
    if not text or match is None or not any(match.groups()):
        raise ValueError(f"invalid duration {text!r}: use Prometheus units like 30s, 5m, 1h, 28d, 4w")
    total_ms = sum(
        int(value) * _UNITS_MS[unit]
        for value, unit in zip(match.groups(), _UNITS_MS, strict=True)
        if value is not None
    )
    if total_ms == 0:
        raise ValueError(f"invalid duration {text!r}: must be greater than zero")
    return timedelta(milliseconds=total_ms)


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
