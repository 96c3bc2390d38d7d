"""Prometheus exposition of the SLI state: a custom collector that reads the engine at scrape time.

Two families: the names operators already query (``sla_uptime_percentage``,
``sla_api_response_time_p95``, ``sla_order_fulfillment_rate``,
``sla_projection_lag_seconds``) and a ``slaengine_slo_*`` family following
Prometheus naming conventions (ratios 0–1, seconds, ``_total`` counters).
``slaengine_pipeline_lag_seconds`` is slaengine's own processing delay (self-monitoring,
per worker). A worker exports the series of the SLOs it owns: with a global view (every
worker holds every SLO, streams.global_view) ``owns`` picks them, so each series comes
from exactly one worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from slaengine.events import SOURCE_NAMES, source_name
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import SloWindowResult, evaluate_windows

CACHE_SECONDS = 0.25  # scrapes within this share one evaluation (freshness p99 < 1 s)
ALL_PROJECTIONS = "*"  # projection label of a projection_lag SLO that covers every projection
LATEST = "latest"  # window label of the newest sample of each projection
TOPIC_OF_SOURCE = {short: topic for topic, short in SOURCE_NAMES.items()}


class SliCollector(Collector):
    def __init__(self, engine: SliEngine, clock: Callable[[], float] = time.time,
                 owns: Callable[[str], bool] | None = None) -> None:
        self.engine = engine
        self.clock = clock
        # a worker's global view holds every SLO: it exports only the SLOs it owns (streams.global_view)
        self.owns = owns if owns is not None else (lambda slo: True)
        self._cache: tuple[float, list[SloWindowResult]] | None = None
        # per SLO: the sources it was computed from and the last (good, total) exported
        self._exported: dict[str, tuple[frozenset[str], int, int]] = {}

    def results(self) -> list[SloWindowResult]:
        now = self.clock()
        if self._cache and now - self._cache[0] < CACHE_SECONDS:
            return self._cache[1]
        owned = {name for name in self.engine.owned_slos() if self.owns(name)}
        now_ms = int(now * 1000)
        rows = []
        for slo in self.engine.config.slos:
            if slo.name in owned:
                rows += evaluate_windows(self.engine, slo, now_ms)
        self._cache = (now, rows)
        return rows

    def collect(self) -> Iterator[Metric]:
        labels = ["slo", "service", "window"]
        uptime = GaugeMetricFamily("sla_uptime_percentage", "Uptime/availability SLI in percent", labels=labels)
        p95 = GaugeMetricFamily("sla_api_response_time_p95", "API latency p95 in milliseconds", labels=labels)
        fulfillment = GaugeMetricFamily("sla_order_fulfillment_rate", "Orders shipped within the deadline (0-1)", labels=labels)
        lag = GaugeMetricFamily(
            "sla_projection_lag_seconds",
            "Read-model projection lag behind its event store: p99 of the samples in the window, "
            "or the newest sample of each projection (window=\"latest\")",
            labels=["slo", "projection", "window"])
        pipeline_lag = GaugeMetricFamily(
            "slaengine_pipeline_lag_seconds",
            "slaengine's own delay: processing time minus Kafka append time of the newest event, per input topic",
            labels=["topic"])
        ratio = GaugeMetricFamily("slaengine_slo_sli_ratio", "SLI as a ratio of good to valid (0-1)", labels=labels + ["sli"])
        budget = GaugeMetricFamily("slaengine_slo_error_budget_remaining", "Fraction of the error budget left in the window", labels=labels)
        burn = GaugeMetricFamily("slaengine_slo_burn_rate", "Error-budget burn rate over the window (1 = exactly on budget)", labels=labels)
        quantiles = GaugeMetricFamily("slaengine_slo_latency_seconds", "Latency quantiles over the window", labels=labels + ["quantile"])
        window_good = GaugeMetricFamily("slaengine_slo_window_good_events", "Good events in the window", labels=labels)
        window_total = GaugeMetricFamily("slaengine_slo_window_events", "Valid events in the window", labels=labels)
        objective = GaugeMetricFamily("slaengine_slo_objective_ratio", "SLO objective (0-1)", labels=["slo", "service", "sli"])
        seen_objective: set[str] = set()
        for row in self.results():
            values = [row.name, row.service or "", row.window]
            window_good.add_metric(values, row.good)
            window_total.add_metric(values, row.total)
            budget.add_metric(values, row.error_budget_remaining)
            burn.add_metric(values, row.burn_rate)
            if row.name not in seen_objective:
                objective.add_metric([row.name, row.service or "", row.sli], row.target / 100)
                seen_objective.add(row.name)
            if row.value is None:
                continue
            ratio.add_metric(values + [row.sli], row.value / 100)
            if row.sli in ("uptime", "availability"):
                uptime.add_metric(values, row.value)
            elif row.sli == "fulfillment":
                fulfillment.add_metric(values, row.value / 100)
            elif row.sli == "projection_lag":
                if row.p99_ms is not None:
                    lag.add_metric([row.name, self._projection_label(row.name), row.window],
                                   row.p99_ms / 1000)
            elif row.sli == "latency":
                if row.p95_ms is not None:
                    p95.add_metric(values, row.p95_ms)
                for q, ms in (("0.5", row.p50_ms), ("0.95", row.p95_ms), ("0.99", row.p99_ms)):
                    if ms is not None:
                        quantiles.add_metric(values + [q], ms / 1000)
        for slo_name, projection, seconds in self.latest_projection_lags():
            lag.add_metric([slo_name, projection, LATEST], seconds)
        for topic, seconds in self.pipeline_lags():
            pipeline_lag.add_metric([topic], seconds)
        yield from (uptime, p95, fulfillment, lag, ratio, budget, burn, quantiles, window_good,
                    window_total, objective, pipeline_lag)
        yield from self._lifetime_counters()

    def pipeline_lags(self) -> list[tuple[str, float]]:
        """(input topic, seconds): the worst of its partitions' latest processing lags."""
        worst: dict[str, int] = {}
        for source, lag_ms in self.engine.pipeline_lag_ms.items():
            topic = TOPIC_OF_SOURCE.get(source_name(source), source)
            worst[topic] = max(worst.get(topic, 0), lag_ms)
        return [(topic, max(0, lag_ms) / 1000) for topic, lag_ms in sorted(worst.items())]

    def _projection_label(self, slo_name: str) -> str:
        return self.engine.slos[slo_name].projection or ALL_PROJECTIONS

    def latest_projection_lags(self) -> list[tuple[str, str, float]]:
        """(slo, projection, seconds): the newest sample of each projection an SLO covers."""
        newest: dict[str, tuple[int, float]] = {}
        for (_, projection), sample in self.engine.latest_projection_lag.items():
            if projection not in newest or sample[0] > newest[projection][0]:
                newest[projection] = sample
        return [(slo.name, projection, seconds)
                for slo in self.engine.projection_lag if self.owns(slo.name)
                for projection, (_, seconds) in sorted(newest.items())
                if slo.projection in (None, projection)]

    def _lifetime_counters(self) -> Iterator[Metric]:
        """Monotonic good/valid event counters per SLO, for Prometheus-side rate() rules.

        Uptime counts minutes up to the current one, quiet minutes included
        (``no_traffic``), as ``compute`` and the in-service evaluator do. A late request
        can turn a counted minute down, and a late order event can withdraw an outcome:
        the counters never go down for that (they hold their value until the counts catch
        up); only a change of the partitions this worker owns starts them afresh.
        """
        labels = ["slo", "service", "sli"]
        total = CounterMetricFamily("slaengine_slo_events", "Valid events (uptime: minutes) per SLO", labels=labels)
        good = CounterMetricFamily("slaengine_slo_good_events", "Good events (uptime: good minutes) per SLO", labels=labels)
        now_ms = int(self.clock() * 1000)
        for slo in self.engine.config.slos:
            if not self.owns(slo.name):
                continue
            lifetime = self.engine.lifetime_counts(slo, now_ms)
            if lifetime is None:
                continue
            good_count, total_count = lifetime
            sources = frozenset(source for source, _ in self.engine.buckets_of(slo.name))
            previous = self._exported.get(slo.name)
            if previous is not None and previous[0] == sources:
                good_count, total_count = max(good_count, previous[1]), max(total_count, previous[2])
            self._exported[slo.name] = (sources, good_count, total_count)
            values = [slo.name, slo.service or "", slo.sli]
            good.add_metric(values, good_count)
            total.add_metric(values, total_count)
        yield total
        yield good


