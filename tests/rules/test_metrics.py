from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from slaengine.evaluator.metrics import AlertStateCollector
from slaengine.evaluator.rules import AlertEvaluator
from slaengine.rules.alertspec import AlertRuleSet
from slaengine.rules.fromconfig import slo_definition
from slaengine.rules.timeline import TimelineSliSource, build_timeline
from slaengine.rules.windows import WindowsCatalog

START = datetime(2026, 3, 2, tzinfo=UTC)


class Spec:
    name, service, sli, target, window = "api", "api", "availability", 99.0, "30d"
    description, labels, alerting = "", None, None


def test_collector_reads_alert_states_at_scrape_time() -> None:
    slo = slo_definition(Spec(), WindowsCatalog.builtin().for_period(timedelta(days=30)))
    rules = AlertRuleSet.model_validate(
        {
            "threshold_rules": [
                {
                    "alert": "CapacityUtilizationHigh",
                    "metric": "capacity_location_utilization_percent",
                    "op": ">",
                    "threshold": 80,
                    "for": "10m",
                    "severity": "warning",
                    "summary": "full",
                }
            ]
        }
    )
    evaluator = AlertEvaluator([slo], rules)
    registry = CollectorRegistry()
    registry.register(AlertStateCollector(evaluator))
    assert (
        registry.get_sample_value(
            "slaengine_alerts",
            {
                "alertname": "CapacityUtilizationHigh",
                "severity": "warning",
                "slo": "",
                "alertstate": "pending",
            },
        )
        is None
    )

    # 100 minutes, 2 % errors: burn rate 2 against a 1 % budget; remaining 1 - 2 = -1
    timeline = build_timeline(START, [(100, 98, 100)])
    source = TimelineSliSource(
        {"api": timeline}, {"capacity_location_utilization_percent": [({"location": "ams"}, 85.0)]}
    )
    evaluator.evaluate(source, timeline[-1].at)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    # burn rates and budgets are exported by slaengine.metrics.SliCollector, not here
    assert value("slaengine_slo_burn_rate", slo="api", service="api", window="5m") is None
    [five_minutes] = [s for s in evaluator.budget_samples() if s.window == "5m"]
    assert five_minutes.burn_rate == pytest.approx(2.0)
    assert (
        value(
            "slaengine_alerts",
            alertname="CapacityUtilizationHigh",
            severity="warning",
            slo="",
            service="",
            resource="",
            window="",
            alertstate="pending",
        )
        == 1.0
    )
    assert (
        value(
            "slaengine_alerts",
            alertname="SloErrorBudgetBurn",
            severity="warning",
            slo="api",
            service="api",
            resource="",
            window="",
            alertstate="firing",
        )
        == 1.0
    )  # 2x burn over 6 h/3 d: a ticket
