"""Capacity alerts as Alert objects, and their firing/resolved transitions."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from forecasting.capacity_alerts import capacity_alerts, runbook_anchor
from forecasting.config import AlertThresholds
from forecasting.forecast import forecast_series
from forecasting.series import DailySeries
from slaengine.alerts import Alert
from slaengine.evaluator.transitions import transitions

THRESHOLDS = AlertThresholds()


def alerts_for(values: np.ndarray, capacity: float, now) -> list[Alert]:
    forecast = forecast_series(
        DailySeries(date(2026, 9, 1), values, "GB", capacity), resource="database_size"
    )
    return capacity_alerts(forecast, THRESHOLDS, now)


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (50.0, []),
        (85.0, [("CapacityUtilizationWarning", "warning")]),
        (95.0, [("CapacityUtilizationCritical", "critical")]),
    ],
    ids=["50 % is quiet", "85 % warns", "95 % is critical (and only critical)"],
)
def test_current_utilization_alerts(level: float, expected, now) -> None:
    alerts = alerts_for(np.full(30, level), 100.0, now)
    assert [(a.name, a.severity) for a in alerts] == expected


def test_projected_to_exceed_90_percent_within_30_days_warns(now) -> None:
    values = 60 + 1.0 * np.arange(20)  # 79 % now, +1 % a day
    alerts = alerts_for(values, 100.0, now)
    assert [a.name for a in alerts] == ["CapacityProjectedExhaustion"]
    alert = alerts[0]
    assert alert.labels == {
        "alertname": "CapacityProjectedExhaustion",
        "severity": "warning",
        "resource": "database_size",
    }
    assert alert.status == "firing" and alert.starts_at == now
    assert alert.annotations["runbook_url"] == "docs/operations.md#capacity-projected-exhaustion"
    assert "within 30 days" in alert.annotations["summary"]
    assert Alert.from_json(alert.to_json()) == alert


def test_slow_growth_beyond_30_days_does_not_warn(now) -> None:
    assert alerts_for(60 + 0.1 * np.arange(20), 100.0, now) == []


@pytest.mark.parametrize(
    ("name", "anchor"),
    [
        ("CapacityUtilizationCritical", "capacity-utilization-critical"),
        ("CapacityProjectedExhaustion", "capacity-projected-exhaustion"),
    ],
)
def test_runbook_anchor(name: str, anchor: str) -> None:
    assert runbook_anchor(name) == anchor


def test_transitions_publish_new_and_resolved_alerts_once(now) -> None:
    firing = alerts_for(np.full(30, 95.0), 100.0, now)
    active, publish = transitions({}, firing, now)
    assert [a.status for a in publish] == ["firing"]
    later = now + timedelta(hours=1)
    again = alerts_for(np.full(30, 95.0), 100.0, later)
    active, publish = transitions(active, again, later)
    assert publish == [] and next(iter(active.values())).starts_at == now
    active, publish = transitions(active, [], later)
    assert active == {}
    assert [(a.status, a.ends_at) for a in publish] == [("resolved", later)]
