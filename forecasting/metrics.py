"""A prometheus_client collector that reads the capacity report at scrape time.

Register it on any registry: ``registry.register(CapacityCollector(service))``. Current-value
gauges (capacity_database_size_gb, ...) come from the resource -> gauge mapping in the capacity
config, so adding a resource needs YAML, not code.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from forecasting.service import CapacityReport, CapacityService

FORECAST_HORIZONS_DAYS = (30, 90, 180)
FORECAST_BOUNDS = {"yhat": "mean", "upper95": "upper95"}
GAUGE_HELP = {
    "capacity_database_size_gb": "Current database size in GB.",
    "capacity_event_count": "Current number of events in the event store.",
    "capacity_location_utilization_percent": "Share of storage locations occupied, in percent.",
}


class CapacityCollector(Collector):
    def __init__(self, service: CapacityService, *, cached_only: bool = False) -> None:
        self.service = service
        # a worker refreshes the report in the background: a scrape must never forecast on the
        # event loop, so it shows the last report (nothing before the first one)
        self.cached_only = cached_only

    def collect(self) -> Iterator[Metric]:
        report = self.service.cached_report() if self.cached_only else self.service.report()
        if report is None:
            return
        yield from self.current_value_gauges(report)
        yield from self.forecast_gauges(report)

    def current_value_gauges(self, report: CapacityReport) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for name, resource in report.resources.items():
            spec = self.service.config.spec_for(name)
            forecast = resource.forecast
            value = (
                forecast.utilization_percent
                if spec.gauge_value == "utilization_percent"
                else forecast.current
            )
            if spec.gauge is None or value is None:
                continue
            family = families.get(spec.gauge)
            if family is None:
                help_text = GAUGE_HELP.get(spec.gauge, f"Current value of {spec.gauge}.")
                family = families[spec.gauge] = GaugeMetricFamily(
                    spec.gauge, help_text, labels=["resource"]
                )
            family.add_metric([name], value)
        yield from families.values()

    def forecast_gauges(self, report: CapacityReport) -> Iterator[Metric]:
        current = GaugeMetricFamily(
            "slaengine_capacity_current", "Latest daily value of the resource.", labels=["resource"]
        )
        limit = GaugeMetricFamily(
            "slaengine_capacity_limit", "Capacity of the resource.", labels=["resource"]
        )
        utilization = GaugeMetricFamily(
            "slaengine_capacity_utilization_percent",
            "Current value over capacity, in percent.",
            labels=["resource"],
        )
        growth = GaugeMetricFamily(
            "slaengine_capacity_growth_per_month",
            "Projected growth per month, in the resource's unit.",
            labels=["resource"],
        )
        projected = GaugeMetricFamily(
            "slaengine_capacity_forecast",
            "Forecast value N days after the last observed day.",
            labels=["resource", "horizon_days", "bound"],
        )
        days_to = GaugeMetricFamily(
            "slaengine_capacity_days_to_threshold",
            "Days until the likely forecast reaches the threshold (% of capacity); +Inf when "
            "not projected within the horizon.",
            labels=["resource", "threshold"],
        )
        earliest = GaugeMetricFamily(
            "slaengine_capacity_earliest_days_to_threshold",
            "Days until the upper 95 % bound reaches the threshold; +Inf when it does not.",
            labels=["resource", "threshold"],
        )
        mase = GaugeMetricFamily(
            "slaengine_capacity_backtest_mase",
            "Backtest MASE of the chosen model against naive (< 1 beats it).",
            labels=["resource", "model"],
        )
        for name, resource in report.resources.items():
            forecast = resource.forecast
            if forecast.current is not None:
                current.add_metric([name], forecast.current)
            if forecast.capacity:
                limit.add_metric([name], forecast.capacity)
            if forecast.utilization_percent is not None:
                utilization.add_metric([name], forecast.utilization_percent)
            if forecast.growth_per_month is not None:
                growth.add_metric([name], forecast.growth_per_month)
            for days in FORECAST_HORIZONS_DAYS:
                for bound, attribute in FORECAST_BOUNDS.items():
                    value = forecast.value_after(days, attribute)
                    if value is not None:
                        projected.add_metric([name, str(days), bound], value)
            for percent, crossing in forecast.crossings.items():
                days_to.add_metric([name, str(percent)], _days(crossing.likely_days))
                earliest.add_metric([name, str(percent)], _days(crossing.earliest_days))
            if (
                forecast.backtest is not None
                and forecast.model
                and math.isfinite(forecast.backtest.mase)
            ):
                mase.add_metric([name, forecast.model], forecast.backtest.mase)
        yield from (current, limit, utilization, growth, projected, days_to, earliest, mase)


def _days(days: int | None) -> float:
    return math.inf if days is None else float(days)
