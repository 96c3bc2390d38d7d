from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from slaengine.report.errors import ReportRequestError
from slaengine.report.months import parse_month, parse_report_month

NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("2026-13", "MM must be 01..12", id="month 13 is not a month"),
        pytest.param("2026-00", "MM must be 01..12", id="month 00 is not a month"),
        pytest.param("abc", "YYYY-MM", id="words are not a month"),
        pytest.param("2026-1", "YYYY-MM", id="the month needs two digits"),
        pytest.param("", "YYYY-MM", id="empty is not a month"),
        pytest.param("1999-12", "before 2000", id="before the earliest valid event time"),
    ],
)
def test_malformed_months_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ReportRequestError, match=message):
        parse_month(text)


def test_future_months_are_rejected_and_past_and_current_accepted() -> None:
    assert parse_report_month("2026-10", NOW, "Europe/Berlin") == date(2026, 10, 1)
    assert parse_report_month("2026-11", NOW, "Europe/Berlin") == date(2026, 11, 1)
    with pytest.raises(ReportRequestError, match="has not started yet"):
        parse_report_month("2026-12", NOW, "Europe/Berlin")


def test_the_current_month_depends_on_the_timezone() -> None:
    new_year_utc = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert parse_report_month("2027-01", new_year_utc, "Europe/Berlin") == date(2027, 1, 1)
    with pytest.raises(ReportRequestError):
        parse_report_month("2027-01", new_year_utc, "America/New_York")
