"""State per key and hour bucket: changelog record sizes, JSON size of busy buckets, Python memory.

Three views of the same unit (one SLO, one source partition, one hour):

- the latest changelog record of every bucket the pipeline run wrote (key + value bytes);
- ``HourBucket.to_state()`` as JSON for busy hours built by the real engine — every
  minute counted, a latency sketch filled from log-normal latencies with and
  without an incident's slow tail;
- Python heap per bucket (tracemalloc) for a month of such buckets held by one engine.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import tracemalloc
from dataclasses import dataclass

from slaengine.config import SlaConfig
from slaengine.events import RequestEvent
from slaengine.sli.buckets import HOUR_MS, HourBucket
from slaengine.sli.engine import SliEngine

TARGET_BYTES = 4096


@dataclass(frozen=True)
class BucketSize:
    label: str
    buckets: int
    mean_bytes: float
    max_bytes: int


async def read_changelog(bootstrap: str, topic: str) -> dict[bytes, bytes]:
    """The latest value per key of a compacted changelog topic, read to its end."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    latest: dict[bytes, bytes] = {}
    try:
        partitions = consumer.assignment()
        while not partitions:
            await asyncio.sleep(0.1)
            partitions = consumer.assignment()
        ends = await consumer.end_offsets(list(partitions))
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    if record.value is None:
                        latest.pop(record.key, None)
                    else:
                        latest[record.key] = record.value
    finally:
        await consumer.stop()
    return latest


def changelog_sizes(bootstrap: str, topic: str, config: SlaConfig) -> list[BucketSize]:
    """Key + value bytes of the latest record of every hour bucket, per kind of SLI."""
    records = asyncio.run(read_changelog(bootstrap, topic))
    kinds = {slo.name: slo.sli for slo in config.slos}
    sizes: dict[str, list[int]] = {}
    for key, value in records.items():
        text = key.decode()
        name = text.strip('"').split("|")
        if name[0] != "b":
            continue
        sizes.setdefault(kinds.get(name[1], "?"), []).append(len(key) + len(value))
    return [
        BucketSize(f"changelog, {kind} bucket", len(values), sum(values) / len(values), max(values))
        for kind, values in sorted(sizes.items())
    ]


def fill_busy_hour(
    engine: SliEngine,
    hour: int,
    per_minute: int,
    slow_minutes: int,
    rng: random.Random,
    offset: int,
) -> int:
    """Apply a busy hour of orders-api requests; ``slow_minutes`` in an incident (×3, 5xx)."""
    for minute in range(60):
        slow = minute < slow_minutes
        for i in range(per_minute):
            ts = hour * HOUR_MS + minute * 60_000 + i * 60_000 // per_minute
            latency = rng.lognormvariate(math.log(80), 0.7) * (3.0 if slow else 1.0)
            if rng.random() < 0.001:
                latency *= 40  # a timeout-like outlier: the long tail stretches the sketch
            status = 503 if slow and rng.random() < 0.3 else 200
            engine.apply_request(
                RequestEvent(ts, "orders-api", "GET /orders", status, round(latency, 2)),
                "requests:0",
                offset,
            )
            offset += 1
    return offset


def busy_bucket_sizes(config: SlaConfig, per_minute: int = 1000) -> list[BucketSize]:
    """JSON bytes of ``to_state()`` for busy hours: calm, and with a 15-minute incident."""
    out = []
    for label, slow in (("calm", 0), ("incident", 15)):
        engine, offset = SliEngine(config), 0
        for hour in range(480_000, 480_002):
            offset = fill_busy_hour(engine, hour, per_minute, slow, random.Random(hour), offset)
        for slo_name, hours in sorted(engine.series.items()):
            sizes = [len(json.dumps(b.to_state(), separators=(",", ":"))) for b in hours.values()]
            out.append(
                BucketSize(
                    f"{slo_name[0]}, {per_minute * 60:,} req/h, {label}",
                    len(sizes),
                    sum(sizes) / len(sizes),
                    max(sizes),
                )
            )
    return out


def python_bytes_per_bucket(
    config: SlaConfig, hours: int = 24 * 30, per_minute: int = 1000
) -> dict[str, float]:
    """tracemalloc bytes per hour bucket of a month of orders-api traffic, per SLO.

    Buckets are cloned from one filled hour per SLO through ``to_state``/``from_state``
    (what a worker holds after recovery), so this measures memory, not traffic generation.
    Busy minutes matter: counts above 256 are separate int objects, small ones are shared.
    """
    engine, rng = SliEngine(config), random.Random(1)
    fill_busy_hour(engine, 480_000, per_minute, 5, rng, 0)
    templates = {key: next(iter(hours.values())).to_state() for key, hours in engine.series.items()}
    result = {}
    for (slo, _), state in sorted(templates.items()):
        encoded = json.dumps(state)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        held = [HourBucket.from_state(json.loads(encoded)) for _ in range(hours)]
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        result[slo] = (after - before) / len(held)
    return result