class PipelineCollector(Collector):
    """Events processed/invalid per topic and Kafka consumer lag per partition."""

    def __init__(self, valid: dict[str, int], invalid: dict[tuple[str, str], int],
                 consumer_lag: Callable[[], dict[tuple[str, int], int]] | None = None) -> None:
        self.valid = valid
        self.invalid = invalid
        self.consumer_lag = consumer_lag

    def collect(self) -> Iterator[Metric]:
        processed = CounterMetricFamily("slaengine_events_processed", "Valid events applied, per topic", labels=["topic"])
        for topic, count in sorted(self.valid.items()):
            processed.add_metric([topic], count)
        invalid = CounterMetricFamily("slaengine_events_invalid", "Invalid events dead-lettered, per topic and reason",
                                      labels=["topic", "reason"])
        for (topic, reason), count in sorted(self.invalid.items()):
            invalid.add_metric([topic, reason], count)
        yield processed
        yield invalid
        if self.consumer_lag is not None:
            lag = GaugeMetricFamily("slaengine_kafka_consumer_lag", "Messages behind the partition's end",
                                    labels=["topic", "partition"])
            for (topic, partition), behind in sorted(self.consumer_lag().items()):
                lag.add_metric([topic, str(partition)], behind)
            yield lag


class EncodableRegistry(CollectorRegistry):
    """A registry whose exposition always encodes: label values that are not valid UTF-8.

    Events are validated before their names reach the state, but one name that cannot
    encode (a lone surrogate) would make every scrape fail, so /metrics is protected on
    its own: such a value is exported with the offending code points backslash-escaped.
    """

    def collect(self) -> Iterator[Metric]:
        for metric in super().collect():
            yield encodable(metric)


def encodable(metric: Metric) -> Metric:
    """The metric with every label value encodable as UTF-8 (unchanged, and fast, when all are)."""
    for sample in metric.samples:
        for value in sample.labels.values():
            if not value.isascii() and not _encodes(value):
                metric.samples = [sample._replace(labels={k: _escaped(v) for k, v in sample.labels.items()})
                                  for sample in metric.samples]
                return metric
    return metric


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _escaped(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
