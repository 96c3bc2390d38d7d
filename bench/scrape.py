"""How long one /metrics scrape takes with 1,000 SLO series (target: under 100 ms).

Builds an engine with N availability/latency SLOs, each fed a day of traffic, then times the
exposition with one new event applied before every scrape (the worst case: the state changed,
so every scrape evaluates every exported window of every SLO: this collector has no per-SLO
version, as a worker's global view has). Wall time, then CPU time. ``--windows all`` (the default
here) is ``/metrics?windows=all``, every window; ``--windows default`` the default export.

    python bench/scrape.py [--slos 91] [--scrapes 10] [--windows all|default] [--days 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

from slaengine.config import SlaConfig
from slaengine.events import RequestEvent
from slaengine.metrics import EncodableRegistry, SliCollector, exposition
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import windows_for

TARGET_MS = 100.0


def build(slo_count: int, days: int = 1) -> tuple[SliEngine, SliCollector, int, int]:
    slos = []
    for i in range(slo_count):
        kind = "latency" if i % 2 else "availability"
        spec = {"name": f"slo-{i}", "service": f"svc-{i}", "sli": kind, "target": 99.0}
        if kind == "latency":
            spec["threshold_ms"] = 300
        slos.append(spec)
    config = SlaConfig.model_validate({"slos": slos})
    engine = SliEngine(config)
    now_ms = int(time.time() * 1000)
    start = now_ms - days * 24 * 3_600_000
    offset = 0
    for i in range(slo_count):
        for minute in range(0, days * 24 * 60, 2):  # a request every 2 minutes
            offset += 1
            engine.apply(
                RequestEvent(
                    start + minute * 60_000,
                    f"svc-{i}",
                    "GET /",
                    200 if minute % 97 else 503,
                    40.0 + minute % 300,
                ),
                f"requests:{i % 4}",
                offset,
            )
    series = sum(len(windows_for(s)) for s in config.slos)
    return engine, SliCollector(engine), series, offset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=91)
    parser.add_argument("--scrapes", type=int, default=10)
    parser.add_argument("--windows", choices=("all", "default"), default="all")
    parser.add_argument(
        "--days", type=int, default=1, help="days of traffic held (history: e.g. 30)"
    )
    args = parser.parse_args()
    engine, collector, series, events = build(args.slos, args.days)
    registry = EncodableRegistry()
    registry.register(collector)
    timings, cpu_timings, size = [], [], 0
    now_ms = int(time.time() * 1000)
    for scrape in range(args.scrapes):
        # a new event: the kept exposition is stale, every exported window is evaluated again
        engine.apply(
            RequestEvent(now_ms - 1000, "svc-0", "GET /", 200, 40.0),
            "requests:0",
            events + 1 + scrape,
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        size = len(exposition(registry, every_window=args.windows == "all"))
        timings.append((time.perf_counter() - started) * 1000)
        cpu_timings.append((time.process_time() - cpu_started) * 1000)
    median = statistics.median(timings)
    print(
        f"SLOs: {args.slos}, SLO window series per family: {series}, events: {events}, "
        f"windows: {args.windows}, body {size / 1024:.0f} KiB, re-rendered {collector.renders} "
        "times"
    )
    print(
        f"scrape (state changed) median {median:.1f} ms, max {max(timings):.1f} ms; "
        f"target {TARGET_MS:.0f} ms -> ratio {median / TARGET_MS:.2f}"
    )
    # wall time follows the machine's load; the CPU time of this process much less
    print(f"CPU per scrape: {statistics.median(cpu_timings):.1f} ms (median)")


if __name__ == "__main__":
    main()
