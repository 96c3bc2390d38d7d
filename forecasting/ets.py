"""Holt, damped Holt and weekly-seasonal ETS (statsmodels' state-space ETSModel).

All variants have additive errors, for which statsmodels computes exact (analytic) forecast
variances; the intervals come from those. The series is standardised before fitting: additive
ETS is equivariant under affine maps, and the optimiser behaves better in unit scale.
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
    name: str
    result: Any  # statsmodels ETSResults
    nobs: int
    centre: float
    scale: float

    def project(self, horizon: int) -> Projection:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prediction = self.result.get_prediction(start=self.nobs, end=self.nobs + horizon - 1)
            mean = np.asarray(prediction.predicted_mean, dtype=float)
            variance = np.asarray(prediction.forecast_variance, dtype=float)
        sd = np.sqrt(np.maximum(variance, 0.0)) * self.scale
        return Projection.from_normal(mean * self.scale + self.centre, sd)


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
            model = ETSModel(endog, error="add", trend="add", damped_trend=self.damped,
                             seasonal="add" if self.seasonal_periods else None,
                             seasonal_periods=self.seasonal_periods,
                             initialization_method=init)
            result = model.fit(disp=False)
        return FittedEts(self.name, result, y.size, centre, scale)
