"""Step changes: a purge, a migration or a re-sized volume moves the level in one go.

A model fitted across such a step learns a trend that is not there (a purge halfway through
the history flattens the slope). ``last_step_change`` finds the last persistent level shift so
the forecaster can fit on the days after it.

Detection compares the median of the ``window`` days after each day with the median of the
``window`` days before it, minus the usual change over ``window`` days (the trend). Two-week
windows cancel the weekly pattern and let a holiday or a single outlier day pass; a step must
also persist over the next window, and be large against both the usual day-to-day noise and
the range of the series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW = 14
MIN_JUMP_NOISE = 8.0  # jump / robust sd of the 14-day changes
MIN_JUMP_RANGE = 0.15  # jump / (95th - 5th percentile of the series)
MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class StepChange:
    index: int  # first day after the step (0-based)
    jump: float  # level after minus level before, net of the trend


def last_step_change(y: np.ndarray, window: int = WINDOW) -> StepChange | None:
    n = y.size
    if n < 3 * window:
        return None
    changes = y[window:] - y[:-window]
    usual = float(np.median(changes))
    noise = MAD_TO_SD * float(np.median(np.abs(changes - usual)))
    spread = float(np.percentile(y, 95) - np.percentile(y, 5))
    threshold = max(MIN_JUMP_NOISE * noise, MIN_JUMP_RANGE * spread)
    if threshold <= 0.0:
        return None
    medians = np.array([np.median(y[i : i + window]) for i in range(n - window + 1)])
    # jumps[k] is the shift at day i = k + window: medians after i minus medians before i.
    jumps = medians[window:] - medians[:-window] - usual
    big = np.flatnonzero(np.abs(jumps) > threshold)
    if big.size == 0:
        return None
    # The last run of consecutive big shifts is one step seen through sliding windows.
    runs = np.split(big, np.flatnonzero(np.diff(big) > 1) + 1)
    for run in reversed(runs):
        k = int(run[np.argmax(np.abs(jumps[run]))])
        index, jump = k + window, float(jumps[k])
        later = index + window  # the level must hold over the next window too
        if later + window <= n:
            held = float(np.median(y[later : later + window]) - medians[k] - 2 * usual)
            if held * jump <= 0 or abs(held) < 0.5 * abs(jump):
                continue
        return StepChange(index, jump)
    return None
