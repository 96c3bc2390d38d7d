"""Calendar helpers in one place: ``YYYY-MM`` months, time zones, and local month and day
bounds (DST and :30/:45 offsets included). Pure: no I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTE_MS = 60_000
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def zone_of(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r} (use an IANA name like UTC or Europe/Berlin)"
        ) from None


def parse_month(text: str) -> date:
    """``"2026-10"`` -> ``date(2026, 10, 1)``; ValueError saying what is wrong otherwise."""
    match = _MONTH.fullmatch(text.strip())
    if not match:
        raise ValueError(f"month must look like YYYY-MM (e.g. 2026-10), got {text!r}")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"month {text!r} is not a calendar month: MM must be 01..12")
    return date(year, month, 1)


def current_month(now: datetime, zone: ZoneInfo) -> date:
    """The month ``now`` falls in, on the zone's wall clock."""
    local = now.astimezone(zone)
    return date(local.year, local.month, 1)


def previous_month(month: date) -> date:
    return date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)


def next_month(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def month_range(year: int, month: int, zone: ZoneInfo) -> tuple[int, int]:
    """The month's bounds in epoch ms, in the zone's local time."""
    start = datetime(year, month, 1, tzinfo=zone)
    if (year, month) == (9999, 12):  # the last month datetime can name
        return _ms(start), _ms(datetime(9999, 12, 31, 23, 59, tzinfo=UTC)) + MINUTE_MS
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return _ms(start), _ms(end)


def day_range(day: date, zone: ZoneInfo) -> tuple[int, int]:
    """The day's bounds in epoch ms: a wall-clock day, so DST days are 23 or 25 h."""
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return _ms(start), _ms(start + timedelta(days=1))


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
