"""Faust wiring: the input topics' bulk path, changelog-backed tables, the HTTP API task.

The input topics are not read by Faust agents: ``streams.bulk.BulkConsumer`` hands each
fetched batch of an input partition to ``Runtime.apply_batch`` (one call per batch instead
of Faust's tasks and acks per message). It decodes and applies through ``Pipeline`` (pure,
never raises), then, at most every ``flush_interval_s`` per partition, writes the engine's
dirty state and the partition's applied high-water mark to the partition's
changelog-backed table and only then acks the partition up to that mark. Faust flushes the
producer before it commits offsets, so a commit never runs ahead of the state.

A timer flushes partitions that went quiet (so the tail of a burst is committed
without waiting for more traffic), and a graceful stop (SIGTERM) flushes and
commits every partition. After a graceful restart, messages up to the stored
high-water mark are skipped whole, so their dead letters are not produced again;
after a crash the mark is not used (see ``ensure_loaded``): the per-record offsets
skip what the state already holds.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import faust
from faust.streams import _current_event
from faust.types import TP
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from slaengine.config import SlaConfig
from slaengine.events import (
    DEADLETTER_TOPIC,
    ORDERS_TOPIC,
    PROJECTIONS_TOPIC,
    REQUESTS_TOPIC,
    RESOURCES_TOPIC,
    SOURCE_NAMES,
    source_id,
)
from slaengine.settings import Settings
from slaengine.sli.engine import SliEngine
from streams.bulk import (
    BatchHandler,
    BulkConsumer,
    BulkTransport,
    PartitionEvent,
    drain_producer_buffer,
)
from streams.capacity import ResourceState
from streams.global_view import GlobalView
from streams.limits import SeriesLimits
from streams.pipeline import LOG_EVERY_S, DeadLetter, Pipeline

log = logging.getLogger(__name__)

YIELD_EVERY_S = 0.01  # a batch gives the event loop (HTTP API, timers, commits) a turn this often
# A partition that went quiet is flushed once a flush interval has passed since its last flush.
# Checked only every interval, that took up to two intervals (the timer's phase is not the
# flush's): the tail of every burst waited ~1 s for the gauges at 0.5 s. Checked 5x as often, at
# most 1.2 intervals; a check is a loop over the assigned partitions.
QUIET_CHECKS_PER_INTERVAL = 5


APPLIED_KEY = "p|"  # table key prefix of a partition's applied high-water mark: p|<source>


@dataclass
class PartitionBuffer:
    """One input partition's place between applying its messages and committing them."""

    tp: TP
    table: Any
    event: (
        PartitionEvent  # the "current event" while writing the table: routes it to this partition
    )
    flushed: int = -1  # the applied high-water mark last written to the table (and acked)
    last_flush: float = 0.0
    busy: bool = False  # a message is applied but its dead letters are not all sent yet


class SlaApp(faust.App):
    """faust.App reading the input topics in bulk (``bulk_handlers``, see streams.bulk),
    that flushes and commits every partition when it stops (SIGTERM, graceful stop)."""

    runtime: Runtime | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.bulk_handlers: dict[str, BatchHandler] = {}  # input topic -> its batch handler
        self.bulk_topics: list[Any] = []
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> Any:
        return BulkTransport(self.conf.broker_consumer, self)

    async def on_start(self) -> None:
        for topic in self.bulk_topics:  # subscribed through the conductor, as an agent's topic is
            self.topics.add(topic)
        await super().on_start()

    async def on_stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop_gracefully()
        await super().on_stop()


