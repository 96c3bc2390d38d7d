"""Candidate models: intervals that grow with the horizon, ETS closed forms equal statsmodels'."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from forecasting.ets import EtsModel
from forecasting.models import (
    DriftModel,
    NaiveModel,
    candidate_models,
    weekly_seasonality_strength,
)
from forecasting.regression import LinearTrendModel
from forecasting.seasonal import SeasonallyAdjustedModel, SeasonalTrendModel, fit_level

RNG = np.random.default_rng(11)
DAYS = np.arange(200, dtype=float)
TRENDING = 100 + 0.5 * DAYS + np.cumsum(RNG.normal(0, 1, 200))
WEEKLY = TRENDING + 8 * np.where(DAYS % 7 >= 5, -1.0, 0.4)


@pytest.mark.parametrize(
    "model",
    [
        NaiveModel(),
        DriftModel(),
        LinearTrendModel(),
        LinearTrendModel(robust=True),
        EtsModel(),
        EtsModel(damped=True),
        EtsModel(damped=True, seasonal_periods=7),
        EtsModel(seasonal_periods=7),
        SeasonalTrendModel(weekly=True),
        SeasonallyAdjustedModel(weekly=True, yearly=False, trend=False),
        SeasonallyAdjustedModel(weekly=True, yearly=False, trend=True),
    ],
    ids=lambda m: m.name,
)
def test_every_model_gives_nested_intervals_that_widen_with_the_horizon(model) -> None:
    projection = model.fit(WEEKLY if "seasonal" in model.name else TRENDING).project(90)
    assert len(projection) == 90
    assert np.all(projection.lower95 <= projection.lower80)
    assert np.all(projection.lower80 <= projection.mean)
    assert np.all(projection.mean <= projection.upper80)
    assert np.all(projection.upper80 <= projection.upper95)
    width = projection.upper80 - projection.lower80
    assert width[-1] > 2 * width[0]


@pytest.mark.parametrize(
    ("damped", "seasonal"),
    [(False, None), (True, None), (True, 7)],
    ids=["Holt", "damped Holt", "weekly seasonal damped Holt"],
)
def test_ets_closed_form_matches_statsmodels_prediction(damped: bool, seasonal: int | None) -> None:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    model = EtsModel(damped=damped, seasonal_periods=seasonal)
    ours = model.fit(WEEKLY).project(60)
    y = WEEKLY
    centre, scale = y.mean(), y.std()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ETSModel(
            pd.Series((y - centre) / scale),
            error="add",
            trend="add",
            damped_trend=damped,
            seasonal="add" if seasonal else None,
            seasonal_periods=seasonal,
            initialization_method="heuristic",
        ).fit(disp=False)
        frame = result.get_prediction(start=y.size, end=y.size + 59).summary_frame(alpha=0.05)
    np.testing.assert_allclose(ours.mean, frame["mean"] * scale + centre, rtol=1e-9)
    np.testing.assert_allclose(ours.upper95, frame["pi_upper"] * scale + centre, rtol=1e-6)


def test_linear_trend_recovers_slope_and_starts_from_the_last_observation() -> None:
    y = 45 + DAYS[:31] / 6 + np.random.default_rng(2).normal(0, 0.05, 31)
    fitted = LinearTrendModel().fit(y)
    assert fitted.slope == pytest.approx(1 / 6, rel=0.02)
    projection = fitted.project(180)
    assert projection.mean[-1] == pytest.approx(y[-1] + 180 / 6, abs=1.0)


def test_robust_trend_ignores_a_burst_of_outliers_that_drags_least_squares() -> None:
    y = 10 + 0.2 * DAYS[:60] + np.random.default_rng(3).normal(0, 0.1, 60)
    y[50:53] += 40
    plain, robust = LinearTrendModel().fit(y), LinearTrendModel(robust=True).fit(y)
    assert abs(robust.slope - 0.2) < 0.02
    assert abs(plain.slope - 0.2) > 2 * abs(robust.slope - 0.2)


def test_drift_projects_the_average_daily_change() -> None:
    projection = DriftModel().fit(np.array([1.0, 3.0, 4.0, 7.0])).project(3)
    assert projection.mean.tolist() == [9.0, 11.0, 13.0]


def test_weekly_seasonality_is_detected_only_where_present() -> None:
    assert weekly_seasonality_strength(WEEKLY) > 0.5
    assert weekly_seasonality_strength(TRENDING) < 0.3
    names = [m.name for m in candidate_models(WEEKLY)]
    assert {"seasonal_holt", "linear_weekly", "linear"} <= set(names) and "holt" not in names
    assert not {"seasonal_holt", "linear_weekly"} & {m.name for m in candidate_models(TRENDING)}


def test_weekly_fourier_trend_recovers_the_weekly_shape_and_the_slope() -> None:
    projection = SeasonalTrendModel(weekly=True).fit(WEEKLY).project(14)
    days = np.arange(200, 214, dtype=float)
    expected_shape = 8 * np.where(days % 7 >= 5, -1.0, 0.4)
    shape = projection.mean - np.convolve(projection.mean, np.ones(7) / 7, "same")
    np.testing.assert_allclose(shape[3:-3], expected_shape[3:-3] - expected_shape.mean(), atol=1.5)


def test_smoothed_level_weights_recent_days_only_as_much_as_the_noise_allows() -> None:
    rng = np.random.default_rng(13)
    steady = fit_level(50 + rng.normal(0, 1, 300))
    walk = fit_level(50 + np.cumsum(rng.normal(0, 1, 300)))
    assert steady.level == pytest.approx(50, abs=0.6) and steady.alpha <= 0.1
    assert walk.alpha >= 0.7
