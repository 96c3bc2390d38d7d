"""The headline forms and the conservative rounding rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from slaengine.report.formatting import (
    format_budget,
    format_change,
    format_duration,
    format_headline,
    format_ms,
    format_percent,
    format_target,
    headline_label,
)
from slaengine.report.model import SloMonth

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
            {"display_name": "", "name": "web_uptime"},
            "Web Uptime: 99.95%",
            id="without a display name the SLO name is humanised",
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
    assert format_duration(timedelta(hours=2, minutes=5)) == "2h 05m"
    assert format_duration(timedelta(minutes=14, seconds=30)) == "14m 30s"
    assert format_duration(timedelta(days=1, hours=3)) == "1d 03h"
    assert format_duration(None) == "-"
