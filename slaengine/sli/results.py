"""Per-SLO, per-window results: the numbers the CLI, /metrics and the report all show."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from typing import Any

from slaengine.calendar import month_range
from slaengine.config import CALENDAR_MONTH, SKETCH_SLIS, SloSpec
from slaengine.durations import parse_duration
from slaengine.sli import query
from slaengine.sli.buckets import WholeHourSlices
from slaengine.sli.engine import SliEngine
from slaengine.slo import ErrorBudget

RECENT_WINDOW = timedelta(days=1)  # burn rate that decides "at-risk"
QUANTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True, slots=True)
class SloWindowResult:
    name: str
    service: str | None
    sli: str
    window: str  # "5m" … "30d", "calendar-month" (current), "month:2026-10"
    start: str
    end: str
    good: int
    total: int
    target: float  # percent
    value: float | None  # percent
    error_budget_remaining: float  # fraction
    burn_rate: float
    status: str
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        row = asdict(self)
        if self.sli not in SKETCH_SLIS:  # latency, or the lag of projection_lag samples
            for key in ("p50_ms", "p95_ms", "p99_ms"):
                row.pop(key)
        return row


@lru_cache(maxsize=4096)  # the windows of a render share their end and often their start
def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


WholeHours = WholeHourSlices  # query.uptime_counts' shared whole-hour slices


def recent_burn_rate(
    engine: SliEngine, slo: SloSpec, now_ms: int, whole_hours: WholeHours | None = None
) -> float:
    """The last day's burn rate, which decides whether a met SLO is at risk."""
    return ErrorBudget(
        slo.exact_objective,
        *query.counts(
            engine,
            slo,
            *query.slo_rolling_range(slo, RECENT_WINDOW, now_ms),
            now_ms=now_ms,
            whole_hours=whole_hours,
        ),
    ).burn_rate


def evaluate_range(
    engine: SliEngine,
    slo: SloSpec,
    label: str,
    start_ms: int,
    end_ms: int,
    now_ms: int,
    include_late: bool = False,
    recent_burn: float | Callable[[], float] | None = None,
    percentiles_ms: list[float | None] | None = None,
    closed: bool = False,
    whole_hours: WholeHours | None = None,
    counted: tuple[int, int] | None = None,
) -> SloWindowResult:
    """One window's numbers; a ``closed`` period (a past month) is only met or breached.
    ``recent_burn`` (a callable: asked only when the status depends on it) and ``counted``
    (good, total) when the caller has them already."""
    if counted is None:
        counted = query.counts(engine, slo, start_ms, end_ms, include_late, now_ms, whole_hours)
    good, total = counted
    budget = ErrorBudget(slo.exact_objective, good, total)
    if closed and budget.has_data:
        status = budget.final_status()
    else:
        if recent_burn is None:
            recent_burn = partial(recent_burn_rate, engine, slo, now_ms, whole_hours)
        status = budget.status(recent_burn)
    percentiles: dict[str, float | None] = {}
    if slo.sli in SKETCH_SLIS:
        if percentiles_ms is None:
            sketch = query.merged_sketch(engine, slo, start_ms, end_ms, now_ms)
            percentiles_ms = sketch.quantiles(QUANTILES)
        percentiles = dict(zip(("p50_ms", "p95_ms", "p99_ms"), percentiles_ms, strict=True))
    sli = budget.sli
    return SloWindowResult(
        name=slo.name,
        service=slo.service,
        sli=slo.sli,
        window=label,
        start=_iso(start_ms),
        end=_iso(end_ms),
        good=good,
        total=total,
        target=slo.target,
        value=None if sli is None else sli * 100.0,
        error_budget_remaining=budget.remaining,
        burn_rate=budget.burn_rate,
        status=status,
        **percentiles,
    )


