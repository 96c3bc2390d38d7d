"""Capacity alert rules: a forecast in, the alerts that hold now out (slaengine.alerts.Alert).

Current utilization above the warning / critical threshold fires one alert (the most severe);
a forecast that reaches the projected threshold within N days fires a warning unless the
resource is already above it. The evaluator (slaengine.evaluator.transitions) turns two
evaluations into firing/resolved transitions.
"""

from __future__ import annotations

import re
from datetime import datetime

from forecasting.config import AlertThresholds
from forecasting.forecast import CapacityForecast, first_day_at_or_above
from slaengine.alerts import Alert

CRITICAL = "CapacityUtilizationCritical"
WARNING = "CapacityUtilizationWarning"
PROJECTED = "CapacityProjectedExhaustion"
GENERATOR = "slaengine-capacity"


def runbook_anchor(alertname: str) -> str:
    """CapacityUtilizationCritical -> capacity-utilization-critical."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", alertname).lower()


def make_alert(
    name: str,
    severity: str,
    forecast: CapacityForecast,
    value: float,
    summary: str,
    description: str,
    now: datetime,
    thresholds: AlertThresholds,
) -> Alert:
    return Alert(
        labels={"alertname": name, "severity": severity, "resource": forecast.resource},
        status="firing",
        starts_at=now,
        value=round(value, 4),
        generator=GENERATOR,
        annotations={
            "summary": summary,
            "description": description,
            "runbook_url": f"{thresholds.runbook_base}#{runbook_anchor(name)}",
        },
    )


def capacity_alerts(
    forecast: CapacityForecast, thresholds: AlertThresholds, now: datetime
) -> list[Alert]:
    utilization = forecast.utilization_percent
    if utilization is None or forecast.capacity is None:
        return []
    name, capacity = forecast.resource, forecast.capacity
    used = f"{forecast.current:g} of {capacity:g} {forecast.unit}".rstrip()
    alerts = []
    if utilization > thresholds.critical_percent:
        alerts.append(
            make_alert(
                CRITICAL,
                "critical",
                forecast,
                utilization,
                f"{name} is {utilization:.0f} % full (> {thresholds.critical_percent:g} %)",
                f"{used} used; add capacity now.",
                now,
                thresholds,
            )
        )
    elif utilization > thresholds.warning_percent:
        alerts.append(
            make_alert(
                WARNING,
                "warning",
                forecast,
                utilization,
                f"{name} is {utilization:.0f} % full (> {thresholds.warning_percent:g} %)",
                f"{used} used; plan more capacity.",
                now,
                thresholds,
            )
        )
    level = capacity * thresholds.projected_percent / 100
    if (
        utilization <= thresholds.projected_percent
        and forecast.status == "ok"
        and forecast.projection is not None
    ):
        window = forecast.projection.mean[: thresholds.projected_within_days]
        days = first_day_at_or_above(window, level)
        if days is not None:
            alerts.append(
                make_alert(
                    PROJECTED,
                    "warning",
                    forecast,
                    float(window[days - 1]) / capacity * 100,
                    f"{name} is projected to exceed {thresholds.projected_percent:g} % within "
                    f"{thresholds.projected_within_days} days",
                    f"{used} used now; the {forecast.model} forecast reaches "
                    f"{thresholds.projected_percent:g} % in {days} days.",
                    now,
                    thresholds,
                )
            )
    return alerts
