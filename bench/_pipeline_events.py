"""Request events for the pipeline benchmark, and getting them onto the broker.

The events look like ``slaengine generate``'s: ISO-8601 timestamps, the demo
config's two services (orders-api feeds three SLOs, catalog-api one), 200/201/
204/404 statuses with rare 503s, log-normal latencies and a request id. They
are keyed by service, as ``slaengine produce`` keys them.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from slaengine.events import (
    ALERTS_TOPIC,
    DEADLETTER_TOPIC,
    ORDERS_TOPIC,
    REQUESTS_TOPIC,
    RESOURCES_TOPIC,
)
from slaengine.kafka_io import ensure_topics, publish

PARTITIONS = 4
SERVICES = (("orders-api", 0.6), ("catalog-api", 0.4))
ENDPOINTS = ("GET /orders/{id}", "POST /orders", "GET /orders", "GET /health")
STATUSES = (200, 200, 200, 201, 204, 404)
ERROR_RATIO = 0.0005  # well inside every SLO, so the worker's alerting stays quiet
SPAN_MS = 50 * 60_000  # pre-produced events spread over the last 50 minutes, in order


def iso(ts_ms: int) -> str:
    clock = datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
    return f"{clock}{ts_ms % 1000:03d}Z"


def request_event(rng: random.Random, ts_ms: int, service: str | None = None) -> dict:
    if service is None:
        service = SERVICES[0][0] if rng.random() < SERVICES[0][1] else SERVICES[1][0]
    return {
        "ts": iso(ts_ms),
        "service": service,
        "endpoint": rng.choice(ENDPOINTS),
        "status": 503 if rng.random() < ERROR_RATIO else rng.choice(STATUSES),
        "latency_ms": round(rng.lognormvariate(math.log(80), 0.7), 2),
        "request_id": f"r-{ts_ms}-{rng.randrange(10**6)}",
    }


def generate_requests(count: int, end_ms: int, seed: int = 1) -> Iterator[dict]:
    """``count`` request events in event-time order, ending at ``end_ms``."""
    rng = random.Random(seed)
    start_ms = end_ms - SPAN_MS
    for i in range(count):
        yield request_event(rng, start_ms + i * SPAN_MS // count)


def single_messages(topic: str, events: Iterable[dict]) -> Iterator[tuple[str, bytes, bytes]]:
    for event in events:
        yield topic, event["service"].encode(), json.dumps(event, separators=(",", ":")).encode()


def enveloped_messages(
    topic: str, events: Iterable[dict], size: int
) -> Iterator[tuple[str, bytes, bytes]]:
    """JSON-array envelopes of up to ``size`` consecutive events of one service."""
    pending: dict[str, list[dict]] = {}
    for event in events:
        group = pending.setdefault(event["service"], [])
        group.append(event)
        if len(group) == size:
            body = json.dumps(group, separators=(",", ":")).encode()
            yield topic, event["service"].encode(), body
            pending[event["service"]] = []
    for service, group in pending.items():
        if group:
            yield topic, service.encode(), json.dumps(group, separators=(",", ":")).encode()


def requests_topic(prefix: str) -> str:
    return f"{prefix}{REQUESTS_TOPIC}"


def create_pipeline_topics(bootstrap: str, prefix: str) -> None:
    """Every topic a worker with this prefix uses, as ``slaengine worker`` creates them."""
    names = [
        f"{prefix}{name}"
        for name in (REQUESTS_TOPIC, ORDERS_TOPIC, RESOURCES_TOPIC, DEADLETTER_TOPIC, ALERTS_TOPIC)
    ]
    asyncio.run(ensure_topics(bootstrap, names, PARTITIONS))


def produce(bootstrap: str, messages: Iterable[tuple[str, bytes, bytes]]) -> int:
    """Publish with slaengine's own publisher (acks=all, idempotent)."""
    return asyncio.run(publish(bootstrap, messages))
