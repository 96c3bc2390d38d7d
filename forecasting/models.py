"""Candidate forecasting models behind one small protocol.

A ``CandidateModel`` fits a daily series (a float array, one value per day) and returns a
``FittedModel`` that projects ``horizon`` days ahead with 80 % and 95 % prediction intervals.
Regressions live in ``forecasting.regression``, exponential smoothing in ``forecasting.ets``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

Z80 = 1.2815515655446004  # standard normal quantile for a central 80 % interval
Z95 = 1.959963984540054
WEEK = 7


@dataclass(frozen=True)
class Projection:
    """Forecast for days 1..h after the last observation."""

    mean: np.ndarray
    lower80: np.ndarray
    upper80: np.ndarray
    lower95: np.ndarray
    upper95: np.ndarray

    @classmethod
    def from_normal(cls, mean: np.ndarray, sd: np.ndarray) -> Projection:
        return cls(mean, mean - Z80 * sd, mean + Z80 * sd, mean - Z95 * sd, mean + Z95 * sd)

    def __len__(self) -> int:
        return int(self.mean.size)


class FittedModel(Protocol):
    @property
    def name(self) -> str: ...

    def project(self, horizon: int) -> Projection: ...


class CandidateModel(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def min_history(self) -> int: ...  # days of history the fit needs

    def fit(self, y: np.ndarray) -> FittedModel: ...


@dataclass(frozen=True)
class FittedNaive:
    name: str
    level: float
    step_sd: float

    def project(self, horizon: int) -> Projection:
        steps = np.arange(1, horizon + 1, dtype=float)
        mean = np.full(horizon, self.level)
        return Projection.from_normal(mean, self.step_sd * np.sqrt(steps))


class NaiveModel:
    """Tomorrow equals today: the baseline every other model must beat (MASE < 1)."""

    name = "naive"
    min_history = 2

    def fit(self, y: np.ndarray) -> FittedNaive:
        diffs = np.diff(y)
        step_sd = float(np.sqrt(np.mean(diffs**2))) if diffs.size else 0.0
        return FittedNaive(self.name, float(y[-1]), step_sd)


@dataclass(frozen=True)
class FittedDrift:
    name: str
    level: float
    drift: float
    step_sd: float
    nobs: int

    def project(self, horizon: int) -> Projection:
        h = np.arange(1, horizon + 1, dtype=float)
        # Random walk with drift: the drift's own estimation error adds h^2 / (n - 1).
        sd = self.step_sd * np.sqrt(h * (1 + h / max(self.nobs - 1, 1)))
        return Projection.from_normal(self.level + self.drift * h, sd)


class DriftModel:
    """Random walk with drift: the last value plus the average daily change so far."""

    name = "drift"
    min_history = 3

    def fit(self, y: np.ndarray) -> FittedDrift:
        diffs = np.diff(y)
        drift = float(diffs.mean())
        step_sd = float(np.std(diffs, ddof=1)) if diffs.size > 1 else 0.0
        return FittedDrift(self.name, float(y[-1]), drift, step_sd, y.size)


def weekly_seasonality_strength(y: np.ndarray) -> float:
    """Share of the detrended variance explained by the day of week (0..1).

    Classical decomposition: a centred 7-day moving average is the trend; the strength is
    ``1 - Var(remainder) / Var(detrended)`` (Hyndman's seasonal strength).
    """
    if y.size < 4 * WEEK:
        return 0.0
    kernel = np.ones(WEEK) / WEEK
    trend = np.convolve(y, kernel, mode="valid")  # centred: trend[i] belongs to y[i + 3]
    detrended = y[WEEK // 2 : WEEK // 2 + trend.size] - trend
    positions = (np.arange(detrended.size) + WEEK // 2) % WEEK
    index = np.array([detrended[positions == p].mean() for p in range(WEEK)])
    remainder = detrended - index[positions]
    total = float(np.var(detrended))
    if total <= 0.0:
        return 0.0
    return max(0.0, 1.0 - float(np.var(remainder)) / total)


def has_weekly_seasonality(y: np.ndarray, min_strength: float = 0.3) -> bool:
    return weekly_seasonality_strength(y) >= min_strength


def candidate_models(y: np.ndarray) -> list[CandidateModel]:
    """Models worth trying on ``y``, simplest first (ties in the backtest go to the simpler).

    The plain ``linear`` regression is always a candidate (and always the reference line).
    With a clear weekly pattern the non-seasonal ETS lose every backtest, so the seasonal ones
    replace them; seasonal trends stay undamped, since damping flattens steady growth. The
    yearly candidate needs about 1.5 years of history.
    """
    from forecasting.ets import EtsModel
    from forecasting.regression import LinearTrendModel
    from forecasting.seasonal import (
        MIN_YEARLY_HISTORY,
        SeasonallyAdjustedModel,
        SeasonalTrendModel,
    )

    weekly = has_weekly_seasonality(y)
    models: list[CandidateModel] = [
        NaiveModel(),
        DriftModel(),
        LinearTrendModel(robust=False),
        LinearTrendModel(robust=True),
    ]
    if weekly:
        models += [SeasonalTrendModel(weekly=True), EtsModel(seasonal_periods=WEEK)]
    else:
        models += [EtsModel(damped=False), EtsModel(damped=True)]
    if weekly:
        models.append(SeasonallyAdjustedModel(weekly=True, yearly=False, trend=False))
    if y.size >= MIN_YEARLY_HISTORY:
        models += [
            SeasonalTrendModel(weekly=weekly, yearly=True),
            SeasonallyAdjustedModel(weekly=weekly, yearly=True, trend=False),
            SeasonallyAdjustedModel(weekly=weekly, yearly=True, trend=True),
        ]
    return [m for m in models if y.size >= m.min_history]
