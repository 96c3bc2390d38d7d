"""Cardinality limits: how many distinct names of each kind one worker holds and exports.

A flood of new service, endpoint, resource or projection names must not grow
memory or ``/metrics`` without bound: once a kind is full, events that would
add a new name are dead-lettered ``too_many_series``; names already held keep
working. The kinds are generic (kind, name) pairs, so a new event kind only
has to say which names it carries (``series_of``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from slaengine.config import LimitsSpec, SlaConfig
from slaengine.events import RequestEvent, ResourceEvent

SERIES_KINDS = ("service", "endpoint", "resource", "projection")


def series_of(event: Any) -> list[tuple[str, Any]]:
    """The (kind, name) pairs an event adds to the state; an endpoint counts per service."""
    if type(event) is RequestEvent:
        return [("service", event.service), ("endpoint", (event.service, event.endpoint))]
    if type(event) is ResourceEvent:
        return [("resource", event.resource)]
    projection = getattr(event, "projection", None)  # the projection-lag events of sla.projections
    if isinstance(projection, str):
        return [("projection", projection)]
    return []


class SeriesLimits:
    def __init__(self, spec: LimitsSpec) -> None:
        self.limits = {
            "service": spec.services,
            "endpoint": spec.endpoints,
            "resource": spec.resources,
            "projection": spec.projections,
        }
        self.held: dict[str, set[Any]] = {kind: set() for kind in SERIES_KINDS}
        self.rejected: dict[str, int] = dict.fromkeys(SERIES_KINDS, 0)
        self._services, self._endpoints = self.held["service"], self.held["endpoint"]
        self._resources = self.held["resource"]

    @classmethod
    def of_config(cls, config: SlaConfig) -> SeriesLimits:
        """Limits of ``config``, with the services its SLOs name held from the start: a flood of
        new names can never lock out a service that an SLO measures."""
        limits = cls(config.limits)
        for slo in config.slos:
            if slo.service:
                limits.hold("service", slo.service)
        return limits

    def admit(self, event: Any) -> str | None:
        """None when every name of the event is held or fits; else why it does not.

        Nothing is added unless all fit, so a rejected request does not take a service slot.
        """
        if type(event) is RequestEvent:  # fast path: a known service and endpoint
            if (
                event.service in self._services
                and (event.service, event.endpoint) in self._endpoints
            ):
                return None
        elif type(event) is ResourceEvent and event.resource in self._resources:
            return None
        series = series_of(event)
        new = [(kind, name) for kind, name in series if name not in self.held[kind]]
        if not new:
            return None
        for kind, name in new:
            if len(self.held[kind]) >= self.limits[kind]:
                self.rejected[kind] += 1
                shown = " ".join(name) if isinstance(name, tuple) else name
                return (
                    f"{kind} {shown[:200]!r} would be {kind} number {self.limits[kind] + 1} on "
                    "this "
                    f"worker (limits.{kind}s in slo.yaml is {self.limits[kind]})"
                )
        for kind, name in new:
            self.held[kind].add(name)
        return None

    def hold(self, kind: str, name: Any) -> None:
        """Count a name restored from the changelog (it was admitted before the restart)."""
        self.held[kind].add(name)


class SeriesLimitsCollector(Collector):
    """Names held per kind, their limits, and events dead-lettered ``too_many_series``."""

    def __init__(self, limits: SeriesLimits) -> None:
        self.limits = limits

    def collect(self) -> Iterator[Metric]:
        held = GaugeMetricFamily(
            "slaengine_series", "Distinct names held by this worker, per kind", labels=["kind"]
        )
        limit = GaugeMetricFamily(
            "slaengine_series_limit",
            "The limit on distinct names per kind (limits: in slo.yaml)",
            labels=["kind"],
        )
        rejected = CounterMetricFamily(
            "slaengine_series_rejected",
            "Events dead-lettered too_many_series "
            "because their name would exceed the limit, per kind",
            labels=["kind"],
        )
        for kind in SERIES_KINDS:
            held.add_metric([kind], len(self.limits.held[kind]))
            limit.add_metric([kind], self.limits.limits[kind])
            rejected.add_metric([kind], self.limits.rejected[kind])
        yield from (held, limit, rejected)
