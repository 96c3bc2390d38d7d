"""Parse and check the ``YYYY-MM`` month of a report request (CLI, HTTP, scheduler)."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slaengine.report.errors import ReportRequestError

_MONTH = re.compile(r"(\d{4})-(\d{2})")


def parse_month(text: str) -> date:
    """``"2026-10"`` -> ``date(2026, 10, 1)``; anything else raises ReportRequestError."""
    match = _MONTH.fullmatch(text.strip())
    if not match:
        raise ReportRequestError(f"month must look like YYYY-MM (e.g. 2026-10), got {text!r}")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise ReportRequestError(f"month {text!r} is not a calendar month: MM must be 01..12")
    if year < 2000:  # events before 2000 are invalid (docs/events.md): nothing to report
        raise ReportRequestError(f"month {text!r} is before 2000, the earliest time slaengine accepts")
    return date(year, month, 1)


def current_month(now: datetime, timezone: str) -> date:
    """The month ``now`` falls in, on the report's wall clock."""
    local = now.astimezone(zone_of(timezone))
    return date(local.year, local.month, 1)


def previous_month(month: date) -> date:
    return date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)


def ensure_not_future(month: date, now: datetime, timezone: str) -> date:
    """Reject months not started yet in ``timezone``; the current month gives a partial report."""
    today = current_month(now, timezone)
    if month > today:
        raise ReportRequestError(
            f"month {month:%Y-%m} has not started yet "
            f"(current month in {timezone} is {today:%Y-%m})"
        )
    return month


def parse_report_month(text: str, now: datetime, timezone: str) -> date:
    return ensure_not_future(parse_month(text), now, timezone)


def zone_of(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ReportRequestError(
            f"unknown timezone {timezone!r} (use an IANA name such as Europe/Berlin)"
        ) from err
