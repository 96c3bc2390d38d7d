"""Faust wiring: one agent per input topic, changelog-backed tables, the HTTP API task.

Agents are thin: decode and apply through ``Pipeline`` (pure), then, at most
every ``flush_interval_s`` per partition, write the engine's dirty state to the
partition's changelog-backed table and only then ack the messages. Faust
flushes the producer before it commits offsets, so a commit never runs ahead of
the state; replays after a crash are skipped by the per-bucket offsets.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.types import TP, EventT, StreamT

from slaengine.config import SlaConfig
from slaengine.events import (
    DEADLETTER_TOPIC,
    ORDERS_TOPIC,
    PROJECTIONS_TOPIC,
    REQUESTS_TOPIC,
    RESOURCES_TOPIC,
    SOURCE_NAMES,
)
from slaengine.settings import Settings
from slaengine.sli.engine import SliEngine
from streams.capacity import ResourceState
from streams.pipeline import Pipeline

log = logging.getLogger(__name__)

MAX_PENDING = 20_000  # messages held unacked per partition before a forced flush


@dataclass
class PartitionBuffer:
    pending: list[EventT] = field(default_factory=list)
    last_flush: float = 0.0


class Runtime:
    """Everything one worker process holds: engine, pipeline, tables, per-partition buffers."""

    def __init__(self, app: faust.App, settings: Settings, config: SlaConfig) -> None:
        self.app = app
        self.settings = settings
        self.config = config
        self.engine = SliEngine(config)
        self.resources = ResourceState(config.timezone)
        self.pipeline = Pipeline(self.engine, on_resource=self.resources.observe)
        self.tables: dict[str, Any] = {}
        self.loaded_sources: set[str] = set()
        self.buffers: dict[str, PartitionBuffer] = defaultdict(PartitionBuffer)
        self.deadletter_topic: Any = None
        # input topic (with the prefix) -> its short source name
        self.short_names = {settings.topic(name): short for name, short in SOURCE_NAMES.items()}
        self.pipeline_positions: dict[tuple[str, int], int] = {}  # last offset applied per partition
        self.last_maintenance = 0.0

    def source_of(self, topic: str, partition: int) -> str:
        return f"{self.short_names.get(topic, topic)}:{partition}"

    def ensure_loaded(self, table: Any, source: str) -> None:
        """Restore a partition's engine state from its (already recovered) table, once."""
        if source in self.loaded_sources:
            return
        restored = 0
        for key, value in table.items():
            if key.startswith("r|"):
                if value.get("s") == source:
                    self.resources.load(key, value)
                    restored += 1
            elif SliEngine.source_of_key(key) == source:
                self.engine.load(key, value)
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
                self.ensure_loaded(self.tables[short], f"{short}:{tp.partition}")

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

    def revoke(self, revoked: set[TP]) -> None:
        sources = {self.source_of(tp.topic, tp.partition) for tp in revoked}
        self.engine.drop_sources(sources)
        self.resources.drop_sources(sources)
        self.loaded_sources -= sources
        for source in sources:
            self.buffers.pop(source, None)  # unacked: the new owner replays them


def build_app(settings: Settings, config: SlaConfig) -> tuple[faust.App, Runtime]:
    app = faust.App(
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

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _on_revoked(app: faust.App, revoked: set[TP], **_: Any) -> None:
        runtime.revoke(revoked)

    return app, runtime


def _make_agent(runtime: Runtime, table: Any) -> Any:
    interval = runtime.settings.flush_interval_s

    async def agent(stream: StreamT) -> None:
        async for event in stream.noack().events():  # type: ignore[attr-defined]
            message = event.message
            source = runtime.source_of(message.topic, message.partition)
            runtime.ensure_loaded(table, source)
            now = time.time()
            # projection lag runs from the moment the event entered Kafka (the record timestamp),
            # so replaying old events measures the pipeline, not the events' age
            appended_ms = int(message.timestamp * 1000) if message.timestamp else None
            letters = runtime.pipeline.on_message(message.topic, message.partition, message.offset,
                                                  event.value, int(now * 1000), appended_ms)
            for letter in letters:
                await runtime.deadletter_topic.send(key=event.key, value=letter.to_bytes())
            runtime.pipeline_positions[(message.topic, message.partition)] = message.offset
            buffer = runtime.buffers[source]
            buffer.pending.append(event)
            if now - buffer.last_flush >= interval or len(buffer.pending) >= MAX_PENDING:
                runtime.flush(table, source)
                pending, buffer.pending = buffer.pending, []
                buffer.last_flush = now
                for done in pending:
                    await stream.ack(done)

    return agent
