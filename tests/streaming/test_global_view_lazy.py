"""The global view reads bucket snapshots lazily: the raw newest record per key, decoded when a
reader settles the view. It must end exactly where putting every record would, and a reader
after the read barrier must see every record written before it."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from faust.serializers import codecs

from slaengine.events import ORDERS_TOPIC, REQUESTS_TOPIC, SOURCE_NAMES, decode_element
from slaengine.sli.engine import SliEngine
from streams.global_view import GlobalView

from .test_global_merge import CONFIG, PARTITIONS, START, partition_of, rows, traffic

START_MS = int(START.timestamp() * 1000)
HOUR = START_MS // 3_600_000


class CountingEngine(SliEngine):
    """A real engine that counts the records put into it, per key."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.puts: dict[str, int] = {}

    def put(self, key: str, value: Any) -> None:
        self.puts[key] = self.puts.get(key, 0) + 1
        super().put(key, value)


def wire(key: str, value: Any) -> tuple[bytes, bytes | None]:
    """A stage-1 table record as Faust writes it to the changelog."""
    return codecs.dumps("json", key), None if value is None else codecs.dumps("json", value)


def view_of(engine: SliEngine | None = None) -> GlobalView:
    view = GlobalView(CONFIG, "unused:9092", [], PARTITIONS)
    if engine is not None:
        view.engine = engine
    return view


def request(second: int, latency_ms: int) -> Any:
    raw = {
        "ts": (START + timedelta(seconds=second)).isoformat().replace("+00:00", "Z"),
        "service": "orders-api",
        "endpoint": "GET /orders",
        "status": 200,
        "latency_ms": latency_ms,
    }
    return decode_element(REQUESTS_TOPIC, raw, START_MS + 86_400_000)


def test_many_flushes_of_one_bucket_are_decoded_once_when_read() -> None:
    stage1 = SliEngine(CONFIG)
    view = view_of(CountingEngine(CONFIG))
    key = f"b|api-latency|requests:0|{HOUR}"
    for offset in range(50):  # a flush after every event: the hour is rewritten 50 times
        stage1.apply(request(offset * 7, 20 + offset * 13), "requests:0", offset)
        for record_key, _, value in stage1.take_changes("requests:0"):
            view.apply(*wire(record_key, value))
    assert view.records > 50
    assert ("api-latency", "requests:0") not in view.engine.series, "decoded before any read"

    view.settle()
    assert view.engine.puts[key] == 1  # type: ignore[attr-defined]
    held = view.engine.series[("api-latency", "requests:0")][HOUR]
    assert held.to_state() == stage1.series[("api-latency", "requests:0")][HOUR].to_state()
    assert held.offset == 49 and held.total == 50


def test_an_older_snapshot_read_after_a_newer_one_is_ignored_as_put_would() -> None:
    stage1 = SliEngine(CONFIG)
    snapshots = []
    for offset in range(3):
        stage1.apply(request(offset, 30), "requests:2", offset)
        snapshots += [
            (k, v)
            for k, _, v in stage1.take_changes("requests:2")
            if k.startswith("b|api-availability|")
        ]
    key = snapshots[0][0]
    # a former owner's late write (offset 0) after the newest (2); then a deletion and an old one
    for sequence in ([2, 0], [0, 2, 1], [2, None, 0], [1, 2, None]):
        eager, lazy = SliEngine(CONFIG), view_of()
        for index in sequence:
            value = None if index is None else snapshots[index][1]
            eager.put(key, value)
            lazy.apply(*wire(key, value))
        lazy.settle()
        expected = {
            h: b.to_state()
            for h, b in eager.series.get(("api-availability", "requests:2"), {}).items()
        }
        held = {
            h: b.to_state()
            for h, b in lazy.engine.series.get(("api-availability", "requests:2"), {}).items()
        }
        assert held == expected, sequence


