"""The bulk path under the agents (streams/bulk.py) on the real broker: commits and responsiveness.

A fast replay applies tens of thousands of single events per second; every input partition
must still end up committed exactly at its end (acks are one offset per partition, written
only after the state), and the HTTP API must keep answering while the replay runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from slaengine.events import ORDERS_TOPIC, PROJECTIONS_TOPIC, REQUESTS_TOPIC, RESOURCES_TOPIC
from slaengine.settings import Settings

from .conftest import WorkerProcess, produce
from .test_worker_on_kafka import day_of_traffic, wait_for

pytestmark = pytest.mark.slow

INPUTS = (REQUESTS_TOPIC, ORDERS_TOPIC, RESOURCES_TOPIC, PROJECTIONS_TOPIC)


def committed_and_ends(bootstrap: str, prefix: str) -> tuple[dict, dict]:
    """The worker group's committed offset and the end offset of every input partition."""

    async def read() -> tuple[dict, dict]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=f"{prefix}slaengine", enable_auto_commit=False
        )
        await consumer.start()
        try:
            tps = [
                TopicPartition(f"{prefix}{topic}", partition)
                for topic in INPUTS
                for partition in range(Settings().partitions)
            ]
            committed = {tp: await consumer.committed(tp) for tp in tps}
            ends = await consumer.end_offsets(tps)
            return committed, ends
        finally:
            await consumer.stop()

    return asyncio.run(read())


def test_a_fast_replay_commits_every_input_partition_to_its_end_and_the_api_keeps_answering(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    events = tmp_path / "events.ndjson"
    day_of_traffic(events, seed=14, days=1, rate=40)  # ~65,000 events of every topic
    count = sum(1 for _ in events.open())
    produce(kafka_bootstrap, topic_prefix, events, batch_size=1)  # one event per message
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1").start()
    workers.append(worker)

    slowest = {"/health": 0.0, "/metrics": 0.0}
    done = threading.Event()

    def probe() -> None:  # the API's answer times while the replay runs
        while not done.is_set():
            for path, slowest_s in list(slowest.items()):
                started = time.monotonic()
                worker.get(path)
                slowest[path] = max(slowest_s, time.monotonic() - started)
            time.sleep(0.1)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        wait_for(
            lambda: worker.metric("slaengine_events_processed_total") >= count,
            timeout=240,
            what="every event applied",
        )
    finally:
        done.set()
        prober.join(timeout=10)
    # batches give the loop a turn every 10 ms; /metrics first flushes this worker's state and the
    # producer, and waits up to 1 s for the global view (with a starved producer it took 10+ s)
    assert slowest["/health"] < 1.0 and slowest["/metrics"] < 4.0, slowest

    def all_committed() -> bool:
        committed, ends = committed_and_ends(kafka_bootstrap, topic_prefix)
        return bool(ends) and all(committed[tp] == end for tp, end in ends.items() if end > 0)

    # on a timeout the assertion below says which partitions are behind
    with contextlib.suppress(AssertionError):
        wait_for(all_committed, timeout=30, what="every input partition committed to its end")
    committed, ends = committed_and_ends(kafka_bootstrap, topic_prefix)
    behind = {
        f"{tp.topic}[{tp.partition}]": (committed[tp], end)
        for tp, end in ends.items()
        if committed[tp] != end and end > 0
    }
    assert not behind, f"(committed, end) of the partitions behind: {behind}"
    assert sum(ends.values()) == count  # one message per event, each committed once
