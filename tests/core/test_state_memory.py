"""Memory of a year of hour buckets (issue 14: 50 SLOs x 13 months must fit in 1 GB).

Hour sketches outlive their minute sketches by a year; held as dicts they were the largest
part of a restored state (a 10-day, 50-SLO history: 40 MB of hour sketches per engine, held
by the stage-1 engine and again by the global view). An hour that no longer changes now
keeps its bins packed in two arrays, and minute counts are C-int arrays.
"""

from __future__ import annotations

import gc
import json
import random
import tracemalloc
from collections.abc import Callable

from slaengine.config import SlaConfig
from slaengine.events import RequestEvent
from slaengine.sli.buckets import HourBucket
from slaengine.sli.engine import SliEngine
from slaengine.sli.query import merged_sketch

from .conftest import MONTH_START_MS

HOUR = 3_600_000
HOURS = 240
REQUESTS_PER_HOUR = 300


def latency_config() -> SlaConfig:
    return SlaConfig.model_validate(
        {
            "timezone": "UTC",
            "slos": [
                {
                    "name": "api-latency",
                    "service": "orders-api",
                    "sli": "latency",
                    "threshold_ms": 500,
                    "target": 95,
                }
            ],
        }
    )


def latency_hours(hours: int) -> list[RequestEvent]:
    """Latencies spread over 1 ms..5 s (a few hundred distinct bins per hour)."""
    rng = random.Random(14)
    return [
        RequestEvent(
            MONTH_START_MS + h * HOUR + n * (HOUR // REQUESTS_PER_HOUR),
            "orders-api",
            "GET /orders/{id}",
            200,
            10 ** rng.uniform(0, 3.7),
        )
        for h in range(hours)
        for n in range(REQUESTS_PER_HOUR)
    ]


def engine_bytes(build: Callable[[], SliEngine]) -> tuple[int, SliEngine]:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        engine = build()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before, engine
    finally:
        tracemalloc.stop()


def test_a_compacted_latency_hour_costs_under_2_9_kb_in_memory() -> None:
    config = latency_config()
    events = latency_hours(HOURS)

    def build() -> SliEngine:
        engine = SliEngine(config)
        for offset, event in enumerate(events):
            engine.apply(event, "requests:0", offset)
        engine.maintain()  # all but the last two days lose their minute sketches
        engine.take_changes()
        hours = engine.series[("api-latency", "requests:0")]
        for hour in [h for h, b in hours.items() if b.minute_sketches is not None]:
            del hours[hour]  # measure the compacted hours alone
        return engine

    size, engine = engine_bytes(build)
    hours = engine.series[("api-latency", "requests:0")]
    compacted = [b for b in hours.values() if b.minute_sketches is None]
    assert len(compacted) == len(hours) >= HOURS - 49
    assert all(b.sketch is not None and b.sketch.packed for b in compacted)
    bins = sum(len(dict(b.sketch.items())) for b in compacted if b.sketch is not None)
    assert bins / len(compacted) > 150  # the hours are not trivially small
    # with its minute counts and ~300 bins: 13.7 kB per hour with dict bins and list minute
    # counts, 3.1 kB with packed bins, 2.7 kB with the minute counts in C-int arrays too
    assert size / len(compacted) < 2_900, size / len(compacted)


def test_a_restored_compacted_hour_is_packed_and_answers_the_same() -> None:
    config = latency_config()
    engine = SliEngine(config)
    for offset, event in enumerate(latency_hours(72)):
        engine.apply(event, "requests:0", offset)
    engine.maintain()
    restored = SliEngine(config)
    for key, _, value in engine.take_changes():
        restored.load(key, json.loads(json.dumps(value)))
    old_hour = restored.series[("api-latency", "requests:0")][MONTH_START_MS // HOUR]
    assert old_hour.sketch is not None and old_hour.sketch.packed
    slo = config.slos[0]
    for start_h, end_h in ((0, 72), (3, 50), (60, 72)):
        start, end = MONTH_START_MS + start_h * HOUR + 7 * 60_000, MONTH_START_MS + end_h * HOUR
        ours = merged_sketch(restored, slo, start, end)
        theirs = merged_sketch(engine, slo, start, end)
        assert ours.count == theirs.count > 0
        assert [ours.quantile(q) for q in (0.5, 0.95, 0.99)] == [
            theirs.quantile(q) for q in (0.5, 0.95, 0.99)
        ]


def test_a_late_event_unpacks_a_packed_hour_and_counts() -> None:
    bucket = HourBucket(0, with_sketch=True)
    for latency in (5.0, 50.0, 500.0):
        bucket.add(0, True)
        bucket.add_latency(0, latency)
    bucket.compact_sketches()
    assert bucket.sketch is not None and bucket.sketch.packed
    p99 = bucket.sketch.quantile(0.99)
    bucket.add_latency(1, 5_000.0)
    assert not bucket.sketch.packed and bucket.sketch.count == 4
    assert bucket.sketch.quantile(0.99) > p99  # type: ignore[operator]
    assert HourBucket.from_state(json.loads(json.dumps(bucket.to_state()))).sketch.quantile(
        0.99
    ) == bucket.sketch.quantile(0.99)  # type: ignore[union-attr]
