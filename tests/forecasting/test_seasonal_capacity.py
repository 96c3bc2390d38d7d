"""Issue 15 acceptance: seasonal series, horizon-matched backtests, step changes, bounds."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from forecasting.calibrate import WidthCalibration, width_factor
from forecasting.changes import last_step_change
from forecasting.config import load_capacity_config
from forecasting.forecast import forecast_series
from forecasting.models import Z80
from forecasting.regression import LinearTrendModel
from forecasting.select import select_model
from forecasting.series import DailySeries
from forecasting.service import build_report

START = date(2024, 1, 1)
HORIZON = 180


def weekly_truth(t: np.ndarray) -> np.ndarray:
    return 100 + 2 * t + 20 * np.sin(2 * np.pi * t / 7)


@pytest.mark.parametrize("noise", [0.0, 4.0], ids=["exact", "noisy"])
def test_weekly_seasonal_series_projects_80_percent_within_10_days_of_the_truth(
    noise: float,
) -> None:
    t = np.arange(60, dtype=float)
    y = weekly_truth(t) + np.random.default_rng(5).normal(0, noise, t.size)
    forecast = forecast_series(DailySeries(START, y, "GB", 500.0), horizon_days=HORIZON)
    future = weekly_truth(np.arange(60, 60 + HORIZON, dtype=float))
    truth_days = int(np.flatnonzero(future >= 400)[0]) + 1  # 80 % of 500
    likely = forecast.likely_days_to(80)
    assert forecast.status == "ok" and likely is not None
    assert abs(likely - truth_days) <= 10, (forecast.model, likely, truth_days)


def yearly_process(days: int, seed: int) -> np.ndarray:
    """Three years of a resource with growth, a yearly high season, a weekly cycle, noise."""
    t = np.arange(days, dtype=float)
    rng = np.random.default_rng(seed)
    return (
        500
        + 0.3 * t
        + 80 * np.sin(2 * np.pi * t / 365.25)
        + 20 * np.where(t % 7 >= 5, -1.0, 0.4)
        + rng.normal(0, 8, days)
    )


@pytest.mark.parametrize("seed", [3, 4])
def test_yearly_seasonal_series_keeps_the_truth_inside_its_95_band(seed: int) -> None:
    history_days = 3 * 365
    full = yearly_process(history_days + HORIZON, seed)
    forecast = forecast_series(
        DailySeries(START, full[:history_days], "GB", 5000.0), horizon_days=HORIZON
    )
    p, truth = forecast.projection, full[history_days:]
    assert p is not None
    inside95 = np.mean((truth >= p.lower95) & (truth <= p.upper95))
    assert inside95 >= 0.9, (forecast.model, inside95)
    # ... and the band is informative: the mean follows the season (noise sd is 8).
    assert np.mean(np.abs(p.mean - truth)) < 20, forecast.model
    assert "yearly" in (forecast.model or "")


def test_a_step_change_is_detected_and_the_model_fitted_after_it() -> None:
    rng = np.random.default_rng(6)
    t = np.arange(150, dtype=float)
    y = np.where(t < 100, 100 + t, 60 + t) + rng.normal(0, 1, t.size)  # purge of 40 on day 100
    forecast = forecast_series(DailySeries(START, y, "GB", 1000.0), horizon_days=HORIZON)
    step_day = START + timedelta(days=100)
    assert forecast.step_change == step_day and forecast.fitted_from == step_day
    assert forecast.step_jump == pytest.approx(-40, abs=4)
    assert forecast.growth_per_month == pytest.approx(30.44, rel=0.1)  # 1 per day after it
    assert forecast.value_after(1) == pytest.approx(60 + 150, abs=4)
    assert forecast.to_json()["step_change"] == {
        "date": step_day.isoformat(),
        "jump": pytest.approx(-40, abs=4),
    }
    assert "fitted after the step change on 2024-04-10" in forecast.message


@pytest.mark.parametrize(
    "y",
    [
        100 + 0.5 * np.arange(200) + np.random.default_rng(7).normal(0, 3, 200),
        weekly_truth(np.arange(200, dtype=float)),
        500
        + 80 * np.sin(2 * np.pi * np.arange(400) / 365.25)
        + np.random.default_rng(8).normal(0, 5, 400),
    ],
    ids=["noisy line", "weekly cycle", "yearly cycle"],
)
def test_no_step_change_is_seen_in_trends_and_seasons(y: np.ndarray) -> None:
    assert last_step_change(y) is None


def bounded_locations() -> DailySeries:
    t = np.arange(90, dtype=float)
    used = np.minimum(700 + 3 * t + np.random.default_rng(9).normal(0, 5, t.size), 1000.0)
    return DailySeries(START, used, "locations", 1000.0)


def test_a_bounded_series_never_forecasts_above_its_capacity() -> None:
    series = bounded_locations()
    free = forecast_series(series, horizon_days=HORIZON)
    assert free.projection is not None and free.projection.upper95.max() > 1000  # would exceed
    bounded = forecast_series(series, horizon_days=HORIZON, bounded=True)
    p = bounded.projection
    assert p is not None and bounded.bounded and bounded.reference is not None
    for band in (p.mean, p.lower80, p.upper80, p.lower95, p.upper95, bounded.reference):
        assert band.max() <= 1000.0
    assert bounded.likely_days_to(100) is not None  # saturating at capacity still reaches it


def test_storage_locations_are_bounded_by_default_in_the_service(history_from, now) -> None:
    report = build_report(
        history_from({"storage_locations": bounded_locations()}), load_capacity_config(), now
    )
    forecast = report.resources["storage_locations"].forecast
    assert forecast.bounded and forecast.projection is not None
    assert forecast.projection.upper95.max() <= 1000.0


def test_the_plain_linear_regression_is_always_the_reference_line() -> None:
    t = np.arange(60, dtype=float)
    y = weekly_truth(t)
    forecast = forecast_series(DailySeries(START, y, "GB", 500.0), horizon_days=HORIZON)
    assert forecast.model != "linear"
    expected = LinearTrendModel().fit(y).project(HORIZON).mean
    rows = forecast.rows()
    assert [row["linear"] for row in rows] == pytest.approx(expected, abs=1e-3)
    assert forecast.to_json()["reference_model"] == "linear"


def test_flat_weekly_load_is_not_projected() -> None:
    t = np.arange(120, dtype=float)
    y = 60 + 15 * np.where(t % 7 >= 5, -1.0, 0.4) + np.random.default_rng(10).normal(0, 1, 120)
    forecast = forecast_series(DailySeries(START, y, "%", 100.0), horizon_days=HORIZON)
    assert forecast.status == "not_projected", forecast.model


def test_models_are_selected_by_backtests_as_long_as_the_forecast_horizon() -> None:
    y = 100 + 0.5 * np.arange(400) + np.random.default_rng(11).normal(0, 2, 400)
    for horizon in (30, 90, 180):
        selection = select_model(y, horizon)
        assert selection.score is not None and selection.score.horizon == horizon
        assert selection.score.origins >= 2


def test_the_95_band_is_calibrated_separately_for_heavy_tailed_errors() -> None:
    errors = [np.random.default_rng(12).standard_t(3, 4000)]
    assert width_factor(errors, 0.95) > 1.2 * width_factor(errors, 0.8)


def test_the_95_band_is_never_widened_less_than_the_80_band() -> None:
    light_tails = [np.random.default_rng(14).uniform(-3, 3, 400) for _ in range(3)]
    calibration = WidthCalibration.from_errors(light_tails, 400)
    assert calibration.short == pytest.approx(2.4 / Z80, rel=0.1)
    assert np.all(calibration.factors95(400) >= calibration.factors(400))
    assert width_factor(light_tails, 0.95) < calibration.short  # what it would be alone


def test_with_two_purges_the_model_is_fitted_after_the_last_one() -> None:
    rng = np.random.default_rng(15)
    t = np.arange(170, dtype=float)
    y = 100 + t - 40 * (t >= 60) - 50 * (t >= 120) + rng.normal(0, 1, t.size)
    forecast = forecast_series(DailySeries(START, y, "GB", 1000.0), horizon_days=HORIZON)
    assert forecast.fitted_from == START + timedelta(days=120)
    assert forecast.growth_per_month == pytest.approx(30.44, rel=0.1)
