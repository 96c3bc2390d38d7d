"""Recommendations per kind from the validated YAML config."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from forecasting.config import load_capacity_config
from forecasting.forecast import forecast_series
from forecasting.recommend import recommend
from forecasting.series import DailySeries
from slaengine.errors import ConfigError

CONFIG = load_capacity_config()


def test_packaged_config_maps_resource_names_to_kinds_and_gauges() -> None:
    assert CONFIG.spec_for("database_size").gauge == "capacity_database_size_gb"
    assert CONFIG.spec_for("event_count").kind == "event_store"
    assert CONFIG.spec_for("storage_locations").gauge_value == "utilization_percent"
    assert CONFIG.spec_for("something_else").kind == "generic"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("kinds:\n  database:\n    tiers_gb: [100, 50]\n", ":3: kinds.database.tiers_gb"),
        ("resources:\n  db:\n    kind: databse\n", ":3: resources.db.kind"),
        ("alerts:\n  critical_percnt: 95\n", ":2: alerts.critical_percnt"),
        ("horizon_days: 3\n", ":1: horizon_days"),
    ],
    ids=["descending tiers", "a misspelt kind", "an unknown key", "a too short horizon"],
)
def test_bad_config_names_file_line_and_field(tmp_path, text: str, where: str) -> None:
    path = tmp_path / "capacity.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_capacity_config(path)
    assert str(err.value).startswith(f"{path}{where}:")


def cpu_forecast(values: list[float]):
    series = DailySeries(date(2026, 9, 1), np.array(values), "%", 100.0)
    return forecast_series(series, resource="api_cpu")


def test_api_instances_added_when_cpu_stays_above_70_percent() -> None:
    values = [50.0] * 20 + [82.0, 85.0, 88.0]
    advice = recommend(
        cpu_forecast(values),
        CONFIG.spec_for("api_cpu"),
        CONFIG.kinds,
        recent_values=values,
        labels={"instances": "4"},
    )
    # mean 85 % on 4 instances -> ceil(4 * 85 / 60) = 6 instances for the 60 % target
    assert (advice.action, advice.amount) == ("add_instances", 2)
    assert "stayed above 70 % for 3 days" in advice.message


def test_a_single_cpu_spike_is_not_sustained() -> None:
    values = [50.0] * 21 + [95.0, 50.0]
    advice = recommend(
        cpu_forecast(values),
        CONFIG.spec_for("api_cpu"),
        CONFIG.kinds,
        recent_values=values,
        labels={"instances": "4"},
    )
    assert advice.action != "add_instances"


def test_event_store_growing_over_a_million_a_day_is_warned() -> None:
    values = 50e6 + 1.5e6 * np.arange(30)
    forecast = forecast_series(
        DailySeries(date(2026, 9, 1), values, "events"), resource="event_count"
    )
    advice = recommend(forecast, CONFIG.spec_for("event_count"), CONFIG.kinds)
    assert advice.action == "reduce_event_rate"
    assert advice.amount == pytest.approx(1.5e6, rel=0.02)


def test_storage_locations_projected_over_85_percent_get_more_locations_before_it() -> None:
    values = 700 + 3.0 * np.arange(40)  # 817 now, +3 a day: 85 % of 1000 in ~11 days
    forecast = forecast_series(
        DailySeries(date(2026, 9, 1), values, "", 1000.0), resource="storage_locations"
    )
    advice = recommend(forecast, CONFIG.spec_for("storage_locations"), CONFIG.kinds)
    assert advice.action == "add_locations"
    peak = 817 + 3 * 90  # the 90-day lookahead
    assert advice.amount == pytest.approx(np.ceil(peak / 0.7) - 1000, abs=8)
    assert advice.due_date is not None and advice.due_date < date(2026, 10, 25)


def test_insufficient_history_waits_for_data() -> None:
    forecast = forecast_series(DailySeries(date(2026, 9, 1), np.arange(5.0), "GB", 100.0))
    advice = recommend(forecast, CONFIG.spec_for("database_size"), CONFIG.kinds)
    assert advice.action == "wait_for_data"
