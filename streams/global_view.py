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

Cold hours (slaengine.sli.stored_hours): a bucket snapshot that is compacted and older than
every window its SLO is read over by default (``cold_horizon``: its minute detail, which
covers the longest window and the current calendar month) is not decoded at all; its bytes
go to a RocksDB in the worker's data dir (rebuilt at every start, like the view), and reads
that reach it decode it from there. Buckets held decoded move there once the wall clock
takes them past the horizon (``settle``, hourly). 13 months of 50 SLOs would otherwise be
~1.9 M decoded hours in every worker.

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
import shutil
import time
import zlib
from collections.abc import Callable, Iterable, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from slaengine.calendar import month_range
from slaengine.config import SlaConfig, SloSpec
from slaengine.events import SOURCE_NAMES
from slaengine.sli.engine import DAY_MS, SliEngine
from slaengine.sli.stored_hours import StoredHours, is_compacted, summary

log = logging.getLogger(__name__)

OWNERS_TOPIC = "sla.owners"
CATCH_UP_SETTLE = 100_000  # pending snapshots settled between fetches while catching up (a few s)
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
    """A changelog key or value: orjson (3x faster on a latency hour's minute sketches, which
    every scrape after a flush settles), ``json`` for what orjson refuses (NaN, huge ints)."""
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


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


def cold_horizon(engine: SliEngine, slo: SloSpec, now_ms: int) -> int:
    """The first hour of ``slo`` a default read may reach at ``now_ms``: the start of its
    minute detail (the longest window it is evaluated over, plus a margin) or of the current
    calendar month, whichever is earlier. Older compacted hours are held cold."""
    local = datetime.fromtimestamp(now_ms / 1000, engine.zone)
    month_start_ms = month_range(local.year, local.month, engine.zone)[0]
    detail_start_ms = now_ms - engine.detail_days(slo) * DAY_MS
    return min(month_start_ms, detail_start_ms) // 3_600_000


def open_cold_store(directory: Path | None) -> MutableMapping[bytes, bytes]:
    """A fresh RocksDB at ``directory`` (what a previous run left is deleted: the view is
    rebuilt from the changelogs at every start); a dict without one, or when another process
    holds it."""
    if directory is None:
        return {}
    from rocksdict import Options, Rdict, WriteOptions

    try:
        shutil.rmtree(directory, ignore_errors=True)
        directory.parent.mkdir(parents=True, exist_ok=True)
        options = Options(raw_mode=True)
        options.set_write_buffer_size(8 << 20)  # RocksDB's 64 MB memtables: written once, read
        options.set_max_write_buffer_number(2)  # rarely; the RSS is what this store saves
        store = Rdict(str(directory), options=options)
    except Exception:  # e.g. locked by another worker sharing the data dir
        log.exception("global view: no RocksDB at %s; cold hours are held in memory", directory)
        return {}
    unlogged = WriteOptions()
    unlogged.disable_wal = True  # type: ignore[method-assign,assignment]  # rebuilt at start
    store.set_write_options(unlogged)
    return store  # type: ignore[return-value]


class GlobalView:
    """Reads every stage-1 changelog into a read-only engine, forever."""

    def __init__(
        self,
        config: SlaConfig,
        bootstrap: str,
        topics: list[str],
        partitions: int,
        cold_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``cold_dir``: the RocksDB of the cold hours (else they are held as bytes in memory);
        ``clock``: wall-clock seconds, which decide what is cold."""
        self.engine = SliEngine(config)
        self.stored = self.engine.stored_hours = StoredHours(open_cold_store(cold_dir))
        self.clock = clock
        self._horizons: dict[str, int] = {}
        self._horizons_hour: int | None = None
        self._cooled_hour: int | None = None
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
        if self._cooled_hour != int(self.clock()) // 3600:
            self._cooled_hour = int(self.clock()) // 3600
            self._cool()

    def _horizon(self, slo: SloSpec) -> int:
        """``cold_horizon`` of ``slo`` now (recomputed once an hour)."""
        hour = int(self.clock()) // 3600
        if hour != self._horizons_hour:
            now_ms = int(self.clock() * 1000)
            self._horizons = {
                name: cold_horizon(self.engine, spec, now_ms)
                for name, spec in self.engine.slos.items()
            }
            self._horizons_hour = hour
        return self._horizons[slo.name]

    def _cool(self) -> None:
        """Move the decoded buckets the clock took past the horizon to the cold store."""
        for (name, source), hours in list(self.engine.series.items()):
            spec = self.engine.slos.get(name)
            if spec is None:
                continue
            horizon = self._horizon(spec)
            for hour in [h for h, b in hours.items() if h < horizon and b.minute_total is None]:
                self.stored.add((name, source), hour, orjson.dumps(hours.pop(hour).to_state()))

    def _put_bucket(self, key: bytes, value: bytes | None) -> bool:
        """A bucket snapshot past its SLO's horizon and compacted goes to the cold store, as
        its bytes; one replacing a cold hour takes it out of there. False: the engine puts it."""
        _, name, source, hour_text = decode(key).split("|")
        spec = self.engine.slos.get(name)
        if spec is None:
            return False
        series, hour = (name, source), int(hour_text)
        if self.stored.holds(series, hour):
            if (
                value is not None
                and bucket_offset(value) < summary(self.stored.raw(series, hour))[0]
            ):
                self.engine.changes_by_slo[name] += 1  # an older snapshot: ignored (engine.put)
                return True
            self.stored.remove(series, hour)
        if value is None or hour >= self._horizon(spec) or not is_compacted(value):
            return False
        hours = self.engine.series.setdefault(series, {})
        held = hours.get(hour)
        self.engine.changes_by_slo[name] += 1
        if held is not None:
            if bucket_offset(value) < held.offset:
                return True
            del hours[hour]
        self.stored.add(series, hour, value)
        return True

    def lost_deletions(
        self, source: str, restored: set[str], stored: Callable[[str], bool]
    ) -> list[str]:
        """Keys of ``source`` whose record the changelogs still hold although its stage-1 store
        deleted it: neither ``restored`` from the store nor ``stored`` there since. A worker
        killed after deleting a record from its local store but before the tombstone reached
        Kafka leaves one behind (only kinds that stage 1 deletes can be such keys)."""
        self.settle()
        held = self.engine.deletable_keys(source)
        return sorted(key for key in held - restored if not stored(key))

    def _put(self, key: bytes | None, value: bytes | None) -> None:
        """One record into the engine; a record that does not decode is counted and skipped."""
        try:
            if record_kind(key) == BUCKET_KIND and self._put_bucket(key, value):  # type: ignore[arg-type]
                return
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
                if behind and len(self.pending) >= CATCH_UP_SETTLE:
                    # a long backlog (13 months: ~1.9 M records) in slices: settled at once it
                    # held the event loop for tens of seconds and Kafka clients timed out
                    self.settle()
                    await asyncio.sleep(0)
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
