"""Capacity projections: the chosen model's forecast, growth per month and threshold crossings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np

from forecasting.backtest import FIT_ERRORS, BacktestScore
from forecasting.models import Projection
from forecasting.select import select_model
from forecasting.series import DailySeries

THRESHOLDS_PERCENT = (80, 90, 100)
DAYS_PER_MONTH = 365.25 / 12
MIN_HISTORY_DAYS = 14
FLAT_GROWTH_SHARE = 0.01  # growing by less than 1 % over the horizon counts as flat

ForecastStatus = Literal["ok", "insufficient_data", "not_projected"]


@dataclass(frozen=True)
class ThresholdCrossing:
    """When the forecast reaches ``percent`` of capacity: likely (mean) and earliest (upper 95)."""

    percent: int
    likely_days: int | None
    earliest_days: int | None
    last_day: date

    def date_after(self, days: int | None) -> date | None:
        return None if days is None else self.last_day + timedelta(days=days)

    @property
    def likely_date(self) -> date | None:
        return self.date_after(self.likely_days)

    @property
    def earliest_date(self) -> date | None:
        return self.date_after(self.earliest_days)


@dataclass(frozen=True)
class CapacityForecast:
    resource: str
    status: ForecastStatus
    message: str
    unit: str = ""
    capacity: float | None = None
    last_day: date | None = None
    current: float | None = None
    history_days: int = 0
    model: str | None = None
    growth_per_month: float | None = None
    projection: Projection | None = None
    crossings: dict[int, ThresholdCrossing] = field(default_factory=dict)
    backtest: BacktestScore | None = None

    @property
    def utilization_percent(self) -> float | None:
        if self.current is None or not self.capacity:
            return None
        return 100.0 * self.current / self.capacity

    def value_after(self, days: int, bound: str = "mean") -> float | None:
        """Projected value ``days`` after the last observed day (``bound``: mean, upper95, ...)."""
        if self.projection is None or not 1 <= days <= len(self.projection):
            return None
        return float(getattr(self.projection, bound)[days - 1])

    def likely_days_to(self, percent: int) -> int | None:
        crossing = self.crossings.get(percent)
        return crossing.likely_days if crossing else None

    def rows(self) -> list[dict[str, Any]]:
        if self.projection is None or self.last_day is None:
            return []
        p = self.projection
        return [{"ds": (self.last_day + timedelta(days=i + 1)).isoformat(),
                 "yhat": _round(p.mean[i]), "lower80": _round(p.lower80[i]),
                 "upper80": _round(p.upper80[i]), "lower95": _round(p.lower95[i]),
                 "upper95": _round(p.upper95[i])} for i in range(len(p))]

    def to_json(self, include_rows: bool = True) -> dict[str, Any]:
        def crossing_dates(c: ThresholdCrossing) -> dict[str, str | None]:
            return {"likely": _iso(c.likely_date), "earliest": _iso(c.earliest_date)}

        out: dict[str, Any] = {
            "resource": self.resource, "status": self.status, "message": self.message,
            "model": self.model, "unit": self.unit, "capacity": self.capacity,
            "current": self.current, "last_day": _iso(self.last_day),
            "history_days": self.history_days,
            "utilization_percent": _round(self.utilization_percent),
            "growth_per_month": _round(self.growth_per_month),
            "days_to": {str(p): c.likely_days for p, c in self.crossings.items()},
            "earliest_days_to": {str(p): c.earliest_days for p, c in self.crossings.items()},
            "crossing_dates": {str(p): crossing_dates(c) for p, c in self.crossings.items()},
            "backtest": self.backtest.to_json() if self.backtest else None,
        }
        if include_rows:
            out["forecast"] = self.rows()
        return out


def _round(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 4)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def first_day_at_or_above(values: np.ndarray, level: float) -> int | None:
    hits = np.flatnonzero(values >= level)
    return int(hits[0]) + 1 if hits.size else None


def find_crossings(current: float, projection: Projection, capacity: float, last_day: date,
                   thresholds: Sequence[int], projected: bool) -> dict[int, ThresholdCrossing]:
    crossings = {}
    for percent in thresholds:
        level = capacity * percent / 100.0
        if current >= level:
            likely: int | None = 0
            earliest: int | None = 0
        else:
            likely = first_day_at_or_above(projection.mean, level) if projected else None
            earliest = first_day_at_or_above(projection.upper95, level)
        crossings[percent] = ThresholdCrossing(percent, likely, earliest, last_day)
    return crossings


def forecast_series(series: DailySeries, *, resource: str = "", capacity: float | None = None,
                    horizon_days: int = 180, thresholds: Sequence[int] = THRESHOLDS_PERCENT,
                    min_history_days: int = MIN_HISTORY_DAYS) -> CapacityForecast:
    """Select a model by backtest, project ``horizon_days`` and find the threshold crossings."""
    capacity = capacity if capacity is not None else series.capacity
    daily = series.filled()
    base: dict[str, Any] = {"resource": resource, "unit": series.unit, "capacity": capacity,
                            "history_days": series.observed_days}
    if daily.observed_days == 0:
        return CapacityForecast(status="insufficient_data", message="no observations", **base)
    y = daily.values
    base.update(last_day=daily.end, current=float(y[-1]))
    if series.observed_days < min_history_days:
        return CapacityForecast(
            status="insufficient_data", **base,
            message=f"insufficient data: {series.observed_days} days of history, "
                    f"{min_history_days} needed")
    try:
        selection = select_model(y, horizon_days)
    except FIT_ERRORS as err:
        return CapacityForecast(status="insufficient_data", message=f"no model fits: {err}", **base)
    projection = selection.fitted.project(horizon_days)
    if np.min(y) >= 0:  # sizes and counts cannot go negative
        projection = Projection(*(np.maximum(b, 0.0) for b in (
            projection.mean, projection.lower80, projection.upper80,
            projection.lower95, projection.upper95)))
    span = max(horizon_days - 1, 1)
    growth = float(projection.mean[-1] - projection.mean[0]) / span * DAYS_PER_MONTH
    increase = float(projection.mean[-1]) - float(y[-1])
    projected = increase > FLAT_GROWTH_SHARE * max(abs(float(y[-1])), 1e-9)
    crossings = find_crossings(float(y[-1]), projection, capacity, daily.end, thresholds,
                               projected) if capacity else {}
    status: ForecastStatus = "ok" if projected else "not_projected"
    message = describe(crossings, projected, horizon_days)
    return CapacityForecast(status=status, message=message, model=selection.model.name,
                            growth_per_month=growth, projection=projection, crossings=crossings,
                            backtest=selection.score, **base)


def describe(crossings: dict[int, ThresholdCrossing], projected: bool, horizon_days: int) -> str:
    if not projected:
        return "flat or shrinking: not projected to reach capacity"
    reached = [c for c in crossings.values() if c.likely_days is not None]
    if not crossings:
        return "growing; no capacity known"
    if not reached:
        return f"not projected to reach {min(crossings)} % of capacity within {horizon_days} days"
    top = max(reached, key=lambda c: c.percent)
    when = "already" if top.likely_days == 0 else f"in {top.likely_days} days ({top.likely_date})"
    return f"projected to reach {top.percent} % of capacity {when}"
