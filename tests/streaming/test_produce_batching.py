"""``slaengine produce`` envelopes: one per partition, each partition in file order.

Envelopes of one key left orders (keyed by order id) in envelopes of ~2 events, applied at
the per-message rate: the demo's replay fell from ~150k to ~6k events/s while it applied
orders. In sparse traffic, holding one key's events while other keys of its partition went
ahead reached the worker after the partition's watermark had expired the order.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from slaengine.config import load_sla_config
from slaengine.events import (
    ORDERS_TOPIC,
    PROJECTIONS_TOPIC,
    REQUESTS_TOPIC,
    RESOURCES_TOPIC,
    decode_message,
    element_offset,
)
from slaengine.kafka_io import key_of, partition_of, plan_messages
from slaengine.settings import DEFAULT_CONFIG
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import evaluate_window
from slaengine.synthetic import TrafficPlan, generate_events

CONFIG = load_sla_config(DEFAULT_CONFIG)
START = datetime(2026, 10, 1, tzinfo=UTC)
END = START + timedelta(days=12)
PARTITIONS = dict.fromkeys((REQUESTS_TOPIC, ORDERS_TOPIC, RESOURCES_TOPIC, PROJECTIONS_TOPIC), 4)


def write_log(path: Path, plan: TrafficPlan) -> Path:
    with path.open("w") as out:
        for event in generate_events(plan):
            out.write(json.dumps(event) + "\n")
    return path


def sparse_log(path: Path) -> Path:
    return write_log(
        path, TrafficPlan(start=START, end=END, seed=31, requests_per_minute=0.3, orders_per_hour=6)
    )


def elements(value: bytes) -> list[dict]:
    return json.loads(value) if value.startswith(b"[") else [json.loads(value)]


def partition_of_event(topic: str, event: dict) -> int:
    key = key_of(topic, event)
    assert key is not None
    return partition_of(key, PARTITIONS[topic])


def fulfillment_as_sent(path: Path, batch_size: int) -> tuple[int, int]:
    """order-fulfillment over the log's last 7 days, each partition's orders applied as produce
    sends them."""
    engine = SliEngine(CONFIG)
    now_ms = int(END.timestamp() * 1000)
    offsets: dict[int, int] = defaultdict(int)
    for topic, key, value in plan_messages(path, None, "", batch_size, PARTITIONS):
        if topic == ORDERS_TOPIC:
            assert key is not None
            partition = partition_of(key, PARTITIONS[topic])
            events, invalid = decode_message(topic, value, now_ms)
            assert not invalid
            for index, event in events:
                engine.apply(
                    event, f"orders:{partition}", element_offset(offsets[partition], index)
                )
            offsets[partition] += 1
    row = evaluate_window(engine, engine.slos["order-fulfillment"], "7d", now_ms)
    return row.good, row.total


def test_batched_orders_count_as_the_file_does(tmp_path: Path) -> None:
    log = sparse_log(tmp_path / "sparse.ndjson")
    good, total = fulfillment_as_sent(log, 50)
    assert total > 500
    assert (good, total) == fulfillment_as_sent(log, 1)


def test_each_partition_receives_its_events_in_file_order(tmp_path: Path) -> None:
    log = sparse_log(tmp_path / "sparse.ndjson")
    in_file: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for line in log.read_text().splitlines():
        event = json.loads(line)
        topic = (
            ORDERS_TOPIC
            if "order_id" in event
            else RESOURCES_TOPIC
            if "resource" in event
            else PROJECTIONS_TOPIC
            if "projection" in event
            else REQUESTS_TOPIC
        )
        in_file[(topic, partition_of_event(topic, event))].append(event)
    as_sent: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for topic, key, value in plan_messages(log, None, "", 50, PARTITIONS):
        assert key is not None
        partition = partition_of(key, PARTITIONS[topic])  # where the producer puts the envelope
        for event in elements(value):
            assert partition_of_event(topic, event) == partition  # ... is where the event belongs
            as_sent[(topic, partition)].append(event)
    assert {partition for topic, partition in in_file if topic == ORDERS_TOPIC} == {0, 1, 2, 3}
    assert {topic for topic, _ in in_file} == set(PARTITIONS)
    assert as_sent == in_file


def test_orders_fill_envelopes_as_requests_do(tmp_path: Path) -> None:
    """A day at the default rate: ~2,200 orders, ~17,000 requests, in envelopes of 200."""
    log = write_log(
        tmp_path / "day.ndjson", TrafficPlan(start=START, end=START + timedelta(days=1), seed=5)
    )
    events: dict[str, int] = defaultdict(int)
    messages: dict[str, int] = defaultdict(int)
    for topic, _, value in plan_messages(log, None, "", 200, PARTITIONS):
        events[topic] += len(elements(value))
        messages[topic] += 1
    assert events[ORDERS_TOPIC] > 1500
    for topic in (REQUESTS_TOPIC, ORDERS_TOPIC):
        # full envelopes but the last one of each partition
        assert messages[topic] <= events[topic] // 200 + PARTITIONS[topic], topic


def test_an_envelope_in_the_file_follows_what_its_partition_holds(tmp_path: Path) -> None:
    first = {
        "ts": "2026-10-01T00:00:00Z",
        "service": "orders-api",
        "endpoint": "GET /",
        "status": 200,
        "latency_ms": 5,
    }
    second = dict(first, ts="2026-10-01T00:00:01Z")
    third = dict(first, ts="2026-10-01T00:00:02Z")
    log = tmp_path / "mixed.ndjson"
    log.write_text(
        "\n".join([json.dumps(first), json.dumps([second]), json.dumps(third), "not json"]) + "\n"
    )
    sent = [
        (topic, key, elements(value) if value != b"not json" else value)
        for topic, key, value in plan_messages(log, None, "", 50, PARTITIONS)
    ]
    assert sent == [
        (REQUESTS_TOPIC, b"orders-api", [first]),
        (REQUESTS_TOPIC, b"orders-api", [second]),
        (REQUESTS_TOPIC, None, b"not json"),
        (REQUESTS_TOPIC, b"orders-api", [third]),
    ]
