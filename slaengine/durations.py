"""Durations, in one place: parsing (``30s``, ``5m``, ``1h30m``, ``30d``, ``1w``), the config
field types, Prometheus' spelling (which rule names embed, ``ratio_rate4w``) and words for people
(``3 h 12 min``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNITS_MS = {
    "y": 365 * 24 * 3600 * 1000,
    "w": 7 * 24 * 3600 * 1000,
    "d": 24 * 3600 * 1000,
    "h": 3600 * 1000,
    "m": 60 * 1000,
    "s": 1000,
    "ms": 1,
}


@lru_cache(maxsize=1024)  # the same few windows, parsed at every evaluation
def parse_duration(text: str) -> timedelta:
    """Parse a Prometheus-style duration; raises ValueError with the offending text."""
    text = str(text).strip()
    if not text or _PART.sub("", text):
        raise ValueError(f"invalid duration {text!r} (use e.g. 30s, 5m, 1h, 30d, 1w)")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be positive")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Format like Prometheus' ``model.Duration.String()``: ``30d``, ``4w``, ``1h30m``."""
    remaining = round(value.total_seconds() * 1000)
    if remaining <= 0:
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


def format_duration_words(value: timedelta | None) -> str:
    """In words, two units at most: ``3 h 12 min``, ``14 min 30 s``, ``45 s``, ``2 d 5 h``.

    ``-`` when unknown. The smaller unit is dropped when it is zero (``3 h``).
    """
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (seconds, "s")]
    first = next((i for i, (amount, _) in enumerate(parts) if amount), len(parts) - 1)
    shown = [f"{amount} {unit}" for amount, unit in parts[first : first + 2] if amount]
    return " ".join(shown) or "0 s"


def hours_of(value: timedelta) -> float:
    return value.total_seconds() / 3600


@dataclass(frozen=True)
class Duration:
    """A positive duration as written in config (``10m``), parsed once when the config loads."""

    text: str
    delta: timedelta

    @classmethod
    def parse(cls, text: str) -> Duration:
        return cls(str(text).strip(), parse_duration(text))

    @property
    def ms(self) -> int:
        return int(self.delta.total_seconds() * 1000)

    def __str__(self) -> str:
        return self.text


def _to_duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    if not isinstance(value, str):
        # pydantic reports a ValueError as the field's message (a TypeError would escape)
        raise ValueError(f"invalid duration {value!r} (use e.g. 30s, 5m, 1h, 30d, 1w)")  # noqa: TRY004
    return Duration.parse(value)


# A config field written as ``10m``: holds the text (for messages) and its value.
DurationField = Annotated[Duration, BeforeValidator(_to_duration), PlainSerializer(str)]


def _to_timedelta(value: Any) -> Any:
    if isinstance(value, str):
        # routing allows 0s (``group_wait: 0s`` notifies a new group at once, as in Alertmanager)
        return timedelta(0) if value.strip() in ("0", "0s") else parse_duration(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    return value


# A timedelta setting written as ``30s`` (or seconds as a number); ``0s`` allowed.
TimedeltaField = Annotated[
    timedelta, BeforeValidator(_to_timedelta), PlainSerializer(format_duration)
]
