"""``slaengine produce --batch-size`` on the real broker: envelopes land where their events
belong."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from slaengine.events import ORDERS_TOPIC, PROJECTIONS_TOPIC, REQUESTS_TOPIC, RESOURCES_TOPIC
from slaengine.kafka_io import key_of, partition_of
from slaengine.synthetic import TrafficPlan, generate_events
from tests.conftest import CreateTopics

from .conftest import produce

START = datetime(2026, 10, 1, tzinfo=UTC)


async def read_by_partition(
    bootstrap: str, topic: str, expected: int, timeout: float = 60
) -> dict[int, list[dict]]:
    """The events of every message of ``topic``, per partition in offset order."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    events: dict[int, list[dict]] = defaultdict(list)
    try:
        deadline = time.monotonic() + timeout
        while sum(map(len, events.values())) < expected and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for record in records:
                    value = json.loads(record.value)
                    events[tp.partition].extend(value if isinstance(value, list) else [value])
    finally:
        await consumer.stop()
    return events


async def test_each_event_lands_on_its_own_keys_partition_in_file_order(
    tmp_path: Path,
    kafka_bootstrap: str,
    topic_prefix: str,
    create_topics: CreateTopics,
) -> None:
    # 3 partitions, not the broker's default 4: produce must read the topics' real counts
    await create_topics(
        REQUESTS_TOPIC, ORDERS_TOPIC, RESOURCES_TOPIC, PROJECTIONS_TOPIC, partitions=3
    )
    log = tmp_path / "events.ndjson"
    in_file: dict[str, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    with log.open("w") as out:
        for event in generate_events(
            TrafficPlan(start=START, end=START + timedelta(hours=6), seed=3)
        ):
            out.write(json.dumps(event) + "\n")
            topic = (
                ORDERS_TOPIC
                if "order_id" in event
                else RESOURCES_TOPIC
                if "resource" in event
                else PROJECTIONS_TOPIC
                if "projection" in event
                else REQUESTS_TOPIC
            )
            key = key_of(topic, event)
            assert key is not None
            in_file[topic][partition_of(key, 3)].append(event)
    await asyncio.to_thread(produce, kafka_bootstrap, topic_prefix, log, 100)
    for topic, expected in in_file.items():
        received = await read_by_partition(
            kafka_bootstrap, topic_prefix + topic, sum(map(len, expected.values()))
        )
        assert received == expected, topic
    assert len(in_file[ORDERS_TOPIC]) == 3
