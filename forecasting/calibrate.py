"""Interval calibration from the selection backtest (a split-conformal style width factor).

Model-based intervals assume the model is right; on real series (trend breaks, holidays) they
are often too narrow at long horizons, or too wide when outliers inflate the residual scale.
The backtest already holds out-of-sample errors of the chosen model at the forecast's own
horizons: the factor that makes 80 % of its standardized errors fall inside the 80 % interval
rescales that interval, and likewise 95 % for the 95 % interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forecasting.models import Z80, Z95, FittedModel, Projection

MIN_FACTOR, MAX_FACTOR = 1.0, 6.0  # a few origins are noisy: never trust them blindly
MIN_POINTS = 10
Z_OF_LEVEL = {0.8: Z80, 0.95: Z95}


def width_factor(standardized_errors: Sequence[np.ndarray], level: float = 0.8) -> float:
    """Factor that puts ``level`` of the standardized errors inside the ``level`` interval.

    1.0 when there is too little evidence. This is split-conformal calibration on the
    normalised scores |actual - mean| / sd, with the backtest as the calibration set.
    """
    errors = np.concatenate(list(standardized_errors)) if standardized_errors else np.empty(0)
    errors = errors[np.isfinite(errors)]
    if errors.size < MIN_POINTS:
        return 1.0
    factor = float(np.quantile(np.abs(errors), level)) / Z_OF_LEVEL[level]
    return float(np.clip(factor, MIN_FACTOR, MAX_FACTOR))


@dataclass(frozen=True)
class WidthCalibration:
    """Factors for the 80 % and 95 % bands, separately for the near and the far horizon.

    Misspecification (a trend that bends, a level shift) hurts long horizons more than short
    ones, so one pooled factor leaves the far end too narrow; and real errors have heavier
    tails than the normal, so the 95 % band needs its own factor. Each factor moves linearly
    from its near value (up to half the backtest horizon) to its far value (at its end) and
    stays there beyond it.
    """

    short: float = 1.0
    long: float = 1.0
    backtest_horizon: int = 1
    short95: float = 1.0
    long95: float = 1.0

    @classmethod
    def from_errors(
        cls, per_origin: Sequence[np.ndarray], backtest_horizon: int
    ) -> WidthCalibration:
        half = max(1, backtest_horizon // 2)
        short = [e[:half] for e in per_origin]
        long = [e[half:] for e in per_origin]
        long_enough = sum(e.size for e in long) >= MIN_POINTS

        def near_far(level: float) -> tuple[float, float]:
            pooled = width_factor(per_origin, level)
            return (
                width_factor(short, level),
                width_factor(long, level) if long_enough else pooled,
            )

        (short80, long80), (short95, long95) = near_far(0.8), near_far(0.95)
        # Tails are at least as heavy as the normal's: the 95 % band, estimated from fewer
        # points, is widened at least as much as the 80 % band.
        return cls(short80, long80, backtest_horizon, max(short95, short80), max(long95, long80))

    def _ramp(self, horizon: int, near: float, far: float) -> np.ndarray:
        h = np.arange(1, horizon + 1, dtype=float)
        half = max(1.0, self.backtest_horizon / 2)
        share = np.clip((h - half) / max(self.backtest_horizon - half, 1.0), 0.0, 1.0)
        return near + share * (far - near)

    def factors(self, horizon: int) -> np.ndarray:
        return self._ramp(horizon, self.short, self.long)

    def factors95(self, horizon: int) -> np.ndarray:
        return self._ramp(horizon, self.short95, self.long95)


def widen(
    projection: Projection, factor: np.ndarray | float, factor95: np.ndarray | float | None = None
) -> Projection:
    """Scale the half-widths; the 95 % band never ends up inside the 80 % band."""
    m = projection.mean
    f95 = factor if factor95 is None else factor95
    lower80, upper80 = m + factor * (projection.lower80 - m), m + factor * (projection.upper80 - m)
    lower95 = np.minimum(m + f95 * (projection.lower95 - m), lower80)
    upper95 = np.maximum(m + f95 * (projection.upper95 - m), upper80)
    return Projection(m, lower80, upper80, lower95, upper95)


@dataclass(frozen=True)
class CalibratedModel:
    fitted: FittedModel
    calibration: WidthCalibration

    @property
    def name(self) -> str:
        return self.fitted.name

    def project(self, horizon: int) -> Projection:
        return widen(
            self.fitted.project(horizon),
            self.calibration.factors(horizon),
            self.calibration.factors95(horizon),
        )
