"""Thin aiokafka adapters: create topics, publish event logs (with optional batch envelopes)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from slaengine.batch import iter_lines, kind_of_event
from slaengine.errors import KafkaUnavailableError
from slaengine.events import (
    ORDERS_TOPIC,
    PROJECTIONS_TOPIC,
    REQUESTS_TOPIC,
    RESOURCES_TOPIC,
    parse_timestamp_ms,
)

KEY_FIELDS = {REQUESTS_TOPIC: "service", ORDERS_TOPIC: "order_id", RESOURCES_TOPIC: "resource",
              PROJECTIONS_TOPIC: "projection"}


async def ensure_topics(bootstrap: str, names: Iterable[str], partitions: int) -> None:
    """Create missing topics (idempotent)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        await admin.start()
    except KafkaConnectionError as err:
        raise KafkaUnavailableError(f"cannot reach Kafka at {bootstrap}: {err}") from err
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(n, partitions, 1) for n in names if n not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


def key_of(topic_kind: str, obj: Any, request_key: str = "service") -> bytes | None:
    element = obj[0] if isinstance(obj, list) and obj else obj
    if isinstance(element, dict):
        field = request_key if topic_kind == REQUESTS_TOPIC else KEY_FIELDS.get(topic_kind, "")
        value = element.get(field)
        if isinstance(value, str):
            return value.encode()
    return None


def envelope(lines: list[bytes]) -> bytes:
    """Raw JSON events as one batch message (a JSON array)."""
    return b"[" + b",".join(lines) + b"]"


MAX_PENDING_LINES = 2_000  # bounds how far batching may move an event from its file position
# ... and how far in event time: in sparse traffic 2,000 lines span a day, and an order event
# held that long reaches the worker after its partition's watermark expired the order
MAX_PENDING_MS = 60_000


def _event_ms(obj: Any) -> int | None:
    try:
        return parse_timestamp_ms(obj.get("ts")) if isinstance(obj, dict) else None
    except Exception:  # noqa: BLE001 - the worker dead-letters it; here it only bounds nothing
        return None


def plan_messages(path: Path, topic: str | None, prefix: str, batch_size: int,
                  request_key: str = "service") -> Iterator[tuple[str, bytes | None, bytes]]:
    """(topic, key, value) per message; events of one key are enveloped up to batch_size.

    Each key keeps its file order; across keys, events move at most MAX_PENDING_LINES lines
    and MAX_PENDING_MS of event time.
    Requests are keyed by ``request_key``: ``service`` keeps a service on one partition,
    ``request_id`` spreads a busy service over all of them.
    """
    pending: dict[tuple[str, bytes | None], list[bytes]] = {}
    pending_lines = 0
    oldest_ms: int | None = None  # event time of the first line held
    for _, raw in iter_lines(path):
        try:
            obj = json.loads(raw)
        except ValueError:
            obj = None
        kind = kind_of_event(obj)
        target = topic or f"{prefix}{kind}"
        key = key_of(kind, obj, request_key)
        if batch_size <= 1 or obj is None or isinstance(obj, list):
            yield target, key, raw  # malformed lines pass through unchanged: the worker dead-letters them
            continue
        event_ms = _event_ms(obj)
        if pending and event_ms is not None and oldest_ms is not None and event_ms - oldest_ms >= MAX_PENDING_MS:
            for (group_topic, group_key), lines in pending.items():
                yield group_topic, group_key, envelope(lines)
            pending.clear()
            pending_lines = 0
        if not pending:
            oldest_ms = event_ms
        group = pending.setdefault((target, key), [])
        group.append(raw)
        pending_lines += 1
        if len(group) >= batch_size:
            yield target, key, envelope(group)
            pending_lines -= len(group)
            del pending[(target, key)]
        elif pending_lines >= MAX_PENDING_LINES:
            for (group_topic, group_key), lines in pending.items():
                yield group_topic, group_key, envelope(lines)
            pending.clear()
            pending_lines = 0
    for (target, key), group in pending.items():
        yield target, key, envelope(group)


async def publish(bootstrap: str, messages: Iterable[tuple[str, bytes | None, bytes]],
                  on_sent: Any = None) -> int:
    """Send messages with acks=all; returns the number sent. Raises KafkaUnavailableError."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaConnectionError

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                                max_batch_size=1 << 20, max_request_size=8 << 20,
                                enable_idempotence=True)
    try:
        await producer.start()
    except KafkaConnectionError as err:
        raise KafkaUnavailableError(f"cannot reach Kafka at {bootstrap}: {err}") from err
    sent = 0
    inflight: list[asyncio.Future[Any]] = []
    try:
        for topic, key, value in messages:
            inflight.append(await producer.send(topic, value=value, key=key))
            sent += 1
            if len(inflight) >= 2000:
                await asyncio.gather(*inflight)
                inflight.clear()
            if on_sent is not None:
                on_sent(1)
        await asyncio.gather(*inflight)
    finally:
        await producer.stop()
    return sent
