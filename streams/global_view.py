"""Stage 2: every worker's global view of all SLOs, and which worker owns which SLO.

Stage 1 (streams.app) keeps, per input partition, one changelog record per (SLO,
source partition, hour) — the bucket's full state with the highest source offset
it holds — plus watermarks, first-request minutes and open orders, and writes
them at every flush, before the partition's offsets are committed. Those
compacted changelog topics *are* the rollups: snapshots, never deltas.

``GlobalView`` reads all of them, on every worker, with a plain group-less
consumer from the beginning, into a read-only ``SliEngine`` holding every
(SLO, source) series: the query layer merges the sources (uptime: a minute's
requests are summed over all partitions before the minute is judged), so any
worker answers for every SLO exactly as batch mode does over all events.

Bucket snapshots are read lazily: a changelog is a compacted log of snapshots, so
only the newest record of a key matters, and a latency hour (minute sketches,
tens of kB) is rewritten at every flush of its hour. The view keeps the raw bytes
of the newest snapshot per bucket key and decodes them only when a reader
*settles* it: the read barrier (``wait_read_to_end``), the report builder and each
alert evaluation — one decode per key per read instead of one per flush.
Records that are not SLI state (resources, applied marks) are skipped unread.

``Ownership``: each SLO has one owner — the worker the consumer group assigned
partition ``owner_partition(slo)`` of the ``sla.owners`` topic (an empty topic
that carries only the assignment). The owner exports the SLO's per-SLO metric
families and evaluates and publishes its alerts; on a rebalance the SLO moves
with the partition, and since every worker holds the global state already the
new owner continues at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import zlib
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from slaengine.config import SlaConfig
from slaengine.events import SOURCE_NAMES
from slaengine.sli.engine import SliEngine

log = logging.getLogger(__name__)

OWNERS_TOPIC = "sla.owners"
SLI_TABLES = tuple(SOURCE_NAMES.values())  # streams.app: one table sli-<short> per input topic


def changelog_topics(app_id: str, tables: Iterable[str] = SLI_TABLES) -> list[str]:
    """Faust's changelog topic of each stage-1 table (``<app id>-<table>-changelog``)."""
    return [f"{app_id}-sli-{short}-changelog" for short in tables]


def owner_partition(slo: str, partitions: int) -> int:
    """The ``sla.owners`` partition whose owner answers for ``slo`` (stable across processes)."""
    return zlib.crc32(slo.encode()) % partitions


class Ownership:
    """Which SLOs this worker owns, read from its current assignment of ``sla.owners``."""

    def __init__(
        self, topic: str, partitions: int, assignment: Callable[[], Iterable[Any]]
    ) -> None:
        self.topic = topic
        self.partitions = partitions
        self.assignment = assignment

    def owned_partitions(self) -> set[int]:
        try:
            return {tp.partition for tp in self.assignment() if tp.topic == self.topic}
        except Exception:  # noqa: BLE001 - consumer not started yet, or mid-rebalance: owns nothing
            return set()

    def owns(self, slo: str) -> bool:
        return owner_partition(slo, self.partitions) in self.owned_partitions()


def decode(raw: bytes | None) -> Any:
    return None if raw is None else orjson.loads(raw)  # 2-3x json's speed: the restore reads all


# Table keys are JSON strings "<kind>|...": the kind is readable without decoding the record.
BUCKET_KIND = (
    b"b"  # an hour bucket's snapshot (SliEngine.take_changes): big, kept raw until settled
)
SLI_KINDS = (
    b"a",
    b"f",
    b"l",
    b"o",
    b"O",
    b"w",
)  # small records, put at once (some merge by max/min)
BUCKET_OFFSET = re.compile(rb'\{"h":-?\d+,"o":(-?\d+)[,}]')  # HourBucket.to_state, compact JSON


def record_kind(key: bytes | None) -> bytes | None:
    """``b"b"`` for a key ``"b|..."``; None when the key is not a plain "<kind>|" string."""
    if key is None or key[:1] != b'"' or key[2:3] != b"|":
        return None
    return key[1:2]


def bucket_offset(raw: bytes) -> int:
    """The source offset a bucket snapshot holds, without decoding its minute detail."""
    match = BUCKET_OFFSET.match(raw)
    return int(match.group(1)) if match else int(json.loads(raw)["o"])


def newest_snapshot(held: bytes | None, new: bytes | None) -> bytes | None:
    """Which of two records of one bucket key the engine would end with (SliEngine.put):
    a deletion or a record after a deletion wins; otherwise a snapshot older by its
    source offset than the one held is ignored (a late write of a former owner)."""
    if held is None or new is None:
        return new
    return new if bucket_offset(new) >= bucket_offset(held) else held


