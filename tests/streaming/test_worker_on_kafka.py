"""The worker on the real broker: dead-lettering, agreement with batch mode, crashes, rebalances."""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import UTC
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from slaengine.synthetic import TrafficPlan, generate_events

from .conftest import WorkerProcess, batch_rows, comparable, produce

pytestmark = pytest.mark.slow  # worker processes on the broker: not in scripts/test --quick
NOW = time.time()


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def wait_for(predicate, timeout: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError as err:
            last_error = err
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what} ({last_error})")


BAD_RAW = [b"\xff\xfe\xfd", b"{not json", b"42", b"[]"]


def bad_objects() -> list[dict]:
    base = {
        "ts": iso(NOW),
        "service": "orders-api",
        "endpoint": "GET /",
        "status": 200,
        "latency_ms": 1,
    }
    return [
        {k: v for k, v in base.items() if k != "service"},
        dict(base, status="200"),
        dict(base, status=700),
        dict(base, latency_ms=-5),
        dict(base, ts="not a time"),
        dict(base, ts=iso(NOW + 3600)),
    ]


def mixed_messages(rng: random.Random, valid) -> list[bytes]:
    """9,500 valid events in time order, with 500 bad ones of every kind spread among them.

    A third of the bad ones sit inside batch arrays next to valid events.
    """
    plan = ["raw"] * 160 + ["object"] * 170 + ["batch"] * 170
    plan += ["single"] * (9500 - 170 * 3)
    rng.shuffle(plan)
    messages = []
    for kind in plan:
        if kind == "raw":
            messages.append(rng.choice(BAD_RAW))
        elif kind == "object":
            messages.append(json.dumps(rng.choice(bad_objects())).encode())
        elif kind == "batch":
            good = [next(valid) for _ in range(3)]
            messages.append(json.dumps([*good[:1], rng.choice(bad_objects()), *good[1:]]).encode())
        else:
            messages.append(json.dumps(next(valid)).encode())
    return messages


async def send_all(bootstrap: str, topic: str, messages: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in messages:
            await producer.send(topic, value=value, key=b"orders-api")
        await producer.flush()
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 60) -> list[dict]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    letters: list[dict] = []
    try:
        deadline = time.monotonic() + timeout
        while len(letters) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                letters.extend(json.loads(r.value) for r in records)
        await asyncio.sleep(1)  # anything beyond the expected count would show up here
        for records in (await consumer.getmany(timeout_ms=500)).values():
            letters.extend(json.loads(r.value) for r in records)
    finally:
        await consumer.stop()
    return letters


