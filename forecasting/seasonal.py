"""Trend plus Fourier seasonality (weekly, yearly) by least squares, with AR(1) residuals.

Capacity series carry a weekday/weekend load pattern and, given two years of history, a
yearly cycle (holidays, seasonal business). Fourier terms model both with few parameters
(3 sine/cosine pairs reproduce any 7-day pattern; 4 pairs give a smooth yearly shape), and
the trend stays a straight, undamped line: damped trends under-forecast steady growth.

As in ``forecasting.regression``, residuals are AR(1): the projection starts from the last
observation and decays towards trend + season. The interval adds the accumulated innovations
and the uncertainty of every coefficient (each inflated for autocorrelation at its own
frequency).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasting.models import WEEK, FittedModel, Projection
from forecasting.regression import estimate_ar1

YEAR = 365.25
WEEKLY_ORDER = 3
YEARLY_ORDER = 4
MIN_YEARLY_HISTORY = 540  # about 1.5 cycles: with less, the yearly shape and the trend alias


def design_matrix(
    t: np.ndarray, scale: float, seasons: tuple[tuple[float, int], ...]
) -> np.ndarray:
    """Columns: 1, t / scale, then sin/cos pairs of each (period, order)."""
    columns = [np.ones_like(t), t / scale]
    for period, order in seasons:
        for k in range(1, order + 1):
            angle = 2.0 * np.pi * k * t / period
            columns += [np.sin(angle), np.cos(angle)]
    return np.column_stack(columns)


def column_frequencies(seasons: tuple[tuple[float, int], ...]) -> np.ndarray:
    """Angular frequency of each design column (0 for the level and the trend)."""
    freqs = [0.0, 0.0]
    for period, order in seasons:
        for k in range(1, order + 1):
            freqs += [2.0 * np.pi * k / period] * 2
    return np.array(freqs)


def ar1_variance_ratio(ar: float, freqs: np.ndarray) -> np.ndarray:
    """How much AR(1) residuals inflate a coefficient's variance over independent ones.

    For a regressor at angular frequency w it is the AR(1) spectrum there over the white
    noise of the same variance: (1 - ar^2) / (1 - 2 ar cos w + ar^2). At w = 0 (level, trend)
    that is the usual (1 + ar) / (1 - ar); the weekly terms, which alternate within days, are
    barely affected by slowly wandering residuals.
    """
    return (1 - ar**2) / (1 - 2 * ar * np.cos(freqs) + ar**2)


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
        scale_by = np.sqrt(ar1_variance_ratio(ar, column_frequencies(self.seasons)))
        cov = residual_var * np.linalg.pinv(x.T @ x) * np.outer(scale_by, scale_by)
        return FittedSeasonalTrend(
            self.name, coef, cov, n, scale, self.seasons, ar, innovation_sd, float(residuals[-1])
        )


@dataclass(frozen=True)
class FittedLevel:
    """Simple exponential smoothing, ETS(A,N,N): a flat forecast at the smoothed level."""

    name: str
    level: float
    alpha: float
    sigma2: float

    def project(self, horizon: int) -> Projection:
        h = np.arange(1, horizon + 1, dtype=float)
        sd = np.sqrt(self.sigma2 * (1 + (h - 1) * self.alpha**2))
        return Projection.from_normal(np.full(horizon, self.level), sd)


SES_ALPHAS = np.array([0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9, 1.0])


def fit_level(y: np.ndarray, name: str = "adjusted_level") -> FittedLevel:
    """SES with the smoothing weight of least one-step squared error (a grid: no optimiser)."""
    from scipy.signal import lfilter

    best: FittedLevel | None = None
    best_sse = np.inf
    for alpha in SES_ALPHAS:
        # level_t = alpha y_t + (1 - alpha) level_{t-1}, starting from y_0
        levels = lfilter([alpha], [1.0, alpha - 1.0], y[1:], zi=[(1 - alpha) * y[0]])[0]
        errors = y[1:] - np.concatenate(([y[0]], levels[:-1]))
        sse = float(np.dot(errors, errors))
        if sse < best_sse:
            best_sse = sse
            best = FittedLevel(name, float(levels[-1]), float(alpha), sse / errors.size)
    assert best is not None
    return best


@dataclass(frozen=True)
class FittedAdjusted:
    """A local model of the seasonally adjusted series plus the season, projected forward."""

    name: str
    local: FittedModel
    season_coef: np.ndarray
    n: int
    scale: float
    seasons: tuple[tuple[float, int], ...]

    def project(self, horizon: int) -> Projection:
        h = np.arange(1, horizon + 1, dtype=float)
        season = design_matrix(self.n - 1 + h, self.scale, self.seasons)[:, 2:] @ self.season_coef
        p = self.local.project(horizon)
        return Projection(
            p.mean + season,
            p.lower80 + season,
            p.upper80 + season,
            p.lower95 + season,
            p.upper95 + season,
        )


class SeasonallyAdjustedModel:
    """Season removed (Fourier terms fitted with a linear trend), then a local model of the
    rest: a smoothed level (``adjusted_level``) or an undamped Holt trend (``adjusted_holt``).

    This is the MSTL idea (decompose, forecast the adjusted series, add the season back) with
    Fourier seasons: the level follows the recent data instead of one line through all of it.
    """

    def __init__(self, weekly: bool, yearly: bool, trend: bool) -> None:
        self.inner = SeasonalTrendModel(weekly=weekly, yearly=yearly)
        self.trend = trend
        seasons = "_weekly" * weekly + "_yearly" * yearly
        self.name = ("adjusted_holt" if trend else "adjusted_level") + seasons
        self.min_history = max(self.inner.min_history, 10)

    def fit(self, y: np.ndarray) -> FittedAdjusted:
        from forecasting.ets import EtsModel

        n = y.size
        scale = max(float(n - 1), 1.0)
        x = design_matrix(np.arange(n, dtype=float), scale, self.inner.seasons)
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        adjusted = y - x[:, 2:] @ coef[2:]
        local = EtsModel().fit(adjusted) if self.trend else fit_level(adjusted)
        return FittedAdjusted(self.name, local, coef[2:], n, scale, self.inner.seasons)