class GlobalView:
    """Reads every stage-1 changelog into a read-only engine, forever."""

    def __init__(
        self, config: SlaConfig, bootstrap: str, topics: list[str], partitions: int
    ) -> None:
        self.engine = SliEngine(config)
        self.bootstrap = bootstrap
        self.topics = topics
        self.partition_count = partitions
        self.caught_up = asyncio.Event()  # set once everything written before the start is read
        self.records = 0
        self.errors = 0
        # raw bucket snapshots read but not yet put into the engine: the newest per key
        self.pending: dict[bytes, bytes | None] = {}
        self.positions: dict[
            TopicPartition, int
        ] = {}  # next offset to read, kept across reconnects
        self.partitions: list[TopicPartition] = []
        self._consumer: AIOKafkaConsumer | None = None

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """One changelog record: a bucket snapshot waits for ``settle`` (replacing the one held
        for its key), other SLI state is put at once, the rest is skipped."""
        self.records += 1
        kind = record_kind(key)
        if kind == BUCKET_KIND:
            assert key is not None
            try:
                self.pending[key] = (
                    newest_snapshot(self.pending[key], value) if key in self.pending else value
                )
            except Exception:  # noqa: BLE001 - an unreadable offset: let the engine judge both
                self._put(key, self.pending.pop(key))
                self.pending[key] = value
        elif kind is None or kind in SLI_KINDS:
            self._put(key, value)

    def settle(self) -> None:
        """Put every pending bucket snapshot into the engine: before anything reads it."""
        pending, self.pending = self.pending, {}
        for key, value in pending.items():
            self._put(key, value)

    def _put(self, key: bytes | None, value: bytes | None) -> None:
        """One record into the engine; a record that does not decode is counted and skipped."""
        try:
            self.engine.put(decode(key), decode(value))
        except Exception:  # our own records; one bad record must not stop the view
            self.errors += 1
            log.exception("global view: skipped an unreadable record %r", key)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """``run`` until ``stop``; after a failure (Kafka unreachable) it resumes where it was."""
        while not stop.is_set():
            try:
                await self.run(stop)
            except Exception:  # the view must keep following the changelogs
                self.errors += 1
                log.exception("global view: reading the changelogs failed; retrying in 2 s")
                await asyncio.sleep(2)

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        await consumer.start()
        try:
            partitions = self.partitions = await self._partitions(consumer, stop)
            self._consumer = consumer
            consumer.assign(partitions)
            for tp in partitions:
                if tp in self.positions:
                    consumer.seek(tp, self.positions[tp])
                else:
                    await consumer.seek_to_beginning(tp)
            ends = await consumer.end_offsets(partitions)
            behind = {tp for tp, end in ends.items() if end > self.positions.get(tp, 0)}
            if not behind:
                self.caught_up.set()
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=20_000)
                for tp, records in batches.items():
                    for record in records:
                        self.apply(record.key, record.value)
                    self.positions[tp] = records[-1].offset + 1
                    if behind and tp in behind and records[-1].offset + 1 >= ends[tp]:
                        behind.discard(tp)
                        if not behind:
                            self.settle()  # the start-up backlog at once, not in the first read
                            self.caught_up.set()
                            log.info("global view caught up: %d records", self.records)
        finally:
            self._consumer = None
            await consumer.stop()

    async def wait_read_to_end(self, timeout: float) -> bool:
        """Wait until the view holds every record written before this call; False on timeout.

        A read barrier: after it, the engine is at least as new as every flush that preceded
        it (on a timeout: as new as what was read), the pending snapshots settled.
        """
        try:
            return await self._read_to_end(timeout)
        finally:
            self.settle()

    async def _read_to_end(self, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._consumer is None or not self.partitions:  # the view is still starting
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.01)
        consumer, partitions = self._consumer, self.partitions
        try:
            ends = await asyncio.wait_for(consumer.end_offsets(partitions), timeout)
        except Exception:  # noqa: BLE001 - broker unreachable: answer from what is held
            return False
        while any(self.positions.get(tp, 0) < end for tp, end in ends.items()):
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def _partitions(
        self, consumer: AIOKafkaConsumer, stop: asyncio.Event
    ) -> list[TopicPartition]:
        """Every partition of the changelog topics, once Faust has created them all.

        A changelog has as many partitions as its input topic (Faust requires it).
        """
        while not set(self.topics) <= await consumer.topics():
            if stop.is_set():
                raise asyncio.CancelledError
            await asyncio.sleep(0.5)
        return [
            TopicPartition(topic, p) for topic in self.topics for p in range(self.partition_count)
        ]