def test_ten_thousand_events_with_500_malformed_count_9500_and_dead_letter_500(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    rng = random.Random(11)
    counter = iter(range(10**9))

    def valid_events():
        while True:
            i = next(counter)
            yield {
                "ts": iso(NOW - 3600 + i * 0.3),
                "service": "orders-api",
                "endpoint": "GET /orders/{id}",
                "status": rng.choice((200, 200, 503)),
                "latency_ms": rng.uniform(1, 900),
                "request_id": f"r{i}",
            }

    messages = mixed_messages(rng, valid_events())
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1").start()
    workers.append(worker)
    asyncio.run(send_all(kafka_bootstrap, topic_prefix + "sla.requests", messages))

    wait_for(
        lambda: worker.metric("slaengine_events_processed_total", topic="sla.requests") >= 9500,
        what="9,500 processed events",
    )
    letters = asyncio.run(read_all(kafka_bootstrap, topic_prefix + "sla.deadletter", 500))
    assert worker.metric("slaengine_events_processed_total", topic="sla.requests") == 9500
    assert worker.metric("slaengine_events_invalid_total", topic="sla.requests") == 500
    assert len(letters) == 500
    assert all(
        letter["reason"] and letter["detail"] and letter["source"]["topic"].endswith("sla.requests")
        for letter in letters
    )
    assert {letter["reason"] for letter in letters} >= {
        "not_utf8",
        "not_json",
        "not_object",
        "empty_batch",
        "missing_field",
        "wrong_type",
        "out_of_range",
        "bad_timestamp",
        "future_timestamp",
    }
    assert sum(1 for letter in letters if letter["source"]["index"] is not None) > 0
    rows = {(r["name"], r["window"]): r for r in worker.slo_rows(iso(NOW))}
    assert rows[("api-availability", "1d")]["total"] == 9500
    assert worker.alive


def day_of_traffic(path: Path, seed: int, days: float, rate: float) -> None:
    end = time.time() - 120
    plan = TrafficPlan(
        start=_dt(end - days * 86400),
        end=_dt(end),
        seed=seed,
        requests_per_minute=rate,
        orders_per_hour=60,
    )
    with path.open("w") as out:
        for event in generate_events(plan):
            out.write(json.dumps(event) + "\n")


def _dt(ts: float):
    from datetime import datetime

    return datetime.fromtimestamp(ts, UTC).replace(second=0, microsecond=0)


def test_streaming_agrees_exactly_with_batch_mode(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    events = tmp_path / "events.ndjson"
    day_of_traffic(events, seed=21, days=1, rate=10)
    expected_count = sum(1 for _ in events.open())
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1").start()
    workers.append(worker)
    produce(kafka_bootstrap, topic_prefix, events, batch_size=50)
    wait_for(
        lambda: worker.metric("slaengine_events_processed_total") >= expected_count,
        what="all events",
    )
    at = iso(time.time())
    assert comparable(worker.slo_rows(at)) == comparable(batch_rows(events, at))


def test_sigkill_five_times_mid_replay_then_final_slis_equal_batch_mode(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    events = tmp_path / "events.ndjson"
    day_of_traffic(events, seed=5, days=3, rate=40)  # about 200,000 events
    total = sum(1 for _ in events.open())
    assert total >= 200_000
    produce(kafka_bootstrap, topic_prefix, events, batch_size=10)
    rng = random.Random(3)
    for _crash in range(5):
        worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1").start()
        workers.append(worker)  # stopped at the end even when this test fails before its kill
        target = rng.randrange(2_000, 15_000)
        wait_for(
            lambda w=worker, t=target: w.metric("slaengine_events_processed_total") >= t,
            what="progress",
        )
        worker.kill()
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1").start()
    workers.append(worker)
    at = iso(time.time())
    expected = comparable(batch_rows(events, at))
    try:
        wait_for(
            lambda: comparable(worker.slo_rows(at)) == expected,
            timeout=180,
            what="recovered SLIs to equal batch mode",
        )
    except AssertionError:
        assert comparable(worker.slo_rows(at)) == expected  # shows which SLOs differ
        raise


def test_two_workers_with_a_rebalance_mid_stream_agree_with_batch_mode(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    events = tmp_path / "events.ndjson"
    day_of_traffic(events, seed=8, days=2, rate=20)
    lines = events.read_text().splitlines(keepends=True)
    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    first.write_text("".join(lines[: len(lines) // 2]))
    second.write_text("".join(lines[len(lines) // 2 :]))
    one = WorkerProcess(
        kafka_bootstrap, topic_prefix, tmp_path / "w1", worker_id="worker-1"
    ).start()
    workers.append(one)
    produce(kafka_bootstrap, topic_prefix, first, batch_size=10)
    two = WorkerProcess(
        kafka_bootstrap, topic_prefix, tmp_path / "w2", worker_id="worker-2"
    ).start()
    workers.append(two)
    produce(kafka_bootstrap, topic_prefix, second, batch_size=10)
    at = iso(time.time())
    expected = comparable(batch_rows(events, at))
    # each worker answers for every partition (the global view), not just the ones it owns
    wait_for(
        lambda: comparable(one.slo_rows(at)) == expected == comparable(two.slo_rows(at)),
        timeout=180,
        what="each worker's SLIs to equal batch mode",
    )
    assert one.alive and two.alive


def test_a_record_the_store_deleted_but_the_changelog_holds_is_deleted_after_an_unclean_stop(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    """What a SIGKILL between deleting an emptied order group from the local store and sending
    its tombstone leaves, made without timing: the changelog holds an order group (one open
    order, long overdue) that the worker's store does not. The view counts that order as missed;
    after a stop without the ``stopped-gracefully`` marker the worker deletes the group again."""
    events = tmp_path / "events.ndjson"
    day_of_traffic(events, seed=13, days=1, rate=5)
    lines = events.read_text().splitlines(keepends=True)
    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    first.write_text("".join(lines[: len(lines) // 2]))
    second.write_text("".join(lines[len(lines) // 2 :]))
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1").start()
    workers.append(worker)
    produce(kafka_bootstrap, topic_prefix, first, batch_size=10)
    wait_for(
        lambda: worker.metric("slaengine_events_processed_total") >= len(lines) // 2,
        what="the first half",
    )
    # an order in an hour before the first event (a group no real order joins), long overdue
    created_ms = int((time.time() - 2 * 86400) * 1000)
    group = created_ms // 3_600_000 * 1000
    key = json.dumps(f"O|order-fulfillment|orders:0|{group}").encode()
    value = json.dumps({"ghost": {"c": created_ms, "s": None, "r": None, "o": 0}}).encode()
    asyncio.run(
        send_record(kafka_bootstrap, f"{topic_prefix}slaengine-sli-orders-changelog", key, value)
    )
    produce(kafka_bootstrap, topic_prefix, second, batch_size=10)  # later writes: the store's
    # persisted changelog offset passes the record, so a restore does not read it back
    wait_for(
        lambda: worker.metric("slaengine_events_processed_total") >= len(lines),
        what="every event",
    )
    at = iso(time.time())
    expected = comparable(batch_rows(events, at))
    good, total = expected[("order-fulfillment", "30d")]
    wait_for(
        lambda: comparable(worker.slo_rows(at))[("order-fulfillment", "30d")] == (good, total + 1),
        timeout=60,
        what="the view to count the open order of the group as missed",
    )
    worker.stop()
    marker = tmp_path / "w1" / "faust" / worker.worker_id / "stopped-gracefully"
    assert marker.exists()
    marker.unlink()  # as after a SIGKILL
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1").start()
    workers.append(worker)
    wait_for(
        lambda: comparable(worker.slo_rows(at)) == expected,
        timeout=120,
        what="the group deleted again: SLIs equal to batch mode",
    )
    assert "deleted 1 records of orders:0 again" in worker.log_text()


async def send_record(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key, partition=0)
    finally:
        await producer.stop()
