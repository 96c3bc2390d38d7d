"""Capacity projections: the chosen model's forecast, growth per month and threshold crossings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np

from forecasting.backtest import FIT_ERRORS, BacktestScore
from forecasting.changes import last_step_change
from forecasting.models import Projection
from forecasting.regression import LinearTrendModel
from forecasting.select import select_model
from forecasting.series import DailySeries

THRESHOLDS_PERCENT = (80, 90, 100)
DAYS_PER_MONTH = 365.25 / 12
MIN_HISTORY_DAYS = 14
FLAT_GROWTH_SHARE = 0.01  # growing by less than 1 % over the horizon counts as flat
WEEK = 7
MAD_TO_SD = 1.4826
REFERENCE_MODEL = "linear"  # the seeds' plain linear regression, always shown beside the pick

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
    reference: np.ndarray | None = None  # mean of the plain linear regression, same days
    fitted_from: date | None = None  # first day the model was fitted on
    step_change: date | None = None  # first day after the last detected level shift
    step_jump: float | None = None  # its size (level after minus before, net of the trend)
    bounded: bool = False  # the forecast saturates at the capacity

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
        p, ref = self.projection, self.reference
        return [
            {
                "ds": (self.last_day + timedelta(days=i + 1)).isoformat(),
                "yhat": _round(p.mean[i]),
                "lower80": _round(p.lower80[i]),
                "upper80": _round(p.upper80[i]),
                "lower95": _round(p.lower95[i]),
                "upper95": _round(p.upper95[i]),
                REFERENCE_MODEL: None if ref is None else _round(ref[i]),
            }
            for i in range(len(p))
        ]

    def to_json(self, include_rows: bool = True) -> dict[str, Any]:
        def crossing_dates(c: ThresholdCrossing) -> dict[str, str | None]:
            return {"likely": _iso(c.likely_date), "earliest": _iso(c.earliest_date)}

        out: dict[str, Any] = {
            "resource": self.resource,
            "status": self.status,
            "message": self.message,
            "model": self.model,
            "unit": self.unit,
            "capacity": self.capacity,
            "current": self.current,
            "last_day": _iso(self.last_day),
            "history_days": self.history_days,
            "utilization_percent": _round(self.utilization_percent),
            "growth_per_month": _round(self.growth_per_month),
            "days_to": {str(p): c.likely_days for p, c in self.crossings.items()},
            "earliest_days_to": {str(p): c.earliest_days for p, c in self.crossings.items()},
            "crossing_dates": {str(p): crossing_dates(c) for p, c in self.crossings.items()},
            "backtest": self.backtest.to_json() if self.backtest else None,
            "reference_model": REFERENCE_MODEL if self.reference is not None else None,
            "fitted_from": _iso(self.fitted_from),
            "step_change": None
            if self.step_change is None
            else {"date": _iso(self.step_change), "jump": _round(self.step_jump)},
            "bounded": self.bounded,
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


def find_crossings(
    current: float,
    projection: Projection,
    capacity: float,
    last_day: date,
    thresholds: Sequence[int],
    projected: bool,
) -> dict[int, ThresholdCrossing]:
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


def forecast_series(
    series: DailySeries,
    *,
    resource: str = "",
    capacity: float | None = None,
    horizon_days: int = 180,
    thresholds: Sequence[int] = THRESHOLDS_PERCENT,
    min_history_days: int = MIN_HISTORY_DAYS,
    bounded: bool = False,
) -> CapacityForecast:
    """Select a model by backtest, project ``horizon_days`` and find the threshold crossings.

    The model is fitted after the last step change (purge, migration) when one is detected.
    ``bounded``: the resource cannot exceed its capacity (locations, utilisation), so every
    band saturates there.
    """
    capacity = capacity if capacity is not None else series.capacity
    daily = series.filled()
    base: dict[str, Any] = {
        "resource": resource,
        "unit": series.unit,
        "capacity": capacity,
        "history_days": series.observed_days,
        "bounded": bounded and capacity is not None,
    }
    if daily.observed_days == 0:
        return CapacityForecast(status="insufficient_data", message="no observations", **base)
    y = daily.values
    base.update(last_day=daily.end, current=float(y[-1]))
    if series.observed_days < min_history_days:
        return CapacityForecast(
            status="insufficient_data",
            **base,
            message=f"insufficient data: {series.observed_days} days of history, "
            f"{min_history_days} needed",
        )
    step = last_step_change(y)
    if step is not None:
        y = y[step.index :]
        base.update(step_change=daily.start + timedelta(days=step.index), step_jump=step.jump)
    base["fitted_from"] = daily.end - timedelta(days=y.size - 1)
    try:
        selection = select_model(y, horizon_days)
        reference = LinearTrendModel().fit(y).project(horizon_days).mean
    except FIT_ERRORS as err:
        return CapacityForecast(status="insufficient_data", message=f"no model fits: {err}", **base)
    projection = selection.fitted.project(horizon_days)
    low = 0.0 if np.min(y) >= 0 else -math.inf  # sizes and counts cannot go negative
    high = capacity if base["bounded"] else math.inf
    projection = Projection(
        *(
            np.clip(b, low, high)
            for b in (
                projection.mean,
                projection.lower80,
                projection.upper80,
                projection.lower95,
                projection.upper95,
            )
        )
    )
    reference = np.clip(reference, low, high)
    growth = growth_per_month(projection.mean)
    projected = is_growing(y, projection.mean)
    crossings = (
        find_crossings(float(y[-1]), projection, capacity, daily.end, thresholds, projected)
        if capacity
        else {}
    )
    status: ForecastStatus = "ok" if projected else "not_projected"
    message = describe(crossings, projected, horizon_days)
    if step is not None:
        message += f"; fitted after the step change on {_iso(base['step_change'])}"
    return CapacityForecast(
        status=status,
        message=message,
        model=selection.model.name,
        growth_per_month=growth,
        projection=projection,
        crossings=crossings,
        backtest=selection.score,
        reference=reference,
        **base,
    )


def is_growing(history: np.ndarray, mean: np.ndarray) -> bool:
    """Does the projection rise above the current level by more than 1 % and more than the
    series' own noise?

    Weekly means on both sides, so a weekday peak is not growth; the highest week of the
    projection, so a seasonal peak ahead (a yearly high season) counts. A rise within the
    week-to-week noise is a slope the data cannot tell from zero.
    """
    current = float(np.mean(history[-WEEK:]))
    ahead = weekly_means(mean)
    threshold = max(FLAT_GROWTH_SHARE * abs(current), noise_sd(history), 1e-9)
    return float(np.max(ahead)) - current > threshold


def weekly_means(values: np.ndarray) -> np.ndarray:
    if values.size < WEEK:
        return values
    return np.convolve(values, np.ones(WEEK) / WEEK, mode="valid")


def noise_sd(y: np.ndarray) -> float:
    """Robust sd of the noise: week-on-week changes, net of the usual change (the trend)."""
    if y.size <= 2 * WEEK:
        return 0.0
    changes = y[WEEK:] - y[:-WEEK]
    spread = float(np.median(np.abs(changes - np.median(changes))))
    return MAD_TO_SD * spread / math.sqrt(2)  # each change holds two days' noise


def growth_per_month(mean: np.ndarray) -> float:
    """Average slope of the projection, from its first to its last week (so the weekday of
    either end does not count as growth), per month."""
    weekly = weekly_means(mean)
    span = max(weekly.size - 1, 1)
    return float(weekly[-1] - weekly[0]) / span * DAYS_PER_MONTH


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
