"""Prometheus metrics of the alert router, read from the outbox at scrape time.

Counters live in the outbox's sqlite file, so they survive restarts and match what was really
delivered. Register with ``registry.register(RouterCollector(outbox, clock))``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from slaengine.outbox import ChannelStats, to_epoch

LABELS = ["receiver", "integration"]


class OutboxStats(Protocol):
    """An ``Outbox``, or the outboxes of all partitions a worker routes (streams.router)."""

    @property
    def write_failures(self) -> int: ...

    def stats(self) -> dict[str, ChannelStats]: ...


class RouterCollector(Collector):
    def __init__(
        self,
        outbox: OutboxStats,
        clock: Callable[[], datetime],
        errors: Mapping[str, int] | None = None,
    ) -> None:
        self.outbox = outbox
        self.clock = clock
        self.errors = errors if errors is not None else {}  # AlertRouter.errors

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self.outbox.stats()
        now = to_epoch(self.clock())
        families = {
            "delivered": CounterMetricFamily(
                "slaengine_alert_deliveries", "Notifications accepted by a receiver.", labels=LABELS
            ),
            "failed": CounterMetricFamily(
                "slaengine_alert_deliveries_failed",
                "Notifications declared dead (rejected, or still failing after max_age).",
                labels=LABELS,
            ),
            "retried": CounterMetricFamily(
                "slaengine_alert_deliveries_retried",
                "Delivery attempts that will be retried.",
                labels=LABELS,
            ),
            "damaged": CounterMetricFamily(
                "slaengine_alert_deliveries_damaged",
                "Stored notifications quarantined because they no longer decode.",
                labels=LABELS,
            ),
        }
        depth = GaugeMetricFamily(
            "slaengine_alert_outbox_depth", "Notifications waiting in the outbox.", labels=LABELS
        )
        oldest = GaugeMetricFamily(
            "slaengine_alert_outbox_oldest_pending_age_seconds",
            "Age of the oldest undelivered notification (0 if none).",
            labels=LABELS,
        )
        for channel, channel_stats in sorted(stats.items()):
            receiver, _, integration = channel.rpartition("/")
            labels = [receiver, integration]
            for name, family in families.items():
                family.add_metric(labels, channel_stats.counters.get(name, 0))
            depth.add_metric(labels, channel_stats.pending)
            age = now - channel_stats.oldest_pending_at if channel_stats.oldest_pending_at else 0.0
            oldest.add_metric(labels, max(0.0, age))
        yield from families.values()
        yield depth
        yield oldest
        yield CounterMetricFamily(
            "slaengine_alert_outbox_write_failures",
            "Outbox transactions the disk refused (full, I/O error); nothing of them was stored.",
            value=self.outbox.write_failures,
        )
        errors = CounterMetricFamily(
            "slaengine_alert_router_errors",
            "Alerts the router could not take: invalid_alert (malformed sla.alerts record), "
            "internal_error.",
            labels=["kind"],
        )
        for kind, count in sorted(self.errors.items()):
            errors.add_metric([kind], count)
        yield errors
