"""The headline forms and the conservative rounding rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import get_args

import pytest

from slaengine.durations import format_duration_words
from slaengine.report.formatting import (
    HEADLINE_VALUES,
    SLI_KIND_LABELS,
    format_budget,
    format_budget_left,
    format_budget_use,
    format_change,
    format_count,
    format_days,
    format_headline,
    format_model_name,
    format_ms,
    format_number,
    format_percent,
    format_quantity,
    format_target,
    format_target_percent,
    headline_label,
    slo_label,
)
from slaengine.report.model import SliKind, SloMonth

BASE = SloMonth(
    name="web-uptime",
    display_name="Uptime",
    sli="uptime",
    service="shop",
    target=99.9,
    attained=99.95,
    status="met",
    budget_consumed=0.5,
    budget_remaining=0.5,
)


def slo(**changes: object) -> SloMonth:
    return replace(BASE, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        pytest.param(99.95, 2, "99.95%", id="an exact value keeps its digits"),
        pytest.param(9995 / 10000 * 100, 2, "99.95%", id="float noise does not round 99.95 down"),
        pytest.param(
            99.9499, 2, "99.94%", id="percentages are rounded down, never up to the target"
        ),
        pytest.param(99.99999, 2, "99.99%", id="an imperfect month never shows 100.00%"),
        pytest.param(100.0, 2, "100.00%", id="a perfect month shows 100.00%"),
        pytest.param(96.0484, 1, "96.0%", id="fulfillment keeps one decimal"),
        pytest.param(None, 2, "no data", id="no value reads no data"),
    ],
)
def test_percentages_are_rounded_down(value: float | None, decimals: int, expected: str) -> None:
    assert format_percent(value, decimals) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(419.6, "420 ms", id="latency is rounded up to whole ms"),
        pytest.param(420.0, "420 ms", id="a whole value stays"),
        pytest.param(420.0000000001, "420 ms", id="float noise does not add a millisecond"),
        pytest.param(420.01, "421 ms", id="any real excess shows"),
    ],
)
def test_latencies_are_rounded_up(value: float, expected: str) -> None:
    assert format_ms(value) == expected


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, "Uptime: 99.95%", id="uptime uses the display name and 2 decimals"),
        pytest.param(
            {"sli": "availability", "display_name": "Checkout", "attained": 99.5},
            "Checkout: 99.50%",
            id="availability is written like uptime",
        ),
        pytest.param(
            {"sli": "fulfillment", "display_name": "Fulfillment", "attained": 96.04},
            "Fulfillment: 96.0%",
            id="fulfillment has 1 decimal",
        ),
        pytest.param(
            {"sli": "latency", "display_name": "API", "p95_ms": 419.6},
            "API p95: 420 ms",
            id="latency shows the SLO's percentile in ms",
        ),
        pytest.param(
            {"sli": "latency", "display_name": "API", "latency_percentile": 99, "p99_ms": 871.2},
            "API p99: 872 ms",
            id="the percentile comes from the SLO",
        ),
        pytest.param(
            {"display_name": "", "name": "web_uptime", "service": "orders-api", "attained": 99.62},
            "Uptime (orders-api): 99.62%",
            id="without a display name: the SLI kind and the service as written",
        ),
        pytest.param(
            {"display_name": "", "sli": "latency", "service": "orders-API_v2", "p95_ms": 253.2},
            "Latency p95 (orders-API_v2): 254 ms",
            id="a service name is never re-cased or de-hyphenated",
        ),
        pytest.param(
            {"display_name": "", "sli": "availability", "service": "", "name": "api_avail"},
            "Availability (api_avail): 99.95%",
            id="without a service, the SLO name as written",
        ),
        pytest.param(
            {"display_name": "checkout API", "sli": "availability"},
            "checkout API: 99.95%",
            id="a display name keeps its case",
        ),
        pytest.param(
            {"status": "no-data", "attained": None},
            "Uptime: no data",
            id="a month without data says no data",
        ),
    ],
)
def test_headlines(changes: dict[str, object], expected: str) -> None:
    assert format_headline(slo(**changes)) == expected


def test_label_derivation_is_shared_by_headline() -> None:
    latency = slo(sli="latency", display_name="API", p95_ms=100.0)
    assert format_headline(latency).startswith(headline_label(latency) + ": ")


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        pytest.param(99.95, 99.97, "-0.02 pp", id="a drop is negative"),
        pytest.param(99.97, 99.95, "+0.02 pp", id="a rise is positive"),
        pytest.param(99.95, 99.95, "0.00 pp", id="no change has no sign"),
        pytest.param(99.95, None, "n/a", id="no previous month"),
    ],
)
def test_change_vs_previous_month(current: float, previous: float | None, expected: str) -> None:
    assert format_change(current, previous) == expected


def test_other_formats() -> None:
    assert format_budget(0.4928) == "49.3%"
    assert format_budget(None) == "no data"
    assert (
        format_target(slo(sli="latency", target=99.0, latency_threshold_ms=500)) == "99% < 500 ms"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(timedelta(hours=3, minutes=12), "3 h 12 min", id="hours and minutes"),
        pytest.param(timedelta(hours=2, minutes=5), "2 h 5 min", id="no zero padding"),
        pytest.param(timedelta(minutes=14, seconds=30), "14 min 30 s", id="minutes and seconds"),
        pytest.param(timedelta(seconds=45), "45 s", id="seconds alone"),
        pytest.param(timedelta(days=1, hours=3), "1 d 3 h", id="days and hours"),
        pytest.param(timedelta(hours=3), "3 h", id="a zero second unit is left out"),
        pytest.param(timedelta(hours=3, seconds=59), "3 h", id="two units at most"),
        pytest.param(timedelta(0), "0 s", id="zero"),
        pytest.param(None, "-", id="unknown"),
    ],
)
def test_durations_in_words(value: timedelta | None, expected: str) -> None:
    assert format_duration_words(value) == expected


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [
        pytest.param(0.069, "6.9%", id="budget left is a percent"),
        pytest.param(0.0, "0.0%", id="exactly spent"),
        pytest.param(-0.45, "overspent by 45.0%", id="less than one budget over"),
        pytest.param(-1.99, "overspent by 2×", id="the issue's -199.0% reads overspent by 2x"),
        pytest.param(-1.0, "overspent by 1×", id="exactly one budget over"),
        pytest.param(-1.41, "overspent by 1.5×", id="a multiple is rounded up, never down"),
        pytest.param(-9.0000000001, "overspent by 9×", id="float noise adds nothing"),
        pytest.param(None, "no data", id="no data"),
    ],
)
def test_budget_left_says_overspent_in_words(remaining: float | None, expected: str) -> None:
    assert format_budget_left(remaining) == expected


def test_budget_use_is_one_phrase() -> None:
    assert format_budget_use(0.931, 0.069) == "93.1% used, 6.9% left"
    assert format_budget_use(2.99, -1.99) == "299.0% used, overspent by 2×"
    assert format_budget_use(None, None) == "no data"


@pytest.mark.parametrize(
    ("value", "unit", "signed", "expected"),
    [
        pytest.param(1e7, "events", False, "10,000,000 events", id="no scientific notation"),
        pytest.param(456169.40, "events", True, "+456,169 events", id="counts are whole"),
        pytest.param(12.5, "events", False, "12 events", id="a count rounds half to even"),
        pytest.param(812.34, "GiB", False, "812 GiB", id="large amounts lose their fraction"),
        pytest.param(62.84, "GiB", True, "+62.8 GiB", id="tens keep one decimal"),
        pytest.param(3.254, "GiB", True, "+3.25 GiB", id="small amounts keep two"),
        pytest.param(-3.254, "GiB", True, "-3.25 GiB", id="a fall keeps its sign"),
        pytest.param(-0.001, "GiB", True, "0.00 GiB", id="no sign on zero, no -0"),
        pytest.param(2.5e12, "bytes", False, "2,500,000,000,000 bytes", id="bytes are counted"),
        pytest.param(100.0, "percent", False, "100%", id="a percent unit is written %"),
        pytest.param(-6.42, "percent", True, "-6.42%", id="a percent change keeps its sign"),
    ],
)
def test_quantities_have_units_and_no_scientific_notation(
    value: float, unit: str, signed: bool, expected: str
) -> None:
    assert format_quantity(value, unit, signed=signed) == expected


def test_counts_days_and_plain_numbers() -> None:
    assert format_count(12400.0) == "12,400"
    assert format_count(1e7) == "10,000,000"
    assert format_number(1234.5678, 1) == "1,234.6"
    assert format_number(-0.2) == "0"
    assert format_days(41.9) == "41 days"  # rounded down: a warning never comes late
    assert format_days(1.2) == "1 day"
    assert format_days(1234.0) == "1,234 days"
    assert format_days(None) == "not within the forecast"
    assert format_days(0.0) == "already reached"
    assert [format_target_percent(v) for v in (99.9, 95.0, 100.0, 97.5, 1e3)] == [
        "99.9%",
        "95%",
        "100%",
        "97.5%",
        "1000%",
    ]
    assert format_model_name("seasonal_damped_holt") == "seasonal damped holt"


def test_slo_label_is_the_headline_label_without_the_percentile() -> None:
    latency = slo(sli="latency", display_name="", service="orders-api", p95_ms=1.0)
    assert slo_label(latency) == "Latency (orders-api)"
    assert headline_label(latency) == "Latency p95 (orders-api)"
    assert slo_label(slo()) == "Uptime"


def test_every_sli_kind_has_a_headline_value_and_a_default_label() -> None:
    assert set(HEADLINE_VALUES) == set(SLI_KIND_LABELS) == set(get_args(SliKind))
