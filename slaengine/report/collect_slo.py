"""One SLO's month for the report, read from SLI engine state (pure: no I/O).

Every number comes from ``slaengine.sli.query`` and ``slaengine.sli.results`` — the
same functions behind ``slaengine compute`` and the HTTP API — so the report can
never disagree with them. Month totals include late events (``include_late``), as
the ``month:YYYY-MM`` windows do.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from slaengine.calendar import day_range, month_range, previous_month
from slaengine.config import SloSpec
from slaengine.report.model import DayPoint, MonthPoint, SliKind, SloMonth, SloStatus, WorstWindow
from slaengine.sli import query
from slaengine.sli.buckets import HOUR_MS
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import SloWindowResult, evaluate_month
from slaengine.slo import ErrorBudget

WORST_WINDOWS = 3  # hours shown under each SLO's charts
TREND_MONTHS = 12  # the report month and up to 11 before it
PERCENTILES = (50, 95, 99)


@dataclass(frozen=True)
class MonthContext:
    """What every per-SLO query of one report shares."""

    engine: SliEngine
    month: date  # 1st of the month
    zone: ZoneInfo
    start_ms: int
    end_ms: int
    evaluated_ms: int  # the instant the month is evaluated at: its end, or now if earlier


def month_context(engine: SliEngine, month: date, now_ms: int) -> MonthContext:
    start_ms, end_ms = month_range(month.year, month.month, engine.zone)
    return MonthContext(engine, month, engine.zone, start_ms, end_ms, min(end_ms, now_ms))


def display_service(slo: SloSpec) -> str:
    if slo.service:
        return slo.service
    if slo.sli == "fulfillment":
        return "orders"
    if slo.sli == "projection_lag":
        return f"projection {slo.projection}" if slo.projection else "all projections"
    return f"topic {slo.topic}" if slo.topic else "all topics"


def collect_slo_month(ctx: MonthContext, slo: SloSpec) -> SloMonth:
    result = evaluate_month(ctx.engine, slo, ctx.month.year, ctx.month.month, ctx.evaluated_ms)
    budget = ErrorBudget(slo.objective, result.good, result.total)
    previous = previous_month(ctx.month)
    previous_result = evaluate_month(
        ctx.engine, slo, previous.year, previous.month, ctx.evaluated_ms
    )
    daily = collect_daily_points(ctx, slo)
    return SloMonth(
        name=slo.name,
        display_name=slo.display_name,  # empty: formatting humanises the SLO name
        sli=cast(SliKind, slo.sli),
        service=display_service(slo),
        target=slo.target,
        attained=result.value,
        status=cast(SloStatus, result.status),
        budget_consumed=budget.consumed if budget.has_data else None,
        budget_remaining=result.error_budget_remaining if budget.has_data else None,
        previous_attained=previous_result.value,
        daily=daily,
        worst_windows=collect_worst_windows(ctx, slo, daily),
        latency_threshold_ms=slo.threshold_ms if slo.sli == "latency" else None,
        p50_ms=result.p50_ms,
        p95_ms=result.p95_ms,
        p99_ms=result.p99_ms,
    )


def days_of(month: date) -> list[date]:
    return [
        month + timedelta(days=i) for i in range(calendar.monthrange(month.year, month.month)[1])
    ]


def collect_daily_points(ctx: MonthContext, slo: SloSpec) -> tuple[DayPoint, ...]:
    """Each local calendar day: counts (minutes for uptime) and, for latency, percentiles."""
    points = []
    for day in days_of(ctx.month):
        start_ms, end_ms = day_range(day, ctx.zone)
        good, total = query.counts(
            ctx.engine, slo, start_ms, end_ms, include_late=True, now_ms=ctx.evaluated_ms
        )
        percentiles: dict[str, float | None] = {}
        if slo.sli == "latency":
            sketch = query.merged_sketch(ctx.engine, slo, start_ms, end_ms)
            percentiles = {f"p{q}_ms": sketch.quantile(q / 100) for q in PERCENTILES}
        value = 100.0 * good / total if total else None
        points.append(DayPoint(day, good, total, value, **percentiles))
    return tuple(points)


def collect_worst_windows(
    ctx: MonthContext, slo: SloSpec, daily: tuple[DayPoint, ...]
) -> tuple[WorstWindow, ...]:
    """The clock hours (days for fulfillment) with the lowest SLI; perfect ones are skipped.

    Orders are few per hour and decided over a day, so fulfillment is ranked by day.
    """
    if slo.sli == "fulfillment":
        days = sorted(
            (p.value_percent, day_range(p.day, ctx.zone))
            for p in daily
            if p.value_percent is not None and p.good < p.total
        )
        return tuple(
            WorstWindow(_instant(start_ms), _instant(end_ms), value)
            for value, (start_ms, end_ms) in days[:WORST_WINDOWS]
        )
    hours = {
        hour
        for _, series in ctx.engine.buckets_of(slo.name)
        for hour in series
        if ctx.start_ms <= hour * HOUR_MS < ctx.end_ms
    } | ctx.engine.stored_hour_numbers(  # the global view's cold hours
        slo.name, -(-ctx.start_ms // HOUR_MS), (ctx.end_ms - 1) // HOUR_MS
    )
    scored = []
    for hour in hours:
        start_ms = hour * HOUR_MS
        good, total = query.counts(
            ctx.engine,
            slo,
            start_ms,
            start_ms + HOUR_MS,
            include_late=True,
            now_ms=ctx.evaluated_ms,
        )
        if total and good < total:
            scored.append((100.0 * good / total, start_ms))
    scored.sort()
    return tuple(
        WorstWindow(_instant(start_ms), _instant(start_ms + HOUR_MS), value)
        for value, start_ms in scored[:WORST_WINDOWS]
    )


def collect_trend(ctx: MonthContext, slo: SloSpec) -> tuple[MonthPoint, ...]:
    """Attained per month over the last 12 months: months with data, and always this month."""
    with_data = set(query.months_with_data(ctx.engine, slo.name, ctx.zone))
    months = [ctx.month]
    for _ in range(TREND_MONTHS - 1):
        months.insert(0, previous_month(months[0]))
    points = []
    for month in months:
        if month != ctx.month and (month.year, month.month) not in with_data:
            continue
        result: SloWindowResult = evaluate_month(
            ctx.engine, slo, month.year, month.month, ctx.evaluated_ms
        )
        points.append(MonthPoint(slo.name, month, result.value, slo.target))
    return tuple(points)


def _instant(ms: int) -> datetime:
    # UTC, not local: local times in a repeated DST hour (fold=1) never compare equal across
    # zones; the PDF converts to the report timezone when it prints them.
    return datetime.fromtimestamp(ms / 1000, UTC)