def test_the_lazy_view_ends_where_putting_every_record_ends_whenever_it_is_read() -> None:
    """Six hours over four partitions, flushes at arbitrary points, readers at arbitrary points,
    and a replay of older snapshots: the settled view equals an engine fed every record."""
    events = traffic()
    now_ms = START_MS + 86_400_000
    stage1 = SliEngine(CONFIG)
    changelog: list[tuple[str, Any]] = []
    sources = [
        f"{SOURCE_NAMES[t]}:{p}" for t in (REQUESTS_TOPIC, ORDERS_TOPIC) for p in range(PARTITIONS)
    ]
    for line, (topic, raw) in enumerate(events):
        stage1.apply(
            decode_element(topic, raw, now_ms),
            f"{SOURCE_NAMES[topic]}:{partition_of(topic, raw)}",
            line,
        )
        if line % 331 == 0:
            for source in sources:
                changelog += [(key, value) for key, _, value in stage1.take_changes(source)]
    changelog += [(key, value) for key, _, value in stage1.take_changes()]
    rng = random.Random(5)
    changelog += rng.sample(changelog, len(changelog) // 4)  # a replay: older snapshots again
    changelog.append((f"b|api-availability|requests:1|{HOUR + 2}", None))  # and a deleted hour
    bucket_records = [key for key, _ in changelog if key.startswith("b|")]
    assert len(bucket_records) > 2 * len(set(bucket_records)), "few rewrites: not a test"

    eager, lazy = SliEngine(CONFIG), view_of(CountingEngine(CONFIG))
    at_ms = START_MS + 6 * 3_600_000 + 1_800_000
    reads = 0
    for index, (key, value) in enumerate(changelog):
        eager.put(key, value)
        lazy.apply(*wire(key, value))
        if rng.random() < 0.01:  # a reader: what it sees equals the eager engine at that point
            lazy.settle()
            reads += 1
            assert rows(lazy.engine, at_ms) == rows(eager, at_ms), index
    lazy.settle()
    assert rows(lazy.engine, at_ms) == rows(eager, at_ms)
    assert {k: {h: b.to_state() for h, b in v.items()} for k, v in lazy.engine.series.items()} == {
        k: {h: b.to_state() for h, b in v.items()} for k, v in eager.series.items()
    }
    # at most one decode per bucket key per read, far fewer than one per record
    puts = lazy.engine.puts  # type: ignore[attr-defined]
    assert all(puts[key] <= reads + 1 for key in bucket_records)
    assert sum(puts[key] for key in set(bucket_records)) < len(bucket_records) * 0.7


def test_records_that_are_not_sli_state_are_skipped_unread_and_a_bad_bucket_is_counted() -> None:
    view = view_of()
    view.apply(b'"p|requests:0"', b"not json")  # an applied mark: never decoded by the view
    view.apply(b'"r|cpu|host-1"', b"not json either")
    view.apply(f'"b|api-availability|requests:0|{HOUR}"'.encode(), b"{broken")
    assert view.errors == 0
    view.settle()
    assert view.errors == 1 and view.pending == {}


async def test_a_reader_after_the_barrier_sees_every_flush_before_it(
    kafka_bootstrap: str, create_topics: Any
) -> None:
    """On the broker: a bucket rewritten by many flushes, then one more flush right before a
    read; the barrier returns with the engine holding the newest snapshot each time."""
    (topic,) = await create_topics("app-sli-req-changelog", partitions=PARTITIONS)
    view = GlobalView(CONFIG, kafka_bootstrap, [topic], PARTITIONS)
    stop = asyncio.Event()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    stage1 = SliEngine(CONFIG)
    running: asyncio.Future[None] | None = None

    async def flush(offset: int) -> None:
        stage1.apply(request(offset, 40 + offset), "requests:3", offset)
        for key, _, value in stage1.take_changes("requests:3"):
            raw_key, raw_value = wire(key, value)
            await producer.send_and_wait(topic, raw_value, key=raw_key, partition=3)

    def held_offset() -> int | None:
        bucket = view.engine.series.get(("api-latency", "requests:3"), {}).get(HOUR)
        return None if bucket is None else bucket.offset

    try:
        for offset in range(5):  # written before the worker starts: its backlog
            await flush(offset)
        running = asyncio.ensure_future(view.run_forever(stop))
        assert await asyncio.wait_for(view.caught_up.wait(), 30) is True
        assert held_offset() == 4, "caught up, yet the backlog is not in the engine"
        for offset in range(5, 30):
            await flush(offset)
        assert await view.wait_read_to_end(10)
        assert held_offset() == 29
        for offset in range(30, 33):  # a reader right after each flush
            await flush(offset)
            assert await view.wait_read_to_end(10)
            assert held_offset() == offset
            assert (
                view.engine.series[("api-latency", "requests:3")][HOUR].to_state()
                == stage1.series[("api-latency", "requests:3")][HOUR].to_state()
            )
    finally:
        stop.set()
        await producer.stop()
        if running is not None:
            await asyncio.wait_for(running, 10)
