"""Prometheus adapter: the evaluator's state as ALERTS-style and error-budget gauges.

A custom collector reads the evaluator at scrape time, so nothing pokes gauges
between evaluations. Register it on the app's registry:
``registry.register(AlertStateCollector(evaluator))``.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from slaengine.rules.evaluate import AlertEvaluator


class AlertStateCollector(Collector):
    def __init__(self, evaluator: AlertEvaluator) -> None:
        self._evaluator = evaluator

    def collect(self) -> Iterator[Metric]:
        alerts = GaugeMetricFamily(
            "slaengine_alerts", "Pending and firing alerts of the in-service evaluator (1 each).",
            labels=["alertname", "severity", "slo", "alertstate"])
        for alert in self._evaluator.active_alerts():
            slo = alert.labels.get("slo") or alert.labels.get("sloth_slo", "")
            alerts.add_metric([alert.name, alert.severity, slo, alert.status], 1.0)
        yield alerts

        burn = GaugeMetricFamily(
            "slaengine_slo_burn_rate",
            "Error budget burn rate over the window (1 spends exactly the budget in the period).",
            labels=["slo", "service", "window"])
        remaining = GaugeMetricFamily(
            "slaengine_slo_error_budget_remaining",
            "Fraction of the error budget left over the SLO period (negative when overspent).",
            labels=["slo", "service", "window"])
        for sample in self._evaluator.budget_samples():
            key = [sample.slo, sample.service, sample.window]
            if sample.has_data:  # no traffic: no burn rate rather than a made-up zero
                burn.add_metric(key, sample.burn_rate)
            if sample.remaining is not None:
                remaining.add_metric(key, sample.remaining)
        yield burn
        yield remaining
