"""How long one /metrics scrape takes with 1,000 SLO series (target: under 100 ms).

Builds an engine with N availability/latency SLOs, each fed a day of traffic, then times
``generate_latest`` with the collector's one-second cache cleared before every scrape
(the worst case: every scrape evaluates every window of every SLO).

    python bench/scrape.py [--slos 91] [--scrapes 10]
"""

from __future__ import annotations

import argparse
import statistics
import time

from prometheus_client import CollectorRegistry, generate_latest

from slaengine.config import SlaConfig
from slaengine.events import RequestEvent
from slaengine.metrics import SliCollector
from slaengine.sli.results import windows_for

TARGET_MS = 100.0


def build(slo_count: int) -> tuple[SliCollector, int, int]:
    slos = []
    for i in range(slo_count):
        kind = "latency" if i % 2 else "availability"
        spec = {"name": f"slo-{i}", "service": f"svc-{i}", "sli": kind, "target": 99.0}
        if kind == "latency":
            spec["threshold_ms"] = 300
        slos.append(spec)
    config = SlaConfig.model_validate({"slos": slos})
    from slaengine.sli.engine import SliEngine
    engine = SliEngine(config)
    now_ms = int(time.time() * 1000)
    start = now_ms - 24 * 3_600_000
    offset = 0
    for i in range(slo_count):
        for minute in range(0, 24 * 60, 2):  # a request every 2 minutes for a day
            offset += 1
            engine.apply(RequestEvent(start + minute * 60_000, f"svc-{i}", "GET /", 200 if minute % 97 else 503,
                                      40.0 + minute % 300), f"requests:{i % 4}", offset)
    series = sum(len(windows_for(s)) for s in config.slos)
    return SliCollector(engine), series, offset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=91)
    parser.add_argument("--scrapes", type=int, default=10)
    args = parser.parse_args()
    collector, series, events = build(args.slos)
    registry = CollectorRegistry()
    registry.register(collector)
    timings, size = [], 0
    for _ in range(args.scrapes):
        collector._cache = None  # worst case: no cached evaluation
        started = time.perf_counter()
        size = len(generate_latest(registry))
        timings.append((time.perf_counter() - started) * 1000)
    median = statistics.median(timings)
    print(f"SLOs: {args.slos}, SLO window series per family: {series}, events: {events}, body {size / 1024:.0f} KiB")
    print(f"scrape (uncached) median {median:.1f} ms, max {max(timings):.1f} ms; "
          f"target {TARGET_MS:.0f} ms -> ratio {median / TARGET_MS:.2f}")


if __name__ == "__main__":
    main()
