"""The one calendar helper: local month and day bounds across DST, and ``YYYY-MM`` months."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from slaengine.calendar import (
    day_range,
    month_range,
    next_month,
    parse_month,
    previous_month,
    zone_of,
)
from slaengine.synthetic import plan_for_month

HOUR_MS = 3_600_000


def test_a_month_with_a_dst_change_is_an_hour_longer_on_the_local_clock() -> None:
    berlin = zone_of("Europe/Berlin")
    start, end = month_range(2026, 10, berlin)
    assert start == int(datetime(2026, 9, 30, 22, tzinfo=UTC).timestamp() * 1000)
    assert end - start == (31 * 24 + 1) * HOUR_MS
    assert (
        day_range(date(2026, 10, 25), berlin)[1] - day_range(date(2026, 10, 25), berlin)[0]
        == 25 * HOUR_MS
    )


def test_months_roll_over_the_year() -> None:
    assert next_month(date(2026, 12, 1)) == date(2027, 1, 1)
    assert previous_month(date(2027, 1, 1)) == date(2026, 12, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-13", "is not a calendar month"),
        ("Oct 2026", "month must look like YYYY-MM"),
    ],
)
def test_a_bad_month_says_what_is_wrong_in_every_caller(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_month(text)
    with pytest.raises(ValueError, match=message):
        plan_for_month(text, seed=1)


def test_an_unknown_zone_is_named() -> None:
    with pytest.raises(ValueError, match="unknown timezone 'Mars/Olympus'"):
        zone_of("Mars/Olympus")


def test_a_generated_month_spans_it_in_utc() -> None:
    plan = plan_for_month("2026-12", seed=1)
    assert (plan.start, plan.end) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
