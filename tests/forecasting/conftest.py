"""Shared builders for the forecasting tests (as fixtures: --import-mode=importlib)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import numpy as np
import pytest

from forecasting.series import DailySeries, ResourceHistory

START = date(2026, 9, 1)
NOW = datetime(2026, 10, 2, 6, 0, tzinfo=UTC)


def make_linear_series(
    first: float,
    last: float,
    days: int,
    noise: float = 0.0,
    seed: int = 1,
    capacity: float | None = None,
    unit: str = "",
) -> DailySeries:
    """``days`` daily values from ``first`` to ``last`` with small seeded Gaussian noise."""
    rng = np.random.default_rng(seed)
    values = np.linspace(first, last, days) + rng.normal(0.0, noise, days)
    return DailySeries(START, values, unit, capacity)


def make_history(series: dict[str, DailySeries], hour: int = 12) -> ResourceHistory:
    """Feed daily values through the real event path (ResourceHistory.observe)."""
    history = ResourceHistory()
    for name, one in series.items():
        for day, value in zip(one.dates(), one.values, strict=True):
            ts = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
            history.observe(name, ts, float(value), capacity=one.capacity, unit=one.unit)
    return history


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def linear_series() -> Callable[..., DailySeries]:
    return make_linear_series


@pytest.fixture
def history_from() -> Callable[..., ResourceHistory]:
    return make_history
