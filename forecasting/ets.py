"""Holt, damped Holt and weekly-seasonal ETS (statsmodels' state-space ETSModel).

All variants have additive errors, whose forecast variances have closed forms; the intervals
come from those (the same values as statsmodels' analytic prediction intervals). The series
is standardised before fitting: additive ETS is equivariant under affine maps, and the
optimiser behaves better in unit scale.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecasting.models import Projection

HEURISTIC_MIN_CYCLES = 4  # below this the heuristic seasonal start is unreliable


@dataclass(frozen=True)
class FittedEts:
    """Final states and parameters; projections use the closed forms (Hyndman et al., 6.1).

    For additive-error ETS the h-step mean is ``l + phi_h b + s`` and the variance is
    ``sigma^2 (1 + sum_{j<h} c_j^2)`` with ``c_j = alpha + beta phi_j + gamma [j mod m = 0]``,
    which is what statsmodels' get_prediction computes, without its simulation overhead.
    """

    name: str
    level: float
    trend: float
    season: np.ndarray  # the last m seasonal states, oldest first (empty when non-seasonal)
    alpha: float
    beta: float
    gamma: float
    phi: float
    sigma2: float
    centre: float
    scale: float

    def project(self, horizon: int) -> Projection:
        h = np.arange(1, horizon + 1)
        phi_h = np.cumsum(self.phi ** h.astype(float))
        mean = self.level + phi_h * self.trend
        m = self.season.size
        if m:
            mean = mean + self.season[(h - 1) % m]
        j = h[:-1]
        c = self.alpha + self.beta * phi_h[:-1]
        if m:
            c = c + self.gamma * (j % m == 0)
        variance = self.sigma2 * (1 + np.concatenate(([0.0], np.cumsum(c**2))))
        return Projection.from_normal(
            mean * self.scale + self.centre, np.sqrt(variance) * self.scale
        )


class EtsModel:
    """ETS(A,A,N), ETS(A,Ad,N) or ETS(A,Ad,A) with a weekly season."""

    def __init__(self, damped: bool = False, seasonal_periods: int | None = None) -> None:
        self.damped = damped
        self.seasonal_periods = seasonal_periods
        if seasonal_periods:
            self.name = "seasonal_damped_holt" if damped else "seasonal_holt"
            self.min_history = 2 * seasonal_periods + 1
        else:
            self.name = "damped_holt" if damped else "holt"
            self.min_history = 10

    def fit(self, y: np.ndarray) -> FittedEts:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        centre, scale = float(y.mean()), float(y.std()) or 1.0
        endog = pd.Series((y - centre) / scale)
        cycles = y.size // self.seasonal_periods if self.seasonal_periods else HEURISTIC_MIN_CYCLES
        # The heuristic start needs no optimisation of initial states: several times faster.
        init = "heuristic" if y.size >= 10 and cycles >= HEURISTIC_MIN_CYCLES else "estimated"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter; the backtest judges the fit
            model = ETSModel(
                endog,
                error="add",
                trend="add",
                damped_trend=self.damped,
                seasonal="add" if self.seasonal_periods else None,
                seasonal_periods=self.seasonal_periods,
                initialization_method=init,
            )
            result = model.fit(disp=False)
        return fitted_from_result(self.name, result, self.seasonal_periods or 0, centre, scale)


def fitted_from_result(name: str, result: Any, m: int, centre: float, scale: float) -> FittedEts:
    states = np.asarray(result.states, dtype=float)  # row t: the states after observation t
    return FittedEts(
        name=name,
        level=float(states[-1, 0]),
        trend=float(states[-1, 1]),
        season=states[-m:, 2].copy() if m else np.empty(0),
        alpha=float(result.smoothing_level),
        beta=float(result.smoothing_trend),
        gamma=float(result.smoothing_seasonal) if m else 0.0,
        phi=float(result.damping_trend) if result.damped_trend else 1.0,
        sigma2=float(result.mse),
        centre=centre,
        scale=scale,
    )
