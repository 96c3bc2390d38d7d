"""Everything the monthly SLA report shows, as plain data.

Pure: no reportlab, no I/O. The lead's adapter (``slaengine.report.collect``)
fills a ``MonthReport`` from SLI state; ``pdf.render_report`` draws it. Percent
values are 0–100, budget values are fractions 0–1, ``None`` means "no data"
(or, for whole sections, "no data source configured") and is shown as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal

SliKind = Literal["availability", "latency", "uptime", "fulfillment", "lag", "projection_lag"]
SloStatus = Literal["met", "at-risk", "breached", "no-data"]

# Worst first: the overall status of a report is the worst of its SLOs.
STATUS_SEVERITY: dict[SloStatus, int] = {"breached": 3, "at-risk": 2, "no-data": 1, "met": 0}


@dataclass(frozen=True)
class DayPoint:
    """One calendar day (report timezone) of one SLO."""

    day: date
    good: float  # good events, or good minutes for time-based SLIs
    total: float
    value_percent: float | None  # None: no events that day
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None


@dataclass(frozen=True)
class WorstWindow:
    start: datetime
    end: datetime
    value_percent: float


@dataclass(frozen=True)
class SloMonth:
    name: str  # identifier from the SLO config, e.g. "api-latency"
    display_name: str  # label of the headline, e.g. "Uptime" or "API"
    sli: SliKind
    service: str
    target: float  # percent, e.g. 99.9
    attained: float | None  # percent; None when the month has no data
    status: SloStatus
    budget_consumed: float | None  # fraction of the month's error budget; >1 when overspent
    budget_remaining: float | None
    previous_attained: float | None = None
    daily: tuple[DayPoint, ...] = ()
    worst_windows: tuple[WorstWindow, ...] = ()
    latency_percentile: int = 95  # which percentile the latency headline shows
    latency_threshold_ms: float | None = None  # a request is good when faster than this
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None  # projection_lag: the p99 lag, which its headline shows

    @property
    def headline_latency_ms(self) -> float | None:
        return {50: self.p50_ms, 95: self.p95_ms, 99: self.p99_ms}.get(self.latency_percentile)


@dataclass(frozen=True)
class IncidentRow:
    title: str
    severity: str
    start: datetime
    end: datetime | None  # None: still open when the report was generated
    time_to_acknowledge: timedelta | None = None  # None: not from PagerDuty
    time_to_resolve: timedelta | None = None
    source: str = "pagerduty"

    @property
    def duration(self) -> timedelta | None:
        return self.end - self.start if self.end else None


@dataclass(frozen=True)
class DayRatio:
    day: date
    good: int
    total: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.good / self.total if self.total else None


@dataclass(frozen=True)
class ProjectionLag:
    projection: str
    p50_seconds: float
    p95_seconds: float
    max_seconds: float
    percent_within_threshold: float  # share of the month the lag stayed under the threshold


@dataclass(frozen=True)
class LagSummary:
    threshold_seconds: float
    projections: tuple[ProjectionLag, ...]


@dataclass(frozen=True)
class ForecastRow:
    ds: date
    yhat: float
    lower80: float
    upper80: float
    lower95: float
    upper95: float


@dataclass(frozen=True)
class CapacitySection:
    resource: str
    unit: str
    capacity: float  # 100 % of the resource, in ``unit``
    model_name: str
    history: tuple[tuple[date, float], ...]
    forecast: tuple[ForecastRow, ...]
    days_to: dict[int, float | None]  # {80: 41.5, 90: None, 100: None}; None = not projected
    growth_per_month: float  # in ``unit`` per month
    recommendation: str


@dataclass(frozen=True)
class MonthPoint:
    slo_name: str
    month: date  # 1st of the month
    attained: float | None
    target: float


@dataclass(frozen=True)
class MonthReport:
    organisation: str
    service_name: str
    month: date  # 1st of the reported month
    timezone: str
    generated_at: datetime
    slos: tuple[SloMonth, ...]
    incidents: tuple[IncidentRow, ...] | None = None  # None: no incident data source
    fulfillment_by_day: tuple[DayRatio, ...] | None = None
    lag_summary: LagSummary | None = None
    capacity: tuple[CapacitySection, ...] | None = None  # None: forecaster not configured
    trend: tuple[MonthPoint, ...] = ()
    definitions: dict[str, str] = field(default_factory=dict)  # SLO name -> how it is computed

    @property
    def overall_status(self) -> SloStatus:
        if not self.slos:
            return "no-data"
        return max((slo.status for slo in self.slos), key=STATUS_SEVERITY.__getitem__)

    def with_slos(self, names: list[str]) -> MonthReport:
        """The report restricted to ``names`` (config order kept); unknown names raise KeyError."""
        known = {slo.name for slo in self.slos}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise KeyError(", ".join(unknown))
        keep = set(names)
        return replace(
            self,
            slos=tuple(slo for slo in self.slos if slo.name in keep),
            trend=tuple(point for point in self.trend if point.slo_name in keep),
            definitions={k: v for k, v in self.definitions.items() if k in keep},
        )


def budget_burndown(slo: SloMonth) -> list[tuple[date, float]]:
    """Error budget left (fraction, may go negative) at the end of each day of the month.

    The budget is the month's allowed bad events, (1 - target) x the month's total;
    using the final total makes the line end exactly at ``1 - budget_consumed``.
    """
    total = sum(point.total for point in slo.daily)
    allowed_bad = (1.0 - slo.target / 100.0) * total
    if not total or allowed_bad <= 0:
        return []
    remaining = 1.0
    out = []
    for point in slo.daily:
        remaining -= (point.total - point.good) / allowed_bad
        out.append((point.day, remaining))
    return out
