"""Interval calibration from the selection backtest (a split-conformal style width factor).

Model-based intervals assume the model is right; on real series (trend breaks, holidays) they
are often too narrow at long horizons, or too wide when outliers inflate the residual scale.
The backtest already holds out-of-sample errors of the chosen model: the factor that makes 80 %
of its standardized errors fall inside the 80 % interval rescales both intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forecasting.models import Z80, FittedModel, Projection

MIN_FACTOR, MAX_FACTOR = 0.7, 4.0  # a few origins are noisy: never trust them blindly
MIN_POINTS = 10


def width_factor(standardized_errors: Sequence[np.ndarray]) -> float:
    """Factor for the interval half-widths; 1.0 when there is too little evidence."""
    errors = np.concatenate(list(standardized_errors)) if standardized_errors else np.empty(0)
    errors = errors[np.isfinite(errors)]
    if errors.size < MIN_POINTS:
        return 1.0
    factor = float(np.quantile(np.abs(errors), 0.8)) / Z80
    return float(np.clip(factor, MIN_FACTOR, MAX_FACTOR))


@dataclass(frozen=True)
class WidthCalibration:
    """Separate factors for the first and second half of the backtest horizon.

    Misspecification (a trend that bends, a level shift) hurts long horizons more than short
    ones, so one pooled factor leaves the far end too narrow. The factor moves linearly from
    ``short`` (up to half the backtest horizon) to ``long`` (at its end) and stays there.
    """

    short: float = 1.0
    long: float = 1.0
    backtest_horizon: int = 1

    @classmethod
    def from_errors(cls, per_origin: Sequence[np.ndarray], backtest_horizon: int
                    ) -> WidthCalibration:
        half = max(1, backtest_horizon // 2)
        short = [e[:half] for e in per_origin]
        long = [e[half:] for e in per_origin]
        pooled = width_factor(per_origin)
        long_factor = width_factor(long) if sum(e.size for e in long) >= MIN_POINTS else pooled
        return cls(width_factor(short), long_factor, backtest_horizon)

    def factors(self, horizon: int) -> np.ndarray:
        h = np.arange(1, horizon + 1, dtype=float)
        half = max(1.0, self.backtest_horizon / 2)
        share = np.clip((h - half) / max(self.backtest_horizon - half, 1.0), 0.0, 1.0)
        return self.short + share * (self.long - self.short)


def widen(projection: Projection, factor: np.ndarray | float) -> Projection:
    m = projection.mean
    return Projection(m, m + factor * (projection.lower80 - m), m + factor * (projection.upper80 - m),
                      m + factor * (projection.lower95 - m), m + factor * (projection.upper95 - m))


@dataclass(frozen=True)
class CalibratedModel:
    fitted: FittedModel
    calibration: WidthCalibration

    @property
    def name(self) -> str:
        return self.fitted.name

    def project(self, horizon: int) -> Projection:
        return widen(self.fitted.project(horizon), self.calibration.factors(horizon))
