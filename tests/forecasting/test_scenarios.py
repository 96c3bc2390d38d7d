"""The seed scenarios of the capacity issue, through the real pipeline (events -> report)."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from forecasting.config import load_capacity_config
from forecasting.forecast import DAYS_PER_MONTH, forecast_series
from forecasting.recommend import recommend
from forecasting.series import DailySeries
from forecasting.service import build_report

CONFIG = load_capacity_config()


def test_database_growing_5_gb_a_month_projects_80_gb_at_six_months(linear_series) -> None:
    series = linear_series(45, 50, 31, noise=0.05, capacity=100, unit="GB")
    forecast = forecast_series(series, resource="database_size", horizon_days=180)
    assert forecast.status == "ok"
    assert forecast.growth_per_month == pytest.approx(5.0, rel=0.05)
    assert forecast.value_after(180) == pytest.approx(80, abs=1.5)
    low, high = forecast.value_after(180, "lower95"), forecast.value_after(180, "upper95")
    assert low is not None and high is not None and low < 80 < high


@pytest.mark.parametrize(
    ("capacity", "horizon", "tier"),
    [(100, 365, 150), (70, 120, 100), (90, 365, 150)],
    ids=[
        "100 GB moves to the next tier, 150 GB",
        "70 GB moves to the next tier, 100 GB",
        "90 GB skips 100 GB, which the projection would fill within the horizon",
    ],
)
def test_database_recommends_the_next_tier_in_the_month_of_the_80_percent_crossing(
    capacity: float, horizon: int, tier: float, linear_series
) -> None:
    series = linear_series(45, 50, 31, noise=0.05, capacity=capacity, unit="GB")
    forecast = forecast_series(series, resource="database_size", horizon_days=horizon)
    crossing = forecast.crossings[80]
    assert crossing.likely_days is not None
    expected_days = (0.8 * capacity - 50) / (5 / 30)  # the seed grows 5 GB per 30 days
    assert crossing.likely_days == pytest.approx(expected_days, abs=6)
    advice = recommend(forecast, CONFIG.spec_for("database_size"), CONFIG.kinds)
    assert advice.action == "upgrade_tier"
    assert advice.amount == tier
    assert advice.due_in_months == math.floor(crossing.likely_days / DAYS_PER_MONTH)
    assert advice.due_date == crossing.likely_date
    assert advice.message.startswith(
        f"upgrade to the next tier ({tier:g} GB) in {advice.due_in_months} month"
    )


def test_event_store_at_5m_growing_15k_a_day_projects_7_7m_and_stays_under_the_rate_limit() -> None:
    days = 60
    values = 5_000_000 - 15_000 * np.arange(days - 1, -1, -1.0)
    values += np.random.default_rng(4).normal(0, 1500, days)
    series = DailySeries(date(2026, 8, 3), values, "events")
    forecast = forecast_series(series, resource="event_store_size", horizon_days=180)
    assert forecast.value_after(180) == pytest.approx(7_700_000, rel=0.01)
    advice = recommend(forecast, CONFIG.spec_for("event_store_size"), CONFIG.kinds)
    assert advice.action == "none"
    assert "15,0" in advice.message or "14,9" in advice.message


def test_920_of_1000_locations_fire_critical_and_recommend_more_locations(
    now, history_from
) -> None:
    flat = DailySeries(date(2026, 9, 1), np.full(30, 920.0), "locations", 1000.0)
    report = build_report(history_from({"storage_locations": flat}), CONFIG, now)
    resource = report.resources["storage_locations"]
    assert resource.forecast.status == "not_projected"
    assert [(a.name, a.severity) for a in resource.alerts] == [
        ("CapacityUtilizationCritical", "critical")
    ]
    advice = resource.recommendation
    assert advice.action == "add_locations"
    assert advice.amount == math.ceil(920 / 0.70) - 1000  # back to the 70 % target


def test_too_little_history_gives_insufficient_data(linear_series) -> None:
    forecast = forecast_series(linear_series(1, 2, 10, capacity=5))
    assert forecast.status == "insufficient_data"
    assert "insufficient data" in forecast.message and forecast.projection is None


@pytest.mark.parametrize("last", [100.0, 80.0], ids=["flat", "shrinking"])
def test_flat_or_shrinking_series_is_not_projected_to_reach_capacity(
    last: float, linear_series
) -> None:
    series = linear_series(100, last, 60, noise=0.3, capacity=150)
    forecast = forecast_series(series, horizon_days=180)
    assert forecast.status == "not_projected"
    assert forecast.message == "flat or shrinking: not projected to reach capacity"
    assert all(c.likely_days is None for c in forecast.crossings.values())


def test_crossing_dates_count_from_the_last_observed_day(linear_series) -> None:
    series = linear_series(45, 50, 31, capacity=100)
    forecast = forecast_series(series, horizon_days=365)
    crossing = forecast.crossings[90]
    assert crossing.likely_days is not None and crossing.earliest_days is not None
    assert crossing.earliest_days <= crossing.likely_days
    assert crossing.likely_date == series.end + timedelta(days=crossing.likely_days)
    row = forecast.rows()[crossing.likely_days - 1]
    assert row["ds"] == crossing.likely_date.isoformat() and row["yhat"] >= 90
