"""Rolling-origin backtests: sMAPE, MASE against the naive forecast, interval coverage.

At each origin the model is fitted on the days before it and projects ``horizon`` days; the
naive forecast (last value) is scored on the same days. MASE here is the model's absolute error
over the naive forecast's absolute error on the same origins and horizons, so MASE < 1 means
"beats naive at this horizon" (the usual in-sample one-step scaling would not say that for
180-day horizons).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from forecasting.models import Z80, CandidateModel

FIT_ERRORS = (ValueError, ArithmeticError, np.linalg.LinAlgError)


@dataclass(frozen=True)
class BacktestScore:
    """Sums over all origins, so scores of several series or runs add up exactly."""

    horizon: int
    origins: int
    points: int
    abs_error: float
    naive_abs_error: float
    smape_sum: float
    inside80: int
    inside95: int

    def __add__(self, other: BacktestScore) -> BacktestScore:
        return BacktestScore(
            max(self.horizon, other.horizon),
            self.origins + other.origins,
            self.points + other.points,
            self.abs_error + other.abs_error,
            self.naive_abs_error + other.naive_abs_error,
            self.smape_sum + other.smape_sum,
            self.inside80 + other.inside80,
            self.inside95 + other.inside95,
        )

    @property
    def smape(self) -> float:
        return 100.0 * self.smape_sum / self.points if self.points else math.nan

    @property
    def mase(self) -> float:
        if self.naive_abs_error > 0:
            return self.abs_error / self.naive_abs_error
        return 1.0 if self.abs_error == 0 else math.inf

    @property
    def coverage80(self) -> float:
        return self.inside80 / self.points if self.points else math.nan

    @property
    def coverage95(self) -> float:
        return self.inside95 / self.points if self.points else math.nan

    def to_json(self) -> dict[str, Any]:
        def clean(x: float) -> float | None:
            return round(x, 4) if math.isfinite(x) else None

        return {
            "smape": clean(self.smape),
            "mase": clean(self.mase),
            "coverage80": clean(self.coverage80),
            "coverage95": clean(self.coverage95),
            "horizon_days": self.horizon,
            "origins": self.origins,
        }


def smape_terms(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """Per-point symmetric absolute percentage errors (0..2); 0/0 counts as a perfect hit."""
    denominator = np.abs(actual) + np.abs(forecast)
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, 2.0 * np.abs(forecast - actual) / safe, 0.0)


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent (0..200)."""
    return 100.0 * float(np.mean(smape_terms(actual, forecast)))


def plan_origins(
    n: int, horizon: int, max_origins: int, min_train: int, step: int | None = None
) -> list[int]:
    """Cut points (training length) from the latest backwards, ``step`` days apart."""
    step = step or max(1, horizon // 2)
    origins: list[int] = []
    origin = n - horizon
    while origin >= min_train and len(origins) < max_origins:
        origins.append(origin)
        origin -= step
    return sorted(origins)


def backtest_model(
    y: np.ndarray,
    model: CandidateModel,
    horizon: int,
    origins: list[int],
    train_window: int | None = None,
    standardized_errors: list[np.ndarray] | None = None,
) -> BacktestScore | None:
    """Score ``model`` at each origin; None when it cannot be fitted at every origin.

    ``standardized_errors`` collects (actual - mean) / predicted sd per point, for calibrating
    the interval width.
    """
    parts = []
    for origin in origins:
        train = y[max(0, origin - train_window) : origin] if train_window else y[:origin]
        actual = y[origin : origin + horizon]
        if train.size < model.min_history or actual.size == 0:
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                projection = model.fit(train).project(actual.size)
        except FIT_ERRORS:
            return None
        if not np.all(np.isfinite(projection.mean)):
            return None
        if standardized_errors is not None:
            sd = (projection.upper80 - projection.mean) / Z80
            ok = sd > 0
            standardized_errors.append((actual[ok] - projection.mean[ok]) / sd[ok])
        naive_error = np.abs(actual - train[-1])
        parts.append(
            BacktestScore(
                horizon=horizon,
                origins=1,
                points=actual.size,
                abs_error=float(np.sum(np.abs(actual - projection.mean))),
                naive_abs_error=float(np.sum(naive_error)),
                smape_sum=float(np.sum(smape_terms(actual, projection.mean))),
                inside80=int(
                    np.sum((actual >= projection.lower80) & (actual <= projection.upper80))
                ),
                inside95=int(
                    np.sum((actual >= projection.lower95) & (actual <= projection.upper95))
                ),
            )
        )
    if not parts:
        return None
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total
