"""scripts/kafka-local against the real Apache Kafka broker it runs.

The session broker (kafka_bootstrap) is only observed and reused here; every stop/start
cycle runs on free ports of its own with its state in tmp_path, so it never disturbs it.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

pytestmark = pytest.mark.kafka


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def broker_pids(props_file: Path) -> list[int]:
    """Live JVMs running kafka.Kafka on this state folder's server.properties."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # exited while we looked
        if b"kafka.Kafka" in args and str(props_file).encode() in args:
            pids.append(int(proc.name))
    return pids


def pid_in_file(state_dir: Path) -> int:
    return int((state_dir / "kafka.pid").read_text())


@pytest.fixture
def own_broker(kafka_local, tmp_path: Path) -> Iterator:
    """A kafka-local runner on two free ports with 3 partitions per auto-created topic."""
    broker = kafka_local(
        free_port(),
        state_root=tmp_path,
        extra_env=(("KAFKA_CONTROLLER_PORT", str(free_port())), ("KAFKA_PARTITIONS", "3")),
    )
    try:
        yield broker
    finally:
        broker.run("stop")


def test_second_start_reuses_the_running_broker(kafka_bootstrap: str, kafka_local) -> None:
    broker = kafka_local(int(kafka_bootstrap.rsplit(":", 1)[1]))
    pid_before = pid_in_file(broker.state_dir)

    again = broker.run("start")

    assert again.returncode == 0, again.stderr
    assert f"already running (pid {pid_before}, port {broker.port})" in again.stdout
    assert pid_in_file(broker.state_dir) == pid_before
    assert broker_pids(broker.state_dir / "server.properties") == [pid_before]


def test_status_reports_the_session_broker_running(kafka_bootstrap: str, kafka_local) -> None:
    broker = kafka_local(int(kafka_bootstrap.rsplit(":", 1)[1]))

    status = broker.run("status")

    assert status.returncode == 0
    pid = pid_in_file(broker.state_dir)
    assert f"running (pid {pid}, port {broker.port}," in status.stdout
    assert port_accepts(broker.port)


async def test_message_round_trip_through_the_broker(
    kafka_bootstrap: str, create_topics, topic_prefix: str
) -> None:
    (topic,) = await create_topics("orders", partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(topic, f"order-{n}".encode(), partition=n)
            for n in range(3)
        ]
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{topic_prefix}readers",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        received = [await asyncio.wait_for(consumer.getone(), 30) for _ in range(3)]
        assert consumer.partitions_for_topic(topic) == {0, 1, 2}
    finally:
        await consumer.stop()

    assert sorted(m.value for m in received) == [b"order-0", b"order-1", b"order-2"]
    assert {(m.partition, m.offset) for m in received} == {(r.partition, r.offset) for r in sent}


async def produce_and_read_back(bootstrap: str, topic: str, value: bytes | None) -> list[bytes]:
    """Optionally produce `value` to `topic` (auto-created), then read the topic from the start."""
    if value is not None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, value)
        finally:
            await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        assert consumer.partitions_for_topic(topic) == {0, 1, 2}  # KAFKA_PARTITIONS=3
        batches = await consumer.getmany(timeout_ms=10_000, max_records=10)
        return [m.value for messages in batches.values() for m in messages if m.value]
    finally:
        await consumer.stop()


@pytest.mark.slow
def test_stop_start_cycle_on_a_separate_port(own_broker) -> None:
    bootstrap = f"127.0.0.1:{own_broker.port}"
    props = own_broker.state_dir / "server.properties"
    controller_port = int(dict(own_broker.extra_env)["KAFKA_CONTROLLER_PORT"])
    assert own_broker.run("status").returncode == 3

    # Two concurrent starts must still leave exactly one broker.
    starts = run_concurrently(own_broker, "start", copies=2)

    assert [s.returncode for s in starts] == [0, 0], [s.stderr for s in starts]
    outputs = "".join(s.stdout for s in starts)
    assert outputs.count("ready on 127.0.0.1") == 1
    assert outputs.count("already running") == 1
    pid = pid_in_file(own_broker.state_dir)
    assert broker_pids(props) == [pid]
    assert "running" in own_broker.run("status").stdout
    assert asyncio.run(produce_and_read_back(bootstrap, "demo.events", b"kept")) == [b"kept"]

    stopped = own_broker.run("stop")

    assert stopped.returncode == 0, stopped.stderr
    assert f"port {own_broker.port} is free" in stopped.stdout
    assert not port_accepts(own_broker.port)
    assert not port_accepts(controller_port)
    assert broker_pids(props) == []
    status = own_broker.run("status")
    assert status.returncode == 3
    assert f"stopped (port {own_broker.port})" in status.stdout
    assert own_broker.run("stop").returncode == 0  # stopping a stopped broker is fine

    restarted = own_broker.run("start")

    assert restarted.returncode == 0, restarted.stderr
    assert "reusing KRaft storage" in restarted.stdout
    assert asyncio.run(produce_and_read_back(bootstrap, "demo.events", None)) == [b"kept"]


def run_concurrently(broker, command: str, copies: int) -> list[subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(copies) as pool:
        return list(pool.map(lambda _: broker.run(command), range(copies)))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {"KAFKA_START_TIMEOUT": "1"},
            ["did not answer", "within 1s", "logs/server.log"],
            id="a broker slower than the start timeout is stopped and the log is named",
        ),
        pytest.param(
            {"KAFKA_HEAP": "-Xmx1k"},
            ["exited during startup", "logs/kafka.out", "heap"],
            id="a JVM that dies at once is reported with its own output",
        ),
    ],
)
def test_failed_start_explains_itself_and_leaves_nothing_running(
    kafka_local, tmp_path: Path, env: dict[str, str], expected: list[str]
) -> None:
    broker = kafka_local(
        free_port(),
        state_root=tmp_path,
        extra_env=(("KAFKA_CONTROLLER_PORT", str(free_port())), *env.items()),
    )

    failed = broker.run("start")

    assert failed.returncode == 1
    for text in expected:
        assert text in failed.stderr
    assert broker_pids(broker.state_dir / "server.properties") == []
    assert broker.run("status").returncode == 3


def test_start_refuses_a_port_another_process_listens_on(kafka_local, tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = int(squatter.getsockname()[1])
        broker = kafka_local(
            port, state_root=tmp_path, extra_env=(("KAFKA_CONTROLLER_PORT", str(free_port())),)
        )

        refused = broker.run("start")

    assert refused.returncode == 1
    assert f"port {port} on 127.0.0.1 is in use by another process" in refused.stderr
    assert broker_pids(broker.state_dir / "server.properties") == []
