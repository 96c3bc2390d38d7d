"""ResourceHistory: per-day last and max in the configured timezone, retention, compact state."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from forecasting.series import DailySeries, ResourceDays, ResourceHistory
from slaengine.errors import ConfigError, InvalidEventError


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


def test_keeps_last_and_max_value_per_day() -> None:
    history = ResourceHistory()
    for hour, value in [(1, 10.0), (5, 30.0), (9, 20.0)]:
        history.observe("database_size", at(1, hour), value, capacity=150, unit="GB")
    history.observe("database_size", at(2, 3), 25.0)
    assert history.series("database_size", "last").values.tolist() == [20.0, 25.0]
    assert history.series("database_size", "max").values.tolist() == [30.0, 25.0]
    series = history.series("database_size")
    assert (series.start, series.unit, series.capacity) == (date(2026, 10, 1), "GB", 150)


def test_a_late_event_does_not_replace_a_later_reading_of_the_same_day() -> None:
    history = ResourceHistory()
    history.observe("r", at(1, 10), 5.0)
    history.observe("r", at(1, 8), 7.0)  # arrives late
    assert history.series("r", "last").values.tolist() == [5.0]
    assert history.series("r", "max").values.tolist() == [7.0]


def test_days_follow_the_configured_timezone() -> None:
    history = ResourceHistory("Europe/Berlin")
    history.observe("r", at(1, 21, 30), 1.0)  # 23:30 in Berlin: still Oct 1
    history.observe("r", at(1, 22, 30), 2.0)  # 00:30 in Berlin: Oct 2
    series = history.series("r", "last")
    assert series.start == date(2026, 10, 1)
    assert series.values.tolist() == [1.0, 2.0]


def test_missing_days_are_gaps_that_filled_interpolates() -> None:
    history = ResourceHistory()
    history.observe("r", at(1, 12), 10.0)
    history.observe("r", at(4, 12), 40.0)
    series = history.series("r")
    assert np.isnan(series.values[1:3]).all()
    assert series.observed_days == 2
    assert series.filled().values.tolist() == [10.0, 20.0, 30.0, 40.0]


def test_retention_keeps_the_newest_three_years() -> None:
    history = ResourceHistory()
    start = datetime(2023, 1, 1, 12, tzinfo=UTC)
    for i in range(1145):
        history.observe("r", start + timedelta(days=i), float(i))
    series = history.series("r")
    assert len(series) == 1095
    assert series.values[0] == 50.0 and series.values[-1] == 1144.0
    history.observe("r", start, -1.0)  # older than the window: ignored
    assert len(history.series("r")) == 1095


def test_state_round_trips_through_json_and_stays_compact() -> None:
    history = ResourceHistory("Europe/Berlin")
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    for i in range(400):
        history.observe(
            "database_size",
            start + timedelta(days=i),
            40 + i / 10,
            capacity=150,
            unit="GB",
            labels={"cluster": "eu"},
        )
    history.observe("database_size", start + timedelta(days=399, hours=-2), 99.0)
    text = json.dumps(history.to_state())
    restored = ResourceHistory.from_state(json.loads(text))
    assert restored.timezone == "Europe/Berlin"
    for aggregate in ("max", "last"):
        np.testing.assert_array_equal(
            restored.series("database_size", aggregate).values,
            history.series("database_size", aggregate).values,
        )
    assert restored.days("database_size").labels == {"cluster": "eu"}
    assert len(text) < 12_000  # ~400 days x 2 numbers; max is stored only where it differs


def test_per_resource_state_can_live_in_a_table_keyed_by_resource() -> None:
    days = ResourceDays()
    days.observe(date(2026, 10, 1).toordinal(), 0.0, 3.0, capacity=10)
    table = {"r": ResourceDays.from_state(json.loads(json.dumps(days.to_state())))}
    history = ResourceHistory.from_resource_days(table)
    assert list(history) == ["r"]
    assert history.series("r").capacity == 10


@pytest.mark.parametrize(
    ("value", "capacity"),
    [(float("nan"), None), (float("inf"), None), (1.0, 0.0), (1.0, -5.0)],
    ids=["a NaN value", "an infinite value", "a zero capacity", "a negative capacity"],
)
def test_rejects_values_that_would_poison_the_state(value: float, capacity: float | None) -> None:
    with pytest.raises(InvalidEventError):
        ResourceHistory().observe("r", at(1, 1), value, capacity=capacity)


def test_unknown_timezone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="timezone"):
        ResourceHistory("Mars/Olympus")


def test_empty_series_filled_is_empty() -> None:
    series = DailySeries(date(2026, 1, 1), np.array([np.nan, np.nan]))
    assert len(series.filled()) == 0
