"""Trend plus Fourier seasonality (weekly, yearly) by least squares, with AR(1) residuals.

Capacity series carry a weekday/weekend load pattern and, given two years of history, a
yearly cycle (holidays, seasonal business). Fourier terms model both with few parameters
(3 sine/cosine pairs reproduce any 7-day pattern; 4 pairs give a smooth yearly shape), and
the trend stays a straight, undamped line: damped trends under-forecast steady growth.

As in ``forecasting.regression``, residuals are AR(1): the projection starts from the last
observation and decays towards trend + season. The interval adds the accumulated innovations
and the uncertainty of every coefficient (their covariance inflated for autocorrelation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasting.models import WEEK, Projection
from forecasting.regression import estimate_ar1

YEAR = 365.25
WEEKLY_ORDER = 3
YEARLY_ORDER = 4
MIN_YEARLY_HISTORY = 540  # about 1.5 cycles: with less, the yearly shape and the trend alias


def design_matrix(t: np.ndarray, scale: float,
                  seasons: tuple[tuple[float, int], ...]) -> np.ndarray:
    """Columns: 1, t / scale, then sin/cos pairs of each (period, order)."""
    columns = [np.ones_like(t), t / scale]
    for period, order in seasons:
        for k in range(1, order + 1):
            angle = 2.0 * np.pi * k * t / period
            columns += [np.sin(angle), np.cos(angle)]
    return np.column_stack(columns)


@dataclass(frozen=True)
class FittedSeasonalTrend:
    name: str
    coef: np.ndarray
    cov: np.ndarray  # covariance of ``coef``, inflated for AR(1) residuals
    n: int
    scale: float
    seasons: tuple[tuple[float, int], ...]
    ar: float
    innovation_sd: float
    last_residual: float

    def project(self, horizon: int) -> Projection:
        h = np.arange(1, horizon + 1, dtype=float)
        decay = self.ar**h
        future = design_matrix(self.n - 1 + h, self.scale, self.seasons)
        last = design_matrix(np.array([self.n - 1.0]), self.scale, self.seasons)
        mean = future @ self.coef + decay * self.last_residual
        # mean = (x_{n+h} - ar^h x_n)' b + ar^h y_n: the coefficient error enters through d.
        d = future - decay[:, None] * last
        parameters = np.einsum("ij,jk,ik->i", d, self.cov, d)
        if self.ar > 0:
            innovations = self.innovation_sd**2 * (1 - self.ar ** (2 * h)) / (1 - self.ar**2)
        else:
            innovations = np.full(horizon, self.innovation_sd**2)
        return Projection.from_normal(mean, np.sqrt(innovations + np.maximum(parameters, 0.0)))


class SeasonalTrendModel:
    """Linear trend + weekly and/or yearly Fourier terms (``linear_weekly``, ``linear_yearly``,
    ``linear_weekly_yearly``)."""

    def __init__(self, weekly: bool = True, yearly: bool = False) -> None:
        seasons: list[tuple[float, int]] = []
        if weekly:
            seasons.append((float(WEEK), WEEKLY_ORDER))
        if yearly:
            seasons.append((YEAR, YEARLY_ORDER))
        self.seasons = tuple(seasons)
        self.name = "linear" + "_weekly" * weekly + "_yearly" * yearly
        self.min_history = MIN_YEARLY_HISTORY if yearly else 2 * WEEK

    def fit(self, y: np.ndarray) -> FittedSeasonalTrend:
        n = y.size
        t = np.arange(n, dtype=float)
        scale = max(float(n - 1), 1.0)
        x = design_matrix(t, scale, self.seasons)
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        residuals = y - x @ coef
        ar = estimate_ar1(residuals)
        innovations = residuals[1:] - ar * residuals[:-1]
        innovation_sd = float(np.std(innovations))
        residual_var = innovation_sd**2 / (1 - ar**2)
        inflation = (1 + ar) / (1 - ar)
        cov = inflation * residual_var * np.linalg.pinv(x.T @ x)
        return FittedSeasonalTrend(self.name, coef, cov, n, scale, self.seasons, ar,
                                   innovation_sd, float(residuals[-1]))
