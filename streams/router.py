"""The alert router of a worker group: each alert group is routed by the owner of its partition.

Alerts go to ``sla.alerts`` keyed by their alert-group key (``group_partition_key``), so every
transition of a group lands on one partition. The routers consume ``sla.alerts`` in their own
consumer group; the worker assigned partition *p* runs one ``AlertRouter`` for it. That router's
whole durable state — pending deliveries, group state, notification sequences and the offset of
the last alert it took — is one record in the compacted ``sla.router-state`` topic, partition *p*
(written, acknowledged, after every change). A worker assigned *p* restores the router from that
record and continues reading ``sla.alerts`` right after the offset it holds; on revocation the
router finishes in-flight deliveries and writes its state once more. The sqlite outbox beneath is
a scratch copy, deleted when the partition leaves: a recreated container leaves nothing behind.

Crash semantics: a worker killed between a successful send and the next state record leaves the
delivery pending in Kafka, so the new owner sends it once more with the same notification id and
PagerDuty dedup_key (the group key): at most one resend, nothing lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from slaengine.alerts import Alert
from slaengine.outbox import ChannelStats
from slaengine.router.config import RoutingConfig
from slaengine.router.intake import route_alert_record, validate_alert
from slaengine.router.routing import build_route_tree
from slaengine.router.senders import Sender, close_sender
from slaengine.router.service import OUTBOX_FILE, AlertRouter, open_outbox, utc_now
from slaengine.router.silences import SilenceStore
from streams.shared_state import MAX_RECORD_BYTES

log = logging.getLogger(__name__)

ROUTER_STATE_TOPIC = "sla.router-state"
STATE_KEY = b"router"


class GroupKeys:
    """The key of an alert on ``sla.alerts``: the group key of the first route that takes it, so
    every transition of an alert group is routed by the same partition owner. (An alert that
    ``continue: true`` routes into several groups is keyed by its first group.)"""

    def __init__(self, config: RoutingConfig) -> None:
        self.root = build_route_tree(config.route)

    def __call__(self, alert: Alert) -> bytes:
        route = self.root.matches(alert.labels)[0]
        return route.group_key(route.group_labels(alert.labels)).encode()


@dataclass
class OwnedPartition:
    router: AlertRouter
    folder: Path
    offset: int | None  # of the last sla.alerts record the router took
    saved: str = ""  # the last state record written, to skip writing an unchanged one


class PartitionedRouter(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self,
        bootstrap: str,
        alerts_topic: str,
        state_topic: str,
        group_id: str,
        config: RoutingConfig,
        senders: Mapping[str, Sender],
        silences: SilenceStore,
        clock: Callable[[], datetime] = utc_now,
        tick: float = 1.0,
        session_timeout_ms: int = 10_000,
    ) -> None:
        self.bootstrap = bootstrap
        self.alerts_topic = alerts_topic
        self.state_topic = state_topic
        self.group_id = group_id
        self.config = config
        self.senders = dict(senders)
        self.silences = silences
        self.clock = clock
        self.tick = tick
        self.session_timeout_ms = session_timeout_ms
        self.owned: dict[int, OwnedPartition] = {}
        self.errors: Counter[str] = Counter()  # shared by the routers of all partitions
        self._lock = asyncio.Lock()  # routers change only between steps
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", max_request_size=MAX_RECORD_BYTES
        )
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.session_timeout_ms // 4),
        )
        self._consumer.subscribe([self.alerts_topic], listener=self)
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="alert-routers")

    async def close(self) -> None:
        """Hand every partition back with its state written, then leave the group."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        async with self._lock:
            for partition in list(self.owned):
                await self._retire(partition)
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()
        for sender in self.senders.values():
            await close_sender(sender)

    # -- the consumer group's callbacks -------------------------------------------------

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        async with self._lock:
            for tp in revoked:
                if tp.partition in self.owned:
                    await self._retire(tp.partition)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        async with self._lock:
            for tp in assigned:
                if tp.partition not in self.owned:
                    await self._adopt(tp)

    async def _adopt(self, tp: TopicPartition) -> None:
        state = await self._read_state(tp.partition)
        folder = Path(tempfile.mkdtemp(prefix=f"alert-router-{tp.partition}-"))
        if state is not None:
            outbox = open_outbox(folder / OUTBOX_FILE, self.config)
            try:
                outbox.import_portable(state["outbox"])
            finally:
                outbox.close()
        router = AlertRouter(self.config, folder, self.senders, self.clock, silences=self.silences)
        router.errors = self.errors
        offset = state["offset"] if state is not None else None
        self.owned[tp.partition] = OwnedPartition(router, folder, offset)
        if offset is not None:
            assert self._consumer is not None
            self._consumer.seek(tp, offset + 1)
        log.info(
            "alert router took partition %d (%s)",
            tp.partition,
            "restored" if state is not None else "new",
        )

    async def _retire(self, partition: int) -> None:
        owned = self.owned.pop(partition)
        try:  # under self._lock: no delivery of this router is in flight
            await self._save(partition, owned)
        finally:
            await owned.router.close(release_senders=False)
            shutil.rmtree(owned.folder, ignore_errors=True)
        log.info("alert router handed partition %d on", partition)

    # -- the state records -----------------------------------------------------------------

    async def _read_state(self, partition: int) -> dict[str, Any] | None:
        """The last state record of ``partition``, read to the end of the topic."""
        tp = TopicPartition(self.state_topic, partition)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            fetch_max_bytes=MAX_RECORD_BYTES,
            max_partition_fetch_bytes=MAX_RECORD_BYTES,
        )
        await consumer.start()
        try:
            consumer.assign([tp])
            end = (await consumer.end_offsets([tp]))[tp]
            if end == 0:
                return None
            consumer.seek(tp, max(0, end - 1))  # compacted: the last record is the state
            last = None
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                last = next((r.value for r in reversed(batch.get(tp, [])) if r.value), last)
        finally:
            await consumer.stop()
        return json.loads(last) if last else None

    async def _save(self, partition: int, owned: OwnedPartition) -> None:
        portable = await asyncio.to_thread(owned.router.outbox.export_portable)
        record = json.dumps({"offset": owned.offset, "outbox": portable}, sort_keys=True)
        if record == owned.saved:
            return
        assert self._producer is not None
        await self._producer.send_and_wait(
            self.state_topic, key=STATE_KEY, value=record.encode(), partition=partition
        )
        owned.saved = record

    # -- routing -----------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=int(self.tick * 1000))
                async with self._lock:
                    for tp, records in batch.items():
                        owned = self.owned.get(tp.partition)
                        if owned is None:
                            continue  # revoked meanwhile: the new owner reads these again
                        for record in records:
                            if owned.offset is not None and record.offset <= owned.offset:
                                continue  # fetched before the restored state was seeked past
                            await route_alert_record(owned.router, record.value)  # never raises
                            owned.offset = record.offset
                    for partition, owned in self.owned.items():
                        await owned.router.run_pending()
                        await self._save(partition, owned)
            except asyncio.CancelledError:
                raise
            except Exception:  # keep routing; the state in Kafka holds what was not done
                log.exception("alert router step failed")
                await asyncio.sleep(self.tick)

    # -- what the HTTP API and /metrics see -------------------------------------------------

    def stats(self) -> dict[str, ChannelStats]:
        """Outbox statistics over the partitions owned now (``RouterCollector`` reads this)."""
        merged: dict[str, ChannelStats] = {}
        for owned in list(self.owned.values()):
            for channel, stats in owned.router.outbox.stats().items():
                before = merged.get(channel)
                if before is None:
                    merged[channel] = ChannelStats(
                        stats.pending, stats.oldest_pending_at, dict(stats.counters)
                    )
                    continue
                oldest = [t for t in (before.oldest_pending_at, stats.oldest_pending_at) if t]
                counters = dict(before.counters)
                for name, value in stats.counters.items():
                    counters[name] = counters.get(name, 0) + value
                merged[channel] = ChannelStats(
                    before.pending + stats.pending, min(oldest, default=None), counters
                )
        return merged

    @property
    def write_failures(self) -> int:
        return sum(owned.router.outbox.write_failures for owned in list(self.owned.values()))


class RouterFront:
    """What the HTTP API calls "the router" on a worker: silences (shared through
    ``sla.silences``) and the Alertmanager intake, which publishes to ``sla.alerts`` like the
    evaluator does, so the owner of each alert's group routes it."""

    def __init__(
        self,
        silences: SilenceStore,
        publish: Callable[[Alert], Any],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.silences = silences
        self.publish = publish
        self.clock = clock

    async def receive_many(self, alerts: Iterable[Alert]) -> list[list[str]]:
        checked = [validate_alert(alert) for alert in alerts]  # all or nothing
        for alert in checked:
            await self.publish(alert)
        return [[] for _ in checked]
