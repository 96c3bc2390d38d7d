"""Thin aiokafka adapters: create topics, publish event logs (with optional batch envelopes)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from slaengine.batch import iter_lines, kind_of_event
from slaengine.errors import KafkaUnavailableError
from slaengine.events import (
    ORDERS_TOPIC,
    PROJECTIONS_TOPIC,
    REQUESTS_TOPIC,
    RESOURCES_TOPIC,
)

KEY_FIELDS = {
    REQUESTS_TOPIC: "service",
    ORDERS_TOPIC: "order_id",
    RESOURCES_TOPIC: "resource",
    PROJECTIONS_TOPIC: "projection",
}


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
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
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


@functools.lru_cache(maxsize=1 << 16)
def partition_of(key: bytes, partitions: int) -> int:
    """The partition the producer's default partitioner (Kafka's murmur2) sends ``key`` to."""
    from aiokafka.partitioner import DefaultPartitioner

    return int(DefaultPartitioner()(key, list(range(partitions)), []))


async def partition_counts(
    bootstrap: str, topics: Iterable[str], partitions_if_missing: int
) -> dict[str, int]:
    """Partitions of each topic; a missing topic is created with ``partitions_if_missing``."""
    from aiokafka.admin import AIOKafkaAdminClient

    topics = list(topics)
    await ensure_topics(bootstrap, topics, partitions_if_missing)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        return {d["topic"]: len(d["partitions"]) for d in await admin.describe_topics(topics)}
    finally:
        await admin.close()


def plan_messages(
    path: Path,
    topic: str | None,
    prefix: str,
    batch_size: int,
    partitions: Mapping[str, int],
    request_key: str = "service",
) -> Iterator[tuple[str, bytes | None, bytes]]:
    """(topic, key, value) per message; the events of one partition are enveloped up to batch_size.

    ``partitions`` gives each target topic's partition count. An event goes to the partition
    its own key hashes to (as unbatched); an envelope holds consecutive events of one
    partition in file order and is keyed by its first event, so it lands on that partition.
    Enveloping per key instead left orders (keyed by order id) in envelopes of ~2 events,
    applied at the per-message rate. Each partition receives its events in file order, which
    is all the worker relies on: its watermarks and order expiries are per partition.
    Requests are keyed by ``request_key``: ``service`` keeps a service on one partition,
    ``request_id`` spreads a busy service over all of them.
    """
    # (topic, partition or None for events without a key) -> (key of the first event, lines)
    pending: dict[tuple[str, int | None], tuple[bytes | None, list[bytes]]] = {}
    for _, raw in iter_lines(path):
        try:
            obj = json.loads(raw)
        except ValueError:
            obj = None
        kind = kind_of_event(obj)
        target = topic or f"{prefix}{kind}"
        key = key_of(kind, obj, request_key)
        if batch_size <= 1 or obj is None:
            yield (
                target,
                key,
                raw,
            )  # malformed lines pass through unchanged: the worker dead-letters them
            continue
        group = (target, None if key is None else partition_of(key, partitions[target]))
        if isinstance(
            obj, list
        ):  # already an envelope: sent as it is, after what its partition holds
            if group in pending:
                held_key, lines = pending.pop(group)
                yield target, held_key, envelope(lines)
            yield target, key, raw
            continue
        held_key, lines = pending.setdefault(group, (key, []))
        lines.append(raw)
        if len(lines) >= batch_size:
            yield target, held_key, envelope(lines)
            del pending[group]
    for (target, _), (held_key, lines) in pending.items():
        yield target, held_key, envelope(lines)


async def publish(
    bootstrap: str, messages: Iterable[tuple[str, bytes | None, bytes]], on_sent: Any = None
) -> int:
    """Send messages with acks=all; returns the number sent. Raises KafkaUnavailableError."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaConnectionError

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        max_batch_size=1 << 20,
        max_request_size=8 << 20,
        enable_idempotence=True,
    )
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
