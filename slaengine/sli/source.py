"""The live SLI state as the alert evaluator's ``SliSource``: window counts and exported gauges."""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry

from slaengine.sli import query
from slaengine.sli.buckets import MINUTE_MS
from slaengine.sli.engine import SliEngine


class EngineSliSource:
    def __init__(self, engine: SliEngine, registry: CollectorRegistry) -> None:
        self.engine = engine
        self.registry = registry

    def window_counts(self, slo: str, window: timedelta, now: datetime) -> tuple[float, float]:
        """(good, total) over the complete minutes of the trailing window, [T − w, T).

        Whole minutes only, like every window (slaengine.sli.query) and the way the
        generated Prometheus rules see per-minute counter samples through ``rate()``,
        so both fire at the same steps.
        """
        spec = self.engine.slos.get(slo)
        if spec is None:
            return 0.0, 0.0
        now_ms = int(now.timestamp() * 1000)
        end = now_ms // MINUTE_MS * MINUTE_MS
        start = end - int(window.total_seconds() * 1000)
        good, total = query.counts(self.engine, spec, start, end, now_ms=now_ms)
        return float(good), float(total)

    def gauge_samples(self, metric: str) -> list[tuple[dict[str, str], float]]:
        """Current samples of an exported family, read the way a scrape reads them."""
        samples: list[tuple[dict[str, str], float]] = []
        for family in self.registry.collect():
            if family.name == metric:
                samples += [(dict(s.labels), s.value) for s in family.samples if s.name == metric]
        return samples
