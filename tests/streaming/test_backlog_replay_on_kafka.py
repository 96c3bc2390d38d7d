"""A worker replaying a backlog (weeks of history) writes few state records, with exact results.

Issue 14, "flat under history": each flush writes every state record changed since the last
one, and every worker's global view reads each of them back. At the normal flush interval a
replay of weeks of orders wrote each order's record at its creation and a tombstone at its
expiry (about one changelog record per order event), which made the orders stretch of a
history replay run at half the rate of the rest. While a partition replays a backlog it now
flushes every few seconds (streams.app.BACKLOG_FLUSH_S) until it reaches its end.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from slaengine.settings import Settings

from .conftest import WorkerProcess, batch_rows, comparable, produce
from .test_bulk_path_on_kafka import committed_and_ends
from .test_worker_on_kafka import iso, wait_for

pytestmark = pytest.mark.slow

ORDERS = 60_000
EVERY_S = 30  # one order created every 30 s: 3 weeks of orders, each expired 2 days later


def weeks_of_orders(path: Path) -> int:
    """``ORDERS`` orders, the last created 31 h ago: most shipped in 2 h, every 7th in 30 h
    (late), every 11th cancelled; returns the number of events (written in event-time order)."""
    start_ms = int((time.time() - 31 * 3600 - ORDERS * EVERY_S) * 1000)
    events = []
    for number in range(ORDERS):
        created = start_ms + number * EVERY_S * 1000
        order = f"order-{number}"
        events.append((created, order, "created"))
        if number % 11 == 0:
            events.append((created + 3_600_000, order, "cancelled"))
        else:
            events.append((created + (30 if number % 7 == 0 else 2) * 3_600_000, order, "shipped"))
    events.sort()
    with path.open("w") as out:
        for ts_ms, order, kind in events:
            out.write(
                json.dumps({"ts": iso(ts_ms / 1000), "order_id": order, "event": kind}) + "\n"
            )
    return len(events)


def changelog_keys(bootstrap: str, topic: str) -> Counter[str]:
    """How many records of each key kind ("o", "b", "p", ...) a changelog topic holds."""

    async def read() -> Counter[str]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(Settings().partitions)]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            kinds: Counter[str] = Counter()

            async def behind() -> bool:
                return any([await consumer.position(tp) < end for tp, end in ends.items()])

            while await behind():
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    for record in records:
                        kinds[json.loads(record.key).split("|", 1)[0]] += 1
            return kinds
        finally:
            await consumer.stop()

    return asyncio.run(read())


def test_a_backlog_of_weeks_of_orders_writes_few_changelog_records_and_equals_batch_mode(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    events = tmp_path / "orders.ndjson"
    count = weeks_of_orders(events)
    produce(kafka_bootstrap, topic_prefix, events, batch_size=200)  # ~2.5 MB per partition
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1").start()
    workers.append(worker)
    wait_for(
        lambda: worker.metric("slaengine_events_processed_total") >= count,
        timeout=240,
        what="every order event applied",
    )

    def all_committed() -> bool:  # the last flush of each partition is written and acked
        committed, ends = committed_and_ends(kafka_bootstrap, topic_prefix)
        return all(committed[tp] == end for tp, end in ends.items() if end > 0)

    wait_for(all_committed, timeout=60, what="every input partition committed to its end")
    at = iso(time.time())
    assert comparable(worker.slo_rows(at)) == comparable(batch_rows(events, at))
    kinds = changelog_keys(kafka_bootstrap, f"{topic_prefix}slaengine-sli-orders-changelog")
    # what must be written: the orders still kept at the end (the last 2 days: under 5,800
    # orders, 0.05 per event), plus those of the few flushes a backlog still takes. At the normal
    # interval: ~1 record per order event (each order written, then tombstoned at its expiry).
    assert kinds["o"] <= 0.15 * count, (kinds, count)
