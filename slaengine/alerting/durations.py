"""Durations in routing config (``30s``, ``5m``, ``4h``) as a pydantic field type.

Parsing is slaengine.durations'; routing additionally allows ``0s`` (e.g. ``group_wait: 0s``
notifies a new group at once, as in Alertmanager).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from slaengine.durations import format_duration, parse_duration


def _coerce(value: Any) -> Any:
    if isinstance(value, str):
        return timedelta(0) if value.strip() in ("0", "0s") else parse_duration(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_coerce), PlainSerializer(format_duration)]
