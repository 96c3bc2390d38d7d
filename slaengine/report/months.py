"""Parse and check the ``YYYY-MM`` month of a report request (CLI, HTTP, scheduler).

The calendar itself (months, zones) is slaengine.calendar's; this adds the report's rules.
"""

from __future__ import annotations

from datetime import date, datetime

from slaengine import calendar
from slaengine.report.errors import ReportRequestError


def parse_month(text: str) -> date:
    """``"2026-10"`` -> ``date(2026, 10, 1)``; anything else raises ReportRequestError."""
    try:
        month = calendar.parse_month(text)
    except ValueError as err:
        raise ReportRequestError(str(err)) from None
    if month.year < 2000:  # events before 2000 are invalid (docs/events.md): nothing to report
        raise ReportRequestError(
            f"month {text!r} is before 2000, the earliest time slaengine accepts"
        )
    return month


def ensure_not_future(month: date, now: datetime, timezone: str) -> date:
    """Reject months not started yet in ``timezone``; the current month gives a partial report."""
    today = calendar.current_month(now, calendar.zone_of(timezone))
    if month > today:
        raise ReportRequestError(
            f"month {month:%Y-%m} has not started yet "
            f"(current month in {timezone} is {today:%Y-%m})"
        )
    return month


def parse_report_month(text: str, now: datetime, timezone: str) -> date:
    return ensure_not_future(parse_month(text), now, timezone)
