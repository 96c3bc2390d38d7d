"""Faust wiring: one agent per input topic, changelog-backed tables, the HTTP API task.

Agents are thin: decode and apply through ``Pipeline`` (pure, never raises),
then, at most every ``flush_interval_s`` per partition, write the engine's dirty
state and the partition's applied high-water mark to the partition's
changelog-backed table and only then ack the messages. Faust flushes the
producer before it commits offsets, so a commit never runs ahead of the state.

A timer flushes partitions that went quiet (so the tail of a burst is committed
without waiting for more traffic), and a graceful stop (SIGTERM) flushes and
commits every partition. After a restart, messages up to the stored high-water
mark are skipped whole, so their dead letters are not produced again; after a
crash, the per-bucket offsets still skip what the state already holds.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import weakref
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from faust.streams import _current_event
from faust.types import TP, EventT, StreamT
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
from streams.capacity import ResourceState
from streams.limits import SeriesLimits
from streams.pipeline import LOG_EVERY_S, DeadLetter, Pipeline

log = logging.getLogger(__name__)

MAX_PENDING = 20_000  # messages held unacked per partition before a forced flush


APPLIED_KEY = "p|"  # table key prefix of a partition's applied high-water mark: p|<source>


@dataclass
class PartitionBuffer:
    pending: list[EventT] = field(default_factory=list)
    last_flush: float = 0.0
    stream: Any = None  # the agent's stream, which acks the pending events
    table: Any = None
    busy: bool = False  # the agent is between applying a message and holding it in `pending`


class SlaApp(faust.App):
    """faust.App that flushes and commits every partition when it stops (SIGTERM, graceful stop)."""

    runtime: Runtime | None = None

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
        self.engine = SliEngine(config)
        self.resources = ResourceState(config.timezone)
        self.limits = SeriesLimits.of_config(config)
        self.pipeline = Pipeline(self.engine, on_resource=self.resources.observe, limits=self.limits)
        self.tables: dict[str, Any] = {}
        self.loaded_sources: set[str] = set()
        self.buffers: dict[str, PartitionBuffer] = defaultdict(PartitionBuffer)
        self.deadletter_topic: Any = None
        # input topic (with the prefix) -> its short source name
        self.short_names = {settings.topic(name): short for name, short in SOURCE_NAMES.items()}
        self.pipeline_positions: dict[tuple[str, int], int] = {}  # last offset applied per partition
        self.last_maintenance = 0.0
        self.stopping = False
        self.agent_errors = 0
        self._last_error_log = -LOG_EVERY_S

    def source_of(self, topic: str, partition: int) -> str:
        return source_id(self.short_names.get(topic, topic), partition)

    def ensure_loaded(self, table: Any, source: str) -> None:
        """Restore a partition's engine state from its (already recovered) table, once."""
        if source in self.loaded_sources:
            return
        restored = 0
        for key, value in table.items():
            if key.startswith("r|"):
                if value.get("s") == source:
                    self.resources.load(key, value)
                    self.limits.hold("resource", key[2:])
                    restored += 1
            elif key.startswith(APPLIED_KEY):
                if key[len(APPLIED_KEY):] == source and value is not None:
                    self.pipeline.applied[source] = int(value)
            elif SliEngine.source_of_key(key) == source:
                self.engine.load(key, value)
                if key.startswith(f"l|{source}|"):  # the newest sample of a projection
                    self.limits.hold("projection", key.split("|", 2)[2])
                elif key.startswith(f"w|{source}/") and source.startswith("requests:"):
                    self.limits.hold("service", key.split("/", 1)[1])  # one clock per service
                restored += 1
        self.loaded_sources.add(source)
        log.info("restored %d records of %s from the changelog", restored, source)

    def load_assigned(self) -> None:
        """Restore every assigned partition once its table is recovered, even a quiet one.

        (The agents also restore lazily on a partition's first message, but a partition
        that receives nothing after a restart must still show its state.)
        """
        recovery = self.app.tables.recovery  # type: ignore[attr-defined]
        if recovery.in_recovery or not recovery.completed.is_set():
            return
        for tp in self.app.consumer.assignment():
            short = self.short_names.get(tp.topic)
            if short is not None:
                self.ensure_loaded(self.tables[short], source_id(short, tp.partition))

    def flush(self, table: Any, source: str) -> None:
        """Write the dirty state of ``source`` into its table (must run inside that partition's event)."""
        if time.time() - self.last_maintenance > 60:
            self.engine.maintain()
            self.last_maintenance = time.time()
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

    async def flush_partition(self, source: str, buffer: PartitionBuffer) -> None:
        """Flush ``source``'s state, then ack its pending messages (the commit follows within 1 s).

        Table writes go to the changelog partition of the current event; outside the agent
        (timer, stop) that is the partition's latest pending event.
        """
        if not buffer.pending:
            return
        token = _current_event.set(weakref.ref(buffer.pending[-1]))
        try:
            self.flush(buffer.table, source)
        finally:
            _current_event.reset(token)
        pending, buffer.pending = buffer.pending, []
        buffer.last_flush = time.time()
        for done in pending:
            await buffer.stream.ack(done)

    async def flush_quiet(self, interval: float) -> None:
        """Flush partitions whose messages wait for a flush that no new message would trigger."""
        now = time.time()
        for source, buffer in list(self.buffers.items()):
            if buffer.pending and not buffer.busy and now - buffer.last_flush >= interval:
                try:
                    await self.flush_partition(source, buffer)
                except Exception:  # noqa: BLE001 - kept pending, tried again at the next tick
                    self.report_error(f"flushing {source}")

    async def stop_gracefully(self) -> None:
        """Stop taking messages, flush and ack every partition, and commit before Faust stops."""
        self.stopping = True
        for _ in range(100):  # an agent may be sending a message's dead letters
            if not any(buffer.busy for buffer in self.buffers.values()):
                break
            await asyncio.sleep(0.01)
        flushed = 0
        for source, buffer in list(self.buffers.items()):
            # a still-busy partition is left unflushed: its mark would cover a message whose
            # letters may not be out yet; it is replayed after the restart instead
            if buffer.pending and not buffer.busy:
                try:
                    await self.flush_partition(source, buffer)
                    flushed += 1
                except Exception:  # noqa: BLE001 - the rest must still be flushed
                    self.report_error(f"flushing {source} at stop")
        try:
            await self.app.producer.flush()
            mark_clean_stop(stores_dir(self.settings))
            await self.app.consumer.commit()
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
                self.report_error(f"sending a dead letter of {letter.topic}[{letter.partition}]@{letter.offset}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def report_error(self, what: str) -> None:
        """Count an unexpected error in the agents' own code; log it at most once a minute."""
        self.agent_errors += 1
        if time.monotonic() - self._last_error_log >= LOG_EVERY_S:
            self._last_error_log = time.monotonic()
            log.exception("unexpected error while %s (%d so far; logged at most once a minute)", what,
                          self.agent_errors)

    def revoke(self, revoked: set[TP]) -> None:
        sources = {self.source_of(tp.topic, tp.partition) for tp in revoked}
        self.engine.drop_sources(sources)
        self.resources.drop_sources(sources)
        self.loaded_sources -= sources
        for source in sources:
            self.buffers.pop(source, None)  # unacked: the new owner replays them
            self.pipeline.applied.pop(source, None)


class RuntimeCollector(Collector):
    """Replayed messages skipped by the high-water mark, and errors outside the pipeline."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        replayed = CounterMetricFamily("slaengine_messages_replayed", "Messages skipped because the state "
                                       "already held them (redelivered after a restart)")
        replayed.add_metric([], self.runtime.pipeline.replayed)
        errors = CounterMetricFamily("slaengine_agent_errors", "Unexpected errors in the agents outside event "
                                     "handling (sending dead letters, flushing state); see the log")
        errors.add_metric([], self.runtime.agent_errors)
        yield from (replayed, errors)


CLEAN_STOP_MARK = "clean-stop"


def stores_dir(settings: Settings) -> Path:
    """Where this worker's tables keep their local (RocksDB) stores."""
    return settings.data_dir / "faust" / settings.worker_id


def discard_stores_after_crash(directory: Path) -> None:
    """After a crash, rebuild the tables from their changelogs instead of the local stores.

    A table write reaches RocksDB at once and its changelog a moment later. A crash in
    between leaves local state that the changelogs — and so every worker's global view —
    never receive, while the restarted worker skips the messages behind it as applied. A
    graceful stop flushes the changelogs and leaves a mark; without it the stores go.
    """
    mark = directory / CLEAN_STOP_MARK
    if directory.exists() and not mark.exists():
        log.warning("%s: no clean stop recorded; rebuilding the state from the changelogs", directory)
        shutil.rmtree(directory)
    mark.unlink(missing_ok=True)


def mark_clean_stop(directory: Path) -> None:
    """Record that the local stores equal the changelogs (called once they are flushed)."""
    if directory.exists():
        (directory / CLEAN_STOP_MARK).touch()


def build_app(settings: Settings, config: SlaConfig) -> tuple[faust.App, Runtime]:
    discard_stores_after_crash(stores_dir(settings))
    app = SlaApp(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.store,
        datadir=str(stores_dir(settings)),
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
        return app.topic(settings.topic(name), key_serializer="raw", value_serializer="raw",
                         partitions=settings.partitions)

    runtime.deadletter_topic = raw_topic(DEADLETTER_TOPIC)
    for name in (REQUESTS_TOPIC, ORDERS_TOPIC, RESOURCES_TOPIC, PROJECTIONS_TOPIC):
        short = SOURCE_NAMES[name]
        table = app.Table(f"sli-{short}", default=None, partitions=settings.partitions,
                          key_type=str, help=f"SLI state of {name}, one record per SLO, partition and hour")
        runtime.tables[short] = table
        app.agent(raw_topic(name), name=f"slaengine.{short}")(_make_agent(runtime, table))

    @app.timer(1.0)
    async def _restore_quiet_partitions() -> None:
        runtime.load_assigned()

    @app.timer(settings.flush_interval_s)
    async def _flush_quiet_partitions() -> None:
        await runtime.flush_quiet(settings.flush_interval_s)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _on_revoked(app: faust.App, revoked: set[TP], **_: Any) -> None:
        runtime.revoke(revoked)

    return app, runtime


def _make_agent(runtime: Runtime, table: Any) -> Any:
    interval = runtime.settings.flush_interval_s

    async def agent(stream: StreamT) -> None:
        async for event in stream.noack().events():  # type: ignore[attr-defined]
            if runtime.stopping:
                continue  # left unacked and unapplied: the next start handles it once
            message = event.message
            source = runtime.source_of(message.topic, message.partition)
            buffer = runtime.buffers[source]
            buffer.stream, buffer.table, buffer.busy = stream, table, True
            now = time.time()
            try:
                runtime.ensure_loaded(table, source)
                # projection lag runs from the moment the event entered Kafka (the record timestamp),
                # so replaying old events measures the pipeline, not the events' age
                appended_ms = int(message.timestamp * 1000) if message.timestamp else None
                letters = runtime.pipeline.on_message(message.topic, message.partition, message.offset,
                                                      event.value, int(now * 1000), appended_ms)
                for letter in letters:
                    await runtime.send_letter(event.key, letter)
            except Exception:  # noqa: BLE001 - the pipeline never raises; this guards the rest
                runtime.report_error(f"handling {source}@{message.offset}")
            finally:
                buffer.busy = False
            if runtime.stopping:
                continue  # the stop flushed without this message: unacked, it is handled after the restart
            runtime.pipeline_positions[(message.topic, message.partition)] = message.offset
            buffer.pending.append(event)
            if now - buffer.last_flush >= interval or len(buffer.pending) >= MAX_PENDING:
                try:
                    await runtime.flush_partition(source, buffer)
                except Exception:  # noqa: BLE001 - kept pending, flushed at the next chance
                    runtime.report_error(f"flushing {source}")

    return agent
