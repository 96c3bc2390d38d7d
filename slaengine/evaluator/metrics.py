"""Prometheus adapter: the evaluator's state as ALERTS-style and error-budget gauges.

A custom collector reads the evaluator at scrape time, so nothing pokes gauges
between evaluations. Register it on the app's registry:
``registry.register(AlertStateCollector(evaluator))``.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from slaengine.evaluator.rules import AlertEvaluator


class AlertStateCollector(Collector):
    def __init__(self, evaluator: AlertEvaluator) -> None:
        self._evaluator = evaluator

    def collect(self) -> Iterator[Metric]:
        alerts = GaugeMetricFamily(
            "slaengine_alerts",
            "Pending and firing alerts of the in-service evaluator (1 each).",
            labels=["alertname", "severity", "slo", "service", "resource", "window", "alertstate"],
        )
        for alert in self._evaluator.active_alerts():
            labels = alert.labels
            slo = labels.get("slo") or labels.get("sloth_slo", "")
            service = labels.get("service") or labels.get("sloth_service", "")
            alerts.add_metric(
                [
                    alert.name,
                    alert.severity,
                    slo,
                    service,
                    labels.get("resource", ""),
                    labels.get("window", ""),
                    alert.status,
                ],
                1.0,
            )
        yield alerts
        # burn rates and budgets per window come from slaengine.metrics.SliCollector (one place)
