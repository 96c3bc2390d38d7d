"""Hostile input and faults against the real worker on a real broker (issue 12).

Valid traffic interleaved with every hostile kind is counted exactly, every bad element is
dead-lettered exactly once (also over graceful restarts), letters stay bounded, the worker
stays alive and /metrics answers; a broker restart mid-replay still ends equal to batch mode.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from slaengine.config import load_sla_config
from streams.pipeline import MAX_LETTER_BYTES

from .conftest import CONFIG, WorkerProcess, batch_rows, comparable, produce
from .test_worker_on_kafka import day_of_traffic, iso, read_all, wait_for

pytestmark = pytest.mark.slow  # worker processes on the broker: not in scripts/test --quick

NOW = time.time()
HUGE = int("9" * 400)
SERVICE_LIMIT = 5


def request(i: int, **fields: object) -> dict:
    return {
        "ts": iso(NOW - 1800 + i * 0.5),
        "service": "orders-api",
        "endpoint": "GET /orders/{id}",
        "status": 200 if i % 10 else 503,
        "latency_ms": 20 + i % 700,
        "request_id": f"r{i}",
        **fields,
    }


def resource(i: int, **fields: object) -> dict:
    return {
        "ts": iso(NOW - 86400 * (20 - i)),
        "resource": "database_size",
        "value": 40.0 + i,
        "unit": "GB",
        "capacity": 150,
        **fields,
    }


def order(i: int, **fields: object) -> dict:
    return {"ts": iso(NOW - 3600 + i), "order_id": f"o{i}", "event": "created", **fields}


def j(obj: object) -> bytes:
    return json.dumps(obj).encode()


def hostile_messages() -> list[tuple[str, bytes | None, int]]:
    """(topic, value, dead letters it must produce): every hostile kind of issue 12."""
    bad_elements = [
        request(0, ts=HUGE),
        request(0, latency_ms=HUGE),
        request(0, status=HUGE),
        request(0, service="bad\ud800name"),
        request(0, endpoint="GET /\r\n<!channel>"),
        request(0, service="s" * 300),
        request(0, ts="0001-01-01T00:00:00+14:00"),
        42,
        None,
        request(0, ts=1_790_856_000),
    ]
    requests = [
        j(request(0, ts=HUGE)),
        j(request(0, latency_ms=HUGE)),
        j(request(0, status=HUGE)),
        j(request(0, service="bad\ud800name")),
        j(request(0, endpoint="GET /\r\nBcc: all")),
        j(request(0, service="s" * 300)),
        j(request(0, ts="0001-01-01T00:00:00+14:00")),
        j(request(0, ts=1_790_856_000)),
        b'{"ts": NaN, "service": "orders-api", "latency_ms": Infinity}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"status": ' + b"9" * 5000 + b"}",
        b"\xff\xfe",
        None,
        b"[]",
        j(dict(request(0, status="x"), padding="p" * 900_000)),  # a 900 kB bad message
    ]
    messages: list[tuple[str, bytes | None, int]] = [("sla.requests", raw, 1) for raw in requests]
    messages.append(
        ("sla.requests", j([bad_elements[i % len(bad_elements)] for i in range(2000)]), 2000)
    )
    messages += [
        ("sla.resources", j(body), 1)
        for body in (
            resource(0, ts="0001-01-01T00:00:00+14:00"),
            resource(0, value=HUGE),
            resource(0, capacity=HUGE),
            resource(0, resource="bad\ud800name"),
            resource(0, labels={"tier": "\x1b[31m"}),
        )
    ]
    messages += [
        ("sla.orders", j(body), 1) for body in (order(0, order_id="o\ud800"), order(0, ts=HUGE))
    ]
    return messages


async def send(
    bootstrap: str, prefix: str, messages: list[tuple[str, bytes | None, bytes]]
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=4 * 1024 * 1024
    )
    await producer.start()
    try:
        for topic, value, key in messages:
            await producer.send(prefix + topic, value=value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def uncommitted(bootstrap: str, prefix: str, topic: str) -> int:
    """Messages of ``topic`` past the worker group's committed offsets."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(f"{prefix}slaengine")
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(prefix + topic, bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(prefix + topic) or set()
        ends = await consumer.end_offsets([TopicPartition(prefix + topic, p) for p in partitions])
    finally:
        await consumer.stop()
    return sum(end - (committed[tp].offset if tp in committed else 0) for tp, end in ends.items())


async def rewind(bootstrap: str, prefix: str, topic: str) -> int:
    """Commit offset 0 for every partition of ``topic`` in the (stopped) worker's group; returns the
    number of messages that will be redelivered."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([prefix + topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(prefix + topic, p["partition"]) for p in described["partitions"]]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=f"{prefix}slaengine", enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.commit(dict.fromkeys(partitions, 0))
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


def limited_config(tmp_path: Path) -> Path:
    path = tmp_path / "slo.yaml"
    path.write_text(CONFIG.read_text() + f"\nlimits:\n  services: {SERVICE_LIMIT}\n")
    return path


def test_hostile_traffic_on_the_real_broker_counts_every_valid_event_and_letters_every_bad_one_once(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    rng = random.Random(12)
    hostile = hostile_messages()
    valid = (
        [("sla.requests", j(request(i)), f"k{i % 7}".encode()) for i in range(3000)]
        + [("sla.resources", j(resource(i)), b"database_size") for i in range(20)]
        + [("sla.orders", j(order(i)), f"o{i}".encode()) for i in range(50)]
    )
    mixed_batch = (
        "sla.requests",
        j([request(3100), request(3101, status=700), request(3102)]),
        b"mix",
    )
    traffic = list(
        valid
    )  # valid events keep their time order; the hostile ones land anywhere among them
    for n, (topic, value, _) in enumerate(hostile):
        traffic.insert(rng.randrange(len(traffic) + 1), (topic, value, f"h{n}".encode()))
    traffic.append(mixed_batch)
    expected_letters = sum(count for _, _, count in hostile) + 1
    config = limited_config(tmp_path)
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1", config=config).start()
    workers.append(worker)
    asyncio.run(send(kafka_bootstrap, topic_prefix, traffic))
    wait_for(
        lambda: worker.metric("slaengine_events_processed_total") >= 3072, what="all valid events"
    )
    # a flood of new service names after the valid ones: held up to the limit, the rest
    # dead-lettered
    flood = [request(3200 + i, service=f"svc-{i}") for i in range(300)]
    asyncio.run(send(kafka_bootstrap, topic_prefix, [("sla.requests", j(flood), b"flood")]))
    measured = {
        slo.service for slo in load_sla_config(CONFIG).slos if slo.service
    }  # held from the start
    flooded = 300 - (SERVICE_LIMIT - len(measured))
    expected_letters += flooded
    wait_for(
        lambda: worker.metric("slaengine_events_invalid_total") >= expected_letters,
        what="all letters",
    )

    assert (
        worker.metric("slaengine_events_processed_total", topic="sla.requests")
        == 3000 + 2 + 300 - flooded
    )
    assert worker.metric("slaengine_events_processed_total", topic="sla.resources") == 20
    assert worker.metric("slaengine_events_processed_total", topic="sla.orders") == 50
    assert worker.metric("slaengine_series_rejected_total", kind="service") == flooded
    assert worker.metric("slaengine_series", kind="service") == SERVICE_LIMIT
    assert worker.metric("slaengine_events_invalid_total", reason="internal_error") == 0
    letters = asyncio.run(
        read_all(kafka_bootstrap, topic_prefix + "sla.deadletter", expected_letters)
    )
    assert len(letters) == expected_letters
    coordinates = {tuple(letter["source"].values()) for letter in letters}
    assert len(coordinates) == expected_letters  # no element twice
    assert max(len(json.dumps(letter)) for letter in letters) <= MAX_LETTER_BYTES
    assert {letter["reason"] for letter in letters} >= {
        "future_timestamp",
        "out_of_range",
        "bad_text",
        "too_long",
        "bad_timestamp",
        "not_json",
        "not_utf8",
        "not_object",
        "empty_batch",
        "wrong_type",
        "too_many_series",
    }
    rows = {(r["name"], r["window"]): r for r in worker.slo_rows(iso(time.time()))}
    assert rows[("api-availability", "1d")]["total"] == 3002  # flood services feed no SLO
    assert b"bad\\ud800name" not in worker.get("/metrics")  # rejected, never held
    assert worker.alive

    # defect 13: the quiet tail is committed by the timer, without more traffic
    for topic in ("sla.requests", "sla.resources", "sla.orders"):
        wait_for(
            lambda t=topic: asyncio.run(uncommitted(kafka_bootstrap, topic_prefix, t)) == 0,
            timeout=20,
            what=f"every offset of {topic} committed",
        )
    assert worker.metric("slaengine_kafka_consumer_lag") == 0
    # graceful restarts replay nothing: no letter again, nothing counted again
    for _ in range(2):
        worker.stop()
        assert worker.process is not None and worker.process.returncode == 0, worker.log_tail()
        worker = WorkerProcess(
            kafka_bootstrap, topic_prefix, tmp_path / "w1", config=config
        ).start()
        workers.append(worker)
        time.sleep(3)
        assert worker.metric("slaengine_events_processed_total") == 0
        assert worker.metric("slaengine_events_invalid_total") == 0
    # redelivery of everything (offsets rewound while stopped): skipped by the applied high-water
    # marks
    worker.stop()
    redelivered = asyncio.run(rewind(kafka_bootstrap, topic_prefix, "sla.requests"))
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1", config=config).start()
    workers.append(worker)
    wait_for(
        lambda: worker.metric("slaengine_messages_replayed_total") >= redelivered,
        timeout=60,
        what="the rewound messages to be skipped as replays",
    )
    assert worker.metric("slaengine_events_processed_total") == 0
    assert worker.metric("slaengine_events_invalid_total") == 0
    assert (
        len(
            asyncio.run(
                read_all(
                    kafka_bootstrap,
                    topic_prefix + "sla.deadletter",
                    expected_letters + 1,
                    timeout=5,
                )
            )
        )
        == expected_letters
    )
    rows = {(r["name"], r["window"]): r for r in worker.slo_rows(iso(time.time()))}
    assert rows[("api-availability", "1d")]["total"] == 3002  # restored from the changelog


class SteadyBurst:
    """Requests sent in rounds of 2,000 (every 50th dead-letter-bound) from a thread, until
    stopped: a worker can never catch up with the burst before a stop in the middle of it."""

    ROUND = 2_000

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.bootstrap, self.prefix = bootstrap, prefix
        self.sent = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    @staticmethod
    def message(i: int) -> tuple[str, bytes, bytes]:
        body = request(
            i, ts=iso(NOW - 3000 + (i % 25_000) * 0.1), status=700 if i % 50 == 0 else 200
        )
        return "sla.requests", j(body), f"k{i % 4}".encode()

    async def _run(self) -> None:
        while not self.stopping.is_set():
            batch = range(self.sent, self.sent + self.ROUND)
            await send(self.bootstrap, self.prefix, [self.message(i) for i in batch])
            self.sent += self.ROUND

    def start(self) -> SteadyBurst:
        self.thread.start()
        return self

    def stop(self) -> int:
        """Stops after the round under way plus one more; the events sent in all."""
        rounds_before = self.sent
        wait_for(lambda: self.sent > rounds_before, what="one more round of the burst")
        self.stopping.set()
        self.thread.join(timeout=60)
        return self.sent

    @property
    def letters(self) -> int:
        return len(range(0, self.sent, 50))


def test_sigterm_mid_burst_flushes_and_commits_so_nothing_is_letter_twice(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1").start()
    burst = SteadyBurst(kafka_bootstrap, topic_prefix).start()
    wait_for(
        lambda: worker.metric("slaengine_events_processed_total") >= 2000, what="some progress"
    )
    worker.stop()  # SIGTERM while the burst is still being sent
    assert worker.process is not None and worker.process.returncode == 0, worker.log_tail()
    assert "graceful stop: flushed" in worker.log_text()
    sent = burst.stop()  # the burst goes on after the stop: the next worker has work left
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1").start()
    workers.append(worker)
    wait_for(
        lambda: asyncio.run(uncommitted(kafka_bootstrap, topic_prefix, "sla.requests")) == 0,
        what="the rest processed and committed",
    )
    letters = asyncio.run(
        read_all(kafka_bootstrap, topic_prefix + "sla.deadletter", burst.letters + 1, timeout=10)
    )
    assert len(letters) == burst.letters  # exactly once, across the stop
    rows = {(r["name"], r["window"]): r for r in worker.slo_rows(iso(time.time()))}
    assert rows[("api-availability", "1d")]["total"] == sent - burst.letters


# ---- a broker restart in the middle of a replay ----


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def own_broker(kafka_local, tmp_path: Path) -> Iterator:
    """A second broker of this test's own (port and state in tmp_path); the shared one is not
    touched."""
    broker = kafka_local(
        free_port(),
        state_root=tmp_path / "kafka",
        extra_env=(("KAFKA_CONTROLLER_PORT", str(free_port())),),
    )
    started = broker.run("start")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield broker
    finally:
        broker.run("stop")


@pytest.mark.kafka
def test_broker_restart_mid_replay_then_final_slis_equal_batch_mode(
    own_broker, topic_prefix: str, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{own_broker.port}"
    events = tmp_path / "events.ndjson"
    day_of_traffic(events, seed=12, days=2, rate=40)  # about 130,000 events: ~2 s of the worker
    total = sum(1 for _ in events.open())
    produce(bootstrap, topic_prefix, events, batch_size=10)
    bad = [("sla.requests", j(request(i, status=700)), f"bad{i}".encode()) for i in range(300)]
    asyncio.run(send(bootstrap, topic_prefix, bad))
    worker = WorkerProcess(bootstrap, topic_prefix, tmp_path / "w1").start()
    try:
        wait_for(
            lambda: worker.metric("slaengine_events_processed_total") >= 1_000,
            what="replay under way",
        )
        assert worker.metric("slaengine_events_processed_total") < total, (
            "replay finished before the fault"
        )
        stopped = own_broker.run("stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        time.sleep(10)
        assert worker.alive, worker.log_tail()
        started = own_broker.run("start")
        assert started.returncode == 0, started.stdout + started.stderr
        at = iso(time.time())
        expected = comparable(batch_rows(events, at))
        wait_for(
            lambda: comparable(worker.slo_rows(at)) == expected,
            timeout=240,
            what="SLIs after the broker restart to equal batch mode",
        )
        # no dead letter lost (a rebalance during the outage may replay a few: at least once)
        letters = asyncio.run(read_all(bootstrap, topic_prefix + "sla.deadletter", 300))
        assert len({tuple(letter["source"].values()) for letter in letters}) == 300
        assert worker.alive
    finally:
        worker.stop()
