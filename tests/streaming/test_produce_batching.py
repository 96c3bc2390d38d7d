"""``slaengine produce`` envelopes: batching never moves an event far enough to change an SLI.

In sparse traffic the 2,000-line bound spans days: an order's shipment held that long
reached the worker after the partition's watermark had expired the order as missed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from slaengine.config import load_sla_config
from slaengine.events import decode_message, element_offset, parse_timestamp_ms
from slaengine.kafka_io import MAX_PENDING_MS, plan_messages
from slaengine.settings import DEFAULT_CONFIG
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import evaluate_window
from slaengine.synthetic import TrafficPlan, generate_events

CONFIG = load_sla_config(DEFAULT_CONFIG)
START = datetime(2026, 10, 1, tzinfo=UTC)
END = START + timedelta(days=12)


def sparse_log(path: Path) -> Path:
    with path.open("w") as out:
        for event in generate_events(TrafficPlan(start=START, end=END, seed=31, requests_per_minute=0.3,
                                                 orders_per_hour=6)):
            out.write(json.dumps(event) + "\n")
    return path


def fulfillment_as_sent(path: Path, batch_size: int) -> tuple[int, int]:
    """order-fulfillment over the log's last 7 days, applying the orders in the order produce sends them."""
    engine = SliEngine(CONFIG)
    now_ms = int(END.timestamp() * 1000)
    for offset, (topic, _, value) in enumerate(plan_messages(path, None, "", batch_size)):
        if topic == "sla.orders":
            events, invalid = decode_message(topic, value, now_ms)
            assert not invalid
            for index, event in events:
                engine.apply(event, "orders:0", element_offset(offset, index))
    row = evaluate_window(engine, engine.slos["order-fulfillment"], "7d", now_ms)
    return row.good, row.total


def test_batched_orders_count_as_the_file_does(tmp_path: Path) -> None:
    log = sparse_log(tmp_path / "sparse.ndjson")
    assert fulfillment_as_sent(log, 50) == fulfillment_as_sent(log, 1)


def test_no_event_is_held_back_a_minute_of_event_time(tmp_path: Path) -> None:
    log = sparse_log(tmp_path / "sparse.ndjson")
    newest = held_back = 0
    for _, _, value in plan_messages(log, None, "", 50):
        for element in json.loads(value) if value.startswith(b"[") else [json.loads(value)]:
            ts = parse_timestamp_ms(element["ts"])
            newest = max(newest, ts)
            held_back = max(held_back, newest - ts)
    assert held_back < MAX_PENDING_MS