class Runtime:
    """Everything one worker process holds: engine, pipeline, tables, per-partition buffers."""

    def __init__(self, app: faust.App, settings: Settings, config: SlaConfig) -> None:
        self.app = app
        self.settings = settings
        self.config = config
        self.engine = SliEngine(config, stored_record=self.stored_record)
        self.resources = ResourceState(config.timezone)
        self.limits = SeriesLimits.of_config(config)
        self.pipeline = Pipeline(
            self.engine, on_resource=self.resources.observe, limits=self.limits
        )
        self.tables: dict[str, Any] = {}
        self.loaded_sources: set[str] = set()
        self.buffers: dict[str, PartitionBuffer] = {}
        self.deadletter_topic: Any = None
        # input topic (with the prefix) -> its short source name
        self.short_names = {settings.topic(name): short for name, short in SOURCE_NAMES.items()}
        self.pipeline_positions: dict[
            tuple[str, int], int
        ] = {}  # last offset applied per partition
        self.last_maintenance = 0.0
        self.stopping = False
        self.agent_errors = 0
        self._last_error_log = -LOG_EVERY_S
        # A killed worker's local RocksDB store can hold table writes whose changelog records were
        # never sent (killed between the write and the send). The engine restores from the local
        # store, the global view from the changelogs: after a stop that was not graceful, every
        # restored record is sent to the changelog once more, so both hold the same state.
        faust_dir = settings.data_dir / "faust" / settings.worker_id
        self.stop_marker = faust_dir / "stopped-gracefully"
        self.resend_restored = (
            settings.store.startswith("rocksdb")
            and not self.stop_marker.exists()
            and any(faust_dir.glob("*/tables/*.db"))  # a first start has nothing to restore
        )
        self.stop_marker.unlink(missing_ok=True)
        self.to_resend: dict[str, list[tuple[str, Any]]] = {}  # source -> its restored records
        # Deletions are the other half: a record the store deleted (an order group emptied by
        # expiry) is not restored, so it is not sent again, and the changelog kept the record it
        # had, its tombstone lost; the view counted its open orders as missed a second time. Once
        # the view has read the changelogs, each key it holds that the store lacks is deleted again.
        # Only sources restored in the first assignment: the killed process's store is what they
        # restore, and Faust has recovered it before. After a rebalance the timer may restore a
        # partition before Faust's recovery of it has begun: its store is not yet complete.
        self.view: GlobalView | None = None  # set by streams.features
        self.to_delete_again: dict[str, set[str]] = {}  # source -> the keys it restored
        self.rebalanced = False  # partitions were revoked since this process started

    def stored_record(self, key: str) -> Any:
        """A record of the SLI tables: an old hour the engine no longer holds in memory.

        Read outside any partition's event: inside one (a flush), Faust's RocksDB store looks
        only in that partition's database, and maintain() may ask for another partition's."""
        short = SliEngine.source_of_key(key).split(":", 1)[0]
        token = _current_event.set(None)
        try:
            return self.tables[short].get(key)
        finally:
            _current_event.reset(token)

    def source_of(self, topic: str, partition: int) -> str:
        return source_id(self.short_names.get(topic, topic), partition)

    def ensure_loaded(self, table: Any, source: str, also: Iterable[str] = ()) -> None:
        """Restore a partition's engine state from its (already recovered) table, once; and
        the partitions ``also`` named, of the same table, in the same pass over it (the
        table iterates every partition's store: one pass per partition read 13 months of
        four partitions four times, holding the event loop for 40 s)."""
        wanted = {s for s in (source, *also) if s not in self.loaded_sources}
        if not wanted:
            return
        # the records themselves only when they are sent again: held for every partition of
        # the pass, 13 months of decoded records stayed in the heap after the restore
        restored: dict[str, list[tuple[str, Any]]] = {s: [] for s in wanted}
        counts = dict.fromkeys(wanted, 0)
        keep = self.resend_restored
        for key, value in table.items():
            if key.startswith("r|"):
                owner = value.get("s")
                if owner in restored:
                    self.resources.load(key, value)
                    self.limits.hold("resource", key[2:])
                    counts[owner] += 1
                    if keep:
                        restored[owner].append((key, value))
            elif key.startswith(APPLIED_KEY):
                # Not after a stop that was not graceful: Faust's recovery puts records the
                # changelog got after its last persisted offset back over newer ones of the store,
                # so the mark can be ahead of a bucket (messages skipped whole, never counted).
                # The replay from the commit is skipped by each record's own offsets instead.
                marked = key[len(APPLIED_KEY) :]
                if marked in restored and value is not None and not self.resend_restored:
                    self.pipeline.applied[marked] = int(value)
            elif (item_source := SliEngine.source_of_key(key)) in restored:
                self.engine.load(key, value)
                if key.startswith(f"l|{item_source}|"):  # the newest sample of a projection
                    self.limits.hold("projection", key.split("|", 2)[2])
                elif key.startswith(f"w|{item_source}/") and item_source.startswith("requests:"):
                    self.limits.hold("service", key.split("/", 1)[1])  # one clock per service
                counts[item_source] += 1
                if keep:
                    restored[item_source].append((key, value))
        for item_source, records in sorted(restored.items()):
            if self.resend_restored and records:
                self.to_resend[item_source] = records
            if self.resend_restored and self.view is not None and not self.rebalanced:
                self.to_delete_again[item_source] = {key for key, _ in records}
            self.loaded_sources.add(item_source)
            log.info(
                "restored %d records of %s from the changelog%s",
                counts[item_source],
                item_source,
                " (sent again: the last stop was not graceful)"
                if item_source in self.to_resend
                else "",
            )

    def buffer_of(self, tp: TP) -> PartitionBuffer:
        short = self.short_names[tp.topic]
        source = source_id(short, tp.partition)
        buffer = self.buffers.get(source)
        if buffer is None:
            buffer = self.buffers[source] = PartitionBuffer(
                tp, self.tables[short], PartitionEvent(tp)
            )
        return buffer

    def load_assigned(self) -> None:
        """Restore every assigned partition once its table is recovered, even a quiet one.

        (The batch handler also restores lazily on a partition's first batch, but a partition
        that receives nothing after a restart must still show its state.)
        """
        recovery = self.app.tables.recovery  # type: ignore[attr-defined]
        # ``completed`` stays set from the last recovery until the next one begins: a partition
        # assigned by a rebalance would be restored from a store Faust has not recovered yet
        if self.app.rebalancing or recovery.in_recovery or not recovery.completed.is_set():
            return
        assigned = [tp for tp in self.app.consumer.assignment() if tp.topic in self.short_names]
        for tp in assigned:
            short = self.short_names[tp.topic]
            same_table = [source_id(short, p.partition) for p in assigned if p.topic == tp.topic]
            self.ensure_loaded(self.tables[short], source_id(short, tp.partition), same_table)
            self.buffer_of(tp)  # flushed by the timer: sends its records again when due

    def flush(self, table: Any, source: str) -> None:
        """Write the dirty state of ``source`` into its table (must run inside that partition's
        event)."""
        if time.time() - self.last_maintenance > 60:
            self.engine.maintain()
            self.last_maintenance = time.time()
        for key, value in self.to_resend.pop(source, ()):
            table[key] = value
        if source in self.to_delete_again and self.changelogs_read():
            self.delete_again(table, source, self.to_delete_again.pop(source))
        changes = self.engine.take_changes(source)
        for key, _, value in changes:
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
        for key, value in self.resources.take_changes(source):
            table[key] = value
        applied = self.pipeline.applied.get(source)
        if applied is not None:  # last: a cut-short flush leaves the mark behind, never ahead
            table[APPLIED_KEY + source] = applied

    def changelogs_read(self) -> bool:
        """Has the global view read every changelog record written before this process started
        (those of a killed predecessor included)?"""
        return self.view is not None and self.view.caught_up.is_set()

    def delete_again(self, table: Any, source: str, restored: set[str]) -> None:
        """Send a tombstone for each record of ``source`` the changelog still holds but the store
        neither restored nor wrote since (must run inside that partition's event)."""
        assert self.view is not None
        stale = self.view.lost_deletions(source, restored, lambda key: key in table)
        for key in stale:
            table.on_key_del(key)  # the tombstone alone: the store holds no such key
        if stale:
            log.info(
                "deleted %d records of %s again (the last stop was not graceful)",
                len(stale),
                source,
            )

    def unflushed(self, source: str, buffer: PartitionBuffer) -> bool:
        applied = self.pipeline.applied.get(source)
        return (
            (applied is not None and applied > buffer.flushed)
            or source in self.to_resend
            or (source in self.to_delete_again and self.changelogs_read())
        )

    def flush_partition(self, source: str, buffer: PartitionBuffer) -> None:
        """Flush ``source``'s state, then ack its messages up to the applied mark (the commit
        follows within 1 s). Only between whole messages: never while ``buffer.busy``."""
        if not self.unflushed(source, buffer):
            return
        applied = self.pipeline.applied.get(source)
        token = _current_event.set(weakref.ref(buffer.event))  # type: ignore[arg-type]
        try:
            self.flush(buffer.table, source)
        finally:
            _current_event.reset(token)
        buffer.last_flush = time.time()
        if applied is not None:
            buffer.flushed = applied
            consumer: BulkConsumer = self.app.consumer  # type: ignore[assignment]
            consumer.ack_through(buffer.tp, applied)

    def flush_if_due(self, source: str, buffer: PartitionBuffer, interval: float) -> None:
        if (
            not buffer.busy
            and time.time() - buffer.last_flush >= interval
            and self.unflushed(source, buffer)
        ):
            try:
                self.flush_partition(source, buffer)
            except Exception:  # noqa: BLE001 - left unflushed, tried again at the next chance
                self.report_error(f"flushing {source}")

    async def flush_quiet(self, interval: float) -> None:
        """Flush partitions whose messages wait for a flush that no new batch would trigger."""
        for source, buffer in list(self.buffers.items()):
            self.flush_if_due(source, buffer, interval)

    async def apply_batch(self, tp: TP, records: list[Any]) -> None:
        """Apply one fetched batch of an input partition, flushing when due (the bulk path's
        handler).

        Never raises: the pipeline letters every bad element, and errors of our own are counted.
        """
        if self.stopping:
            return  # left unapplied and unacked: the next start handles it once
        topic, partition = tp.topic, tp.partition
        source = self.source_of(topic, partition)
        buffer = self.buffer_of(tp)
        try:
            self.ensure_loaded(buffer.table, source)
        except Exception:  # noqa: BLE001 - applied on top of what was restored
            self.report_error(f"restoring {source}")
        interval = self.settings.flush_interval_s
        on_message = self.pipeline.on_message
        position = (topic, partition)
        yield_at = time.monotonic() + YIELD_EVERY_S
        for record in records:
            # projection lag runs from the moment the event entered Kafka (the record timestamp),
            # so replaying old events measures the pipeline, not the events' age
            letters = on_message(
                topic,
                partition,
                record.offset,
                record.value,
                int(time.time() * 1000),
                record.timestamp or None,
            )
            if letters:
                buffer.busy = True
                try:
                    for letter in letters:
                        await self.send_letter(record.key, letter)
                except Exception:  # noqa: BLE001 - only when stopping: the partition stays busy, so
                    self.report_error(f"sending the dead letters of {source}@{record.offset}")
                    return  # unflushed, and replayed with its letters after the restart
                buffer.busy = False
                if self.stopping or self.buffers.get(source) is not buffer:
                    # stopped or revoked meanwhile: the rest is handled after the restart or
                    # by the partition's new owner
                    return
            if time.monotonic() >= yield_at:
                self.pipeline_positions[position] = record.offset
                self.flush_if_due(source, buffer, interval)
                await self.pause()
                if self.stopping or self.buffers.get(source) is not buffer:
                    return
                yield_at = time.monotonic() + YIELD_EVERY_S
        self.pipeline_positions[position] = records[-1].offset
        self.flush_if_due(source, buffer, interval)

    async def pause(self) -> None:
        """Give the event loop a turn (HTTP API, timers, commits) and the producer time to catch
        up."""
        await asyncio.sleep(0)
        await drain_producer_buffer(self.app)

    async def stop_gracefully(self) -> None:
        """Stop taking messages, flush and ack every partition, and commit before Faust stops."""
        self.stopping = True
        for _ in range(100):  # a batch may be sending a message's dead letters
            if not any(buffer.busy for buffer in self.buffers.values()):
                break
            await asyncio.sleep(0.01)
        flushed = 0
        for source, buffer in list(self.buffers.items()):
            # a still-busy partition is left unflushed: its mark would cover a message whose
            # letters may not be out yet; it is replayed after the restart instead
            if self.unflushed(source, buffer) and not buffer.busy:
                try:
                    self.flush_partition(source, buffer)
                    flushed += 1
                except Exception:  # noqa: BLE001 - the rest must still be flushed
                    self.report_error(f"flushing {source} at stop")
        try:
            await self.app.producer.flush()
            await self.app.consumer.commit()
            # unless the next start must still delete again, or a write never left the buffer
            if not self.to_delete_again and not self.app.producer.buffer.size:
                self.stop_marker.touch()  # every table write reached the changelog
        except Exception:  # noqa: BLE001 - not committed: replayed (and skipped) after the restart
            self.report_error("committing at stop")
        log.info("graceful stop: flushed %d partitions and committed their offsets", flushed)

    async def send_letter(self, key: bytes | None, letter: DeadLetter) -> None:
        """Send a dead letter, retrying while Kafka is unreachable: a letter must not be lost.

        The partition stays busy meanwhile, so no flush records the message as done.
        """
        delay = 0.5
        while True:
            try:
                await self.deadletter_topic.send(key=key, value=letter.to_bytes())
                return
            except Exception:  # broker unreachable or timed out: try again
                if self.stopping:
                    raise
                self.report_error(
                    f"sending a dead letter of {letter.topic}[{letter.partition}]@{letter.offset}"
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def report_error(self, what: str) -> None:
        """Count an unexpected error in the agents' own code; log it at most once a minute."""
        self.agent_errors += 1
        if time.monotonic() - self._last_error_log >= LOG_EVERY_S:
            self._last_error_log = time.monotonic()
            log.exception(
                "unexpected error while %s (%d so far; logged at most once a minute)",
                what,
                self.agent_errors,
            )

    def revoke(self, revoked: set[TP]) -> None:
        sources = {self.source_of(tp.topic, tp.partition) for tp in revoked}
        self.rebalanced = self.rebalanced or bool(sources & self.loaded_sources)
        self.engine.drop_sources(sources)
        self.resources.drop_sources(sources)
        self.loaded_sources -= sources
        for source in sources:
            self.buffers.pop(source, None)  # unflushed state is dropped: the new owner replays it
            self.to_resend.pop(source, None)  # sent again when this worker restores it again
            self.to_delete_again.pop(source, None)
            self.pipeline.applied.pop(source, None)


class RuntimeCollector(Collector):
    """Replayed messages skipped by the high-water mark, and errors outside the pipeline."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        replayed = CounterMetricFamily(
            "slaengine_messages_replayed",
            "Messages skipped because the state already held them (redelivered after a restart)",
        )
        replayed.add_metric([], self.runtime.pipeline.replayed)
        errors = CounterMetricFamily(
            "slaengine_agent_errors",
            "Unexpected errors in the agents outside event "
            "handling (sending dead letters, flushing state); see the log",
        )
        errors.add_metric([], self.runtime.agent_errors)
        yield from (replayed, errors)


def build_app(settings: Settings, config: SlaConfig) -> tuple[faust.App, Runtime]:
    app = SlaApp(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.store,
        datadir=str(settings.data_dir / "faust" / settings.worker_id),
        web_enabled=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=65536,
        stream_wait_empty=False,
        # batched envelopes: the default 1 MB fetch left the worker idle two thirds of the time
        consumer_max_fetch_size=8 * 1024 * 1024,
        topic_disable_leader=True,
    )
    runtime = Runtime(app, settings, config)
    app.runtime = runtime

    def raw_topic(name: str) -> Any:
        return app.topic(
            settings.topic(name),
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.partitions,
        )

    runtime.deadletter_topic = raw_topic(DEADLETTER_TOPIC)
    for name in (REQUESTS_TOPIC, ORDERS_TOPIC, RESOURCES_TOPIC, PROJECTIONS_TOPIC):
        short = SOURCE_NAMES[name]
        runtime.tables[short] = app.Table(
            f"sli-{short}",
            default=None,
            partitions=settings.partitions,
            key_type=str,
            help=f"SLI state of {name}, one record per SLO, partition and hour",
        )
        app.bulk_topics.append(raw_topic(name))
        app.bulk_handlers[settings.topic(name)] = runtime.apply_batch

    @app.timer(1.0)
    async def _restore_quiet_partitions() -> None:
        runtime.load_assigned()

    @app.timer(settings.flush_interval_s / QUIET_CHECKS_PER_INTERVAL)
    async def _flush_quiet_partitions() -> None:
        await runtime.flush_quiet(settings.flush_interval_s)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _on_revoked(app: faust.App, revoked: set[TP], **_: Any) -> None:
        runtime.revoke(revoked)

    return app, runtime