def evaluate_window(
    engine: SliEngine,
    slo: SloSpec,
    window: str,
    now_ms: int,
    recent_burn: float | Callable[[], float] | None = None,
    whole_hours: WholeHours | None = None,
) -> SloWindowResult:
    """One named window: a rolling duration or the current calendar month."""
    if window == CALENDAR_MONTH:
        local = datetime.fromtimestamp(now_ms / 1000, engine.zone)
        start, end = month_range(local.year, local.month, engine.zone)
        return evaluate_range(
            engine,
            slo,
            window,
            start,
            end,
            now_ms,
            include_late=True,
            recent_burn=recent_burn,
            whole_hours=whole_hours,
        )
    start, end = query.slo_rolling_range(slo, parse_duration(window), now_ms)
    return evaluate_range(
        engine, slo, window, start, end, now_ms, recent_burn=recent_burn, whole_hours=whole_hours
    )


def evaluate_month(
    engine: SliEngine, slo: SloSpec, year: int, month: int, now_ms: int
) -> SloWindowResult:
    start, end = month_range(year, month, engine.zone)
    return evaluate_range(
        engine,
        slo,
        f"month:{year:04d}-{month:02d}",
        start,
        end,
        now_ms,
        include_late=True,
        closed=end <= now_ms,
    )


def evaluate_windows(
    engine: SliEngine,
    slo: SloSpec,
    now_ms: int,
    windows: Sequence[str] | None = None,
    whole_hours: WholeHours | None = None,
    closed_hours: query.ClosedHourSketches | None = None,
    counted: dict[str, tuple[int, int]] | None = None,
) -> list[SloWindowResult]:
    """Every standard window of one SLO (or the ``windows`` named), sharing the work the
    windows have in common (``whole_hours``: pass one to share it with more queries;
    ``closed_hours``: one kept per SLO across evaluations, see ``query.rolling_percentiles``;
    ``counted``: ``query.rolling_counts`` of these rolling windows and maybe more, at ``now_ms``,
    when the caller counted them together with others)."""
    if whole_hours is None:
        whole_hours = {}
    asked: list[float] = []

    def recent() -> float:  # asked once, and only if a window's status depends on it
        if not asked:
            asked.append(recent_burn_rate(engine, slo, now_ms, whole_hours))
        return asked[0]

    if windows is None:
        windows = windows_for(slo)
    rolling = {
        w: query.slo_rolling_range(slo, parse_duration(w), now_ms)
        for w in windows
        if w != CALENDAR_MONTH
    }
    if counted is None:
        counted = query.rolling_counts(engine, slo, rolling, now_ms, whole_hours)
    shared = (
        query.rolling_percentiles(engine, slo, rolling, QUANTILES, closed_hours)
        if slo.sli in SKETCH_SLIS
        else {}
    )
    rows = []
    for window in windows:
        if window == CALENDAR_MONTH:
            rows.append(evaluate_window(engine, slo, window, now_ms, recent, whole_hours))
        else:
            rows.append(
                evaluate_range(
                    engine,
                    slo,
                    window,
                    *rolling[window],
                    now_ms,
                    recent_burn=recent,
                    percentiles_ms=shared.get(window),
                    whole_hours=whole_hours,
                    counted=counted[window],
                )
            )
    return rows


def windows_for(slo: SloSpec) -> list[str]:
    windows = list(query.ROLLING_WINDOWS)
    if slo.window not in windows:
        windows.append(slo.window)
    if CALENDAR_MONTH not in windows:
        windows.append(CALENDAR_MONTH)
    return windows


def evaluate_all(engine: SliEngine, now_ms: int, past_months: int = 13) -> list[SloWindowResult]:
    """Every SLO over every standard window, plus past calendar months that have data."""
    rows = []
    local_now = datetime.fromtimestamp(now_ms / 1000, engine.zone)
    for slo in engine.config.slos:
        rows += evaluate_windows(engine, slo, now_ms)
        months = [
            m
            for m in query.months_with_data(engine, slo.name, engine.zone, now_ms)
            if m < (local_now.year, local_now.month)
        ][-past_months:]
        for year, month in months:
            row = evaluate_month(engine, slo, year, month, now_ms)
            if row.total:  # a month whose only events came after ``now_ms`` is not listed
                rows.append(row)
    return rows
