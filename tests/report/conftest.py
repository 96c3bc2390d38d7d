"""A realistic October 2026 report whose numbers are computed here from synthetic inputs.

The inputs are chosen so the headlines are known by arithmetic:
- uptime: 22 bad minutes of 44,700 (25 Oct has 25 h) -> 99.9508% -> "Uptime: 99.95%"
- API latency: lognormal requests scaled so the month's p95 is 419.6 ms -> "API p95: 420 ms"
- fulfillment: 490 late orders of 12,400 -> 96.048% -> "Fulfillment: 96.0%"
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from slaengine.report.model import (
    CapacitySection,
    DayPoint,
    DayRatio,
    ForecastRow,
    IncidentRow,
    LagSummary,
    MonthPoint,
    MonthReport,
    ProjectionLag,
    SloMonth,
    WorstWindow,
)
from slaengine.synthetic import TrafficPlan, generate_events

MONTH = date(2026, 10, 1)
DAYS = 31
TZ = "Europe/Berlin"
ZONE = ZoneInfo(TZ)
GENERATED_AT = datetime(2026, 11, 1, 6, 0, tzinfo=ZONE)
DOWNTIME = {7: (14 * 60 + 3, 12), 19: (2 * 60 + 40, 10)}  # day -> (start minute, minutes down)
LATE_ORDERS = 490
ORDERS_PER_DAY = 400
API_P95_MS = 419.6


def status_of(attained: float | None, target: float, consumed: float | None) -> str:
    if attained is None:
        return "no-data"
    if attained < target:
        return "breached"
    return "at-risk" if consumed is not None and consumed > 0.75 else "met"


def slo_from_days(
    name: str,
    display: str,
    sli: str,
    target: float,
    days: list[DayPoint],
    previous: float | None,
    **extra: object,
) -> SloMonth:
    good = sum(p.good for p in days)
    total = sum(p.total for p in days)
    attained = 100.0 * good / total if total else None
    consumed = (total - good) / ((1 - target / 100) * total) if total else None
    return SloMonth(
        name=name,
        display_name=display,
        sli=sli,
        service="shop",
        target=target,
        attained=attained,
        status=status_of(attained, target, consumed),
        budget_consumed=consumed,
        budget_remaining=None if consumed is None else 1 - consumed,
        previous_attained=previous,
        daily=tuple(days),
        **extra,
    )  # type: ignore[arg-type]


def build_uptime() -> SloMonth:
    days, windows = [], []
    for day in range(1, DAYS + 1):
        start, down = DOWNTIME.get(day, (0, 0))
        total = 1500 if day == 25 else 1440  # DST ends on 25 Oct: a 25-hour day
        days.append(
            DayPoint(date(2026, 10, day), total - down, total, 100.0 * (total - down) / total)
        )
        if down:
            begin = datetime.combine(date(2026, 10, day), time(), ZONE) + timedelta(minutes=start)
            windows.append(WorstWindow(begin, begin + timedelta(hours=1), 100.0 * (60 - down) / 60))
    windows.sort(key=lambda w: w.value_percent)
    return slo_from_days(
        "uptime", "Uptime", "uptime", 99.9, days, 99.97, worst_windows=tuple(windows)
    )


def build_api_latency() -> SloMonth:
    rng = np.random.default_rng(7)
    raw = [
        rng.lognormal(mean=5.3 + 0.1 * np.sin(day / 3), sigma=0.45, size=2000)
        for day in range(DAYS)
    ]
    scale = API_P95_MS / np.percentile(np.concatenate(raw), 95)
    per_day = [sample * scale for sample in raw]
    threshold = 600.0
    days = []
    for day, sample in enumerate(per_day, start=1):
        good = int((sample < threshold).sum())
        p50, p95, p99 = np.percentile(sample, [50, 95, 99])
        days.append(
            DayPoint(
                date(2026, 10, day),
                good,
                len(sample),
                100.0 * good / len(sample),
                float(p50),
                float(p95),
                float(p99),
            )
        )
    month = np.concatenate(per_day)
    p50, p95, p99 = (float(v) for v in np.percentile(month, [50, 95, 99]))
    return slo_from_days(
        "api-latency",
        "API",
        "latency",
        98.0,
        days,
        98.9,
        latency_percentile=95,
        latency_threshold_ms=threshold,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
    )


def fulfillment_days() -> list[DayRatio]:
    rng = np.random.default_rng(11)
    late = np.bincount(rng.integers(0, DAYS, size=LATE_ORDERS), minlength=DAYS)
    return [
        DayRatio(date(2026, 10, d + 1), ORDERS_PER_DAY - int(late[d]), ORDERS_PER_DAY)
        for d in range(DAYS)
    ]


def build_fulfillment(ratios: list[DayRatio]) -> SloMonth:
    days = [DayPoint(r.day, r.good, r.total, r.percent) for r in ratios]
    return slo_from_days("order-fulfillment", "Fulfillment", "fulfillment", 95.0, days, 95.4)


def build_checkout() -> SloMonth:
    errors = [3 if d % 6 else 40 for d in range(1, DAYS + 1)]
    days = [
        DayPoint(date(2026, 10, d), 5000 - e, 5000, 100.0 * (5000 - e) / 5000)
        for d, e in zip(range(1, DAYS + 1), errors, strict=True)
    ]
    return slo_from_days("checkout-availability", "Checkout", "availability", 99.5, days, 99.61)


def build_search_without_data() -> SloMonth:
    return slo_from_days("search-availability", "Search", "availability", 99.0, [], None)


def build_capacity() -> CapacitySection:
    rng = np.random.default_rng(3)
    start = date(2026, 8, 3)
    history = [
        (start + timedelta(days=i), 310 + 2.1 * i + float(rng.normal(0, 6))) for i in range(90)
    ]
    xs = np.arange(90)
    slope, intercept = np.polyfit(xs, [v for _, v in history], 1)
    forecast = []
    for step in range(1, 61):
        yhat = intercept + slope * (89 + step)
        spread = 6 * np.sqrt(step)
        forecast.append(
            ForecastRow(
                history[-1][0] + timedelta(days=step),
                yhat,
                yhat - 1.28 * spread,
                yhat + 1.28 * spread,
                yhat - 1.96 * spread,
                yhat + 1.96 * spread,
            )
        )
    capacity = 800.0
    now_value = intercept + slope * 89
    days_to = {level: max(0.0, (capacity * level / 100 - now_value) / slope) for level in (80, 90)}
    return CapacitySection(
        "orders database disk",
        "GiB",
        capacity,
        "linear trend (OLS)",
        tuple(history),
        tuple(forecast),
        {**days_to, 100: None},
        slope * 30,
        "Add 200 GiB before day 40 of the forecast.",
    )


def build_october_report() -> MonthReport:
    ratios = fulfillment_days()
    slos = (
        build_uptime(),
        build_api_latency(),
        build_fulfillment(ratios),
        build_checkout(),
        build_search_without_data(),
    )
    incidents = tuple(
        IncidentRow(
            f"Shop down for {down} minutes",
            "critical",
            datetime.combine(date(2026, 10, day), time(), ZONE) + timedelta(minutes=start),
            datetime.combine(date(2026, 10, day), time(), ZONE) + timedelta(minutes=start + down),
            timedelta(minutes=2, seconds=10 * day),
            timedelta(minutes=down),
        )
        for day, (start, down) in DOWNTIME.items()
    )
    trend = tuple(
        MonthPoint(slo.name, date(2026, m, 1), slo.target + 0.01 * (m - 5) * (-1) ** m, slo.target)
        for slo in slos
        if slo.attained is not None
        for m in range(5, 10)
    )
    trend += tuple(MonthPoint(slo.name, MONTH, slo.attained, slo.target) for slo in slos)
    return MonthReport(
        organisation="Acme Retail",
        service_name="Shop platform",
        month=MONTH,
        timezone=TZ,
        generated_at=GENERATED_AT.astimezone(UTC),
        slos=slos,
        incidents=incidents,
        fulfillment_by_day=tuple(ratios),
        lag_summary=LagSummary(
            5.0,
            (
                ProjectionLag("orders-read-model", 0.4, 2.1, 48.0, 99.93),
                ProjectionLag("stock-levels", 0.9, 4.2, 130.0, 99.41),
            ),
        ),
        capacity=(build_capacity(),),
        trend=trend,
        definitions={
            slo.name: f"{slo.display_name}: good / total per {slo.sli} event, target {slo.target}%."
            for slo in slos
        },
    )


@pytest.fixture
def october_report() -> MonthReport:
    return build_october_report()


# 29 Sep - 31 Oct 2026 of light synthetic traffic: the file test_collect.py and
# test_report_cli.py both check the report against
SYNTHETIC_PLAN = TrafficPlan(
    start=datetime(2026, 9, 29, tzinfo=UTC),
    end=datetime(2026, 11, 1, tzinfo=UTC),
    seed=5,
    requests_per_minute=0.5,
    orders_per_hour=8.0,
)


@pytest.fixture(scope="session")
def synthetic_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic event file of SYNTHETIC_PLAN, written once per session."""
    path = tmp_path_factory.getbasetemp() / "report-collect-2026-10-seed5-r05.jsonl"
    if not path.exists():
        partial = path.with_suffix(".partial")
        with partial.open("w") as out:
            for event in generate_events(SYNTHETIC_PLAN):
                out.write(json.dumps(event, separators=(",", ":")) + "\n")
        partial.rename(path)
    return path
