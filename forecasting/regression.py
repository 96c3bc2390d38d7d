"""Linear and robust linear trends with AR(1) residuals (scikit-learn fits the trend).

Resource series drift around their trend for days at a time, so residuals are modelled as an
AR(1) process: the projection starts from the last observation and decays towards the trend,
and the interval grows with the horizon from both the accumulated innovations and the
uncertainty of the slope (inflated for autocorrelation, since OLS standard errors assume
independent residuals).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import HuberRegressor, LinearRegression

from forecasting.models import Projection

MAX_AR = 0.99  # keeps the variance formulas finite for random-walk-like residuals
MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class FittedLinearTrend:
    name: str
    slope: float
    level_at_end: float  # trend value on the last observed day
    last_residual: float
    ar: float
    innovation_sd: float
    level_var: float  # variance of the trend level at the centre of the data
    slope_var: float
    end_from_centre: float  # last day minus the mean day

    def project(self, horizon: int) -> Projection:
        h = np.arange(1, horizon + 1, dtype=float)
        decay = self.ar**h
        mean = self.level_at_end + self.slope * h + decay * self.last_residual
        if self.ar > 0:
            innovations = self.innovation_sd**2 * (1 - self.ar ** (2 * h)) / (1 - self.ar**2)
        else:
            innovations = np.full(horizon, self.innovation_sd**2)
        anchored = 1 - decay  # the share of the forecast resting on the fitted trend
        parameters = (
            anchored**2 * self.level_var
            + (h + anchored * self.end_from_centre) ** 2 * self.slope_var
        )
        return Projection.from_normal(mean, np.sqrt(innovations + parameters))


class LinearTrendModel:
    """Straight-line trend; ``robust`` uses a Huber loss so outlier days pull less."""

    min_history = 7

    def __init__(self, robust: bool = False) -> None:
        self.robust = robust
        self.name = "robust_linear" if robust else "linear"

    def fit(self, y: np.ndarray) -> FittedLinearTrend:
        n = y.size
        t = np.arange(n, dtype=float)
        intercept, slope = self._fit_line(t, y)
        residuals = y - (intercept + slope * t)
        ar = estimate_ar1(residuals)
        innovations = residuals[1:] - ar * residuals[:-1]
        innovation_sd = robust_sd(innovations) if self.robust else float(np.std(innovations))
        residual_var = innovation_sd**2 / (1 - ar**2)
        inflation = (1 + ar) / (1 - ar)
        centre = float(t.mean())
        sxx = float(np.sum((t - centre) ** 2))
        return FittedLinearTrend(
            name=self.name,
            slope=slope,
            level_at_end=intercept + slope * (n - 1),
            last_residual=float(residuals[-1]),
            ar=ar,
            innovation_sd=innovation_sd,
            level_var=inflation * residual_var / n,
            slope_var=inflation * residual_var / sxx,
            end_from_centre=(n - 1) - centre,
        )

    def _fit_line(self, t: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        # Standardise both axes: Huber's optimiser and its epsilon work in unit scale.
        t_scale = max(float(t[-1]), 1.0)
        y_centre, y_scale = float(y.mean()), float(y.std()) or 1.0
        x = (t / t_scale).reshape(-1, 1)
        z = (y - y_centre) / y_scale
        regressor = HuberRegressor(alpha=0.0, max_iter=200) if self.robust else LinearRegression()
        regressor.fit(x, z)
        slope = float(regressor.coef_[0]) * y_scale / t_scale
        intercept = float(regressor.intercept_) * y_scale + y_centre
        return intercept, slope


def estimate_ar1(residuals: np.ndarray) -> float:
    """Lag-1 autoregression coefficient of the residuals, clipped to [0, MAX_AR]."""
    head, tail = residuals[:-1], residuals[1:]
    denominator = float(np.dot(head, head))
    if denominator <= 0.0:
        return 0.0
    return float(np.clip(np.dot(head, tail) / denominator, 0.0, MAX_AR))


def robust_sd(values: np.ndarray) -> float:
    median = float(np.median(values))
    mad = MAD_TO_SD * float(np.median(np.abs(values - median)))
    return mad or float(np.std(values))  # MAD is 0 when most values coincide
