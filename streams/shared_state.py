"""State every worker shares through compacted Kafka topics instead of a shared disk.

``sla.silences`` (key: silence id, value: the silence as JSON, a tombstone once collected):
every worker reads the whole topic into its ``KafkaSilenceStore`` and keeps following it, so a
silence created through any worker's API mutes alerts on every router.

``sla.report-claims`` (one partition; key: ``YYYY-MM/<owner>``): the monthly report's claim and
"done" records. The log order decides: the first live claim of a month wins, "done" is final,
"released" (generation failed) frees the month, and a claim older than ``stale_after`` that never
got done may be taken over by a claim naming it in ``takes_over``. Keys carry the owner so
compaction keeps every contender's latest record (and so the order of the contest).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from slaengine.router.config import SilenceConfig
from slaengine.router.silences import (
    EXPIRED_RETENTION,
    InvalidSilenceError,
    Silence,
    SilenceNotFoundError,
    SilenceStore,
    new_silence,
)

log = logging.getLogger(__name__)

SILENCES_TOPIC = "sla.silences"
REPORT_CLAIMS_TOPIC = "sla.report-claims"
SHARED_STATE_TOPICS = (SILENCES_TOPIC, REPORT_CLAIMS_TOPIC)  # one partition each
PUBLISH_TIMEOUT_S = 15.0
MAX_RECORD_BYTES = 8 << 20  # a router state record holds a partition's whole outbox


async def ensure_compacted_topics(
    bootstrap: str, names: Iterable[str], partitions: int = 1
) -> None:
    """Create missing compacted topics (idempotent)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        configs = {"cleanup.policy": "compact", "max.message.bytes": str(MAX_RECORD_BYTES)}
        missing = [
            NewTopic(n, partitions, 1, topic_configs=configs) for n in names if n not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


async def read_to_end(bootstrap: str, topic: str) -> list[tuple[int, bytes | None, bytes | None]]:
    """Every record (offset, key, value) of a single-partition topic, from the beginning to the
    end it had when the read began (group-less: no offsets are committed)."""
    partition = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        records: list[tuple[int, bytes | None, bytes | None]] = []
        while await consumer.position(partition) < end:
            batch = await consumer.getmany(partition, timeout_ms=500)
            records += [(r.offset, r.key, r.value) for r in batch.get(partition, [])]
        return records
    finally:
        await consumer.stop()


class KafkaSilenceStore(SilenceStore):
    """Silences of all workers: writes go to ``sla.silences`` (acknowledged before the API
    answers) and are applied here at once; ``follow()`` applies every worker's records.

    ``create``/``expire`` are called from worker threads (the HTTP handlers run them with
    ``asyncio.to_thread``); they hand the send to the event loop the store was started on.
    """

    def __init__(
        self, bootstrap: str, topic: str, configured: Iterable[SilenceConfig] = ()
    ) -> None:
        super().__init__(None, configured)
        self.bootstrap = bootstrap
        self.topic = topic
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Read the topic to its end (so routing starts with every silence), then follow it."""
        self._loop = asyncio.get_running_loop()
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await self._producer.start()
        partition = TopicPartition(self.topic, 0)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await self._consumer.start()
        self._consumer.assign([partition])
        await self._consumer.seek_to_beginning(partition)
        end = (await self._consumer.end_offsets([partition]))[partition]
        while await self._consumer.position(partition) < end:
            await self._apply_next(partition)
        self._task = asyncio.create_task(self._follow(partition), name="silences")

    async def _apply_next(self, partition: TopicPartition) -> None:
        assert self._consumer is not None
        batch = await self._consumer.getmany(partition, timeout_ms=1000)
        for record in batch.get(partition, []):
            self.apply_record(record.key, record.value)

    async def _follow(self, partition: TopicPartition) -> None:
        while True:
            try:
                await self._apply_next(partition)
            except asyncio.CancelledError:
                raise
            except Exception:  # keep following; the consumer reconnects by itself
                log.exception("reading %s failed", self.topic)
                await asyncio.sleep(1)

    def apply_record(self, key: bytes | None, value: bytes | None) -> None:
        """One ``sla.silences`` record; a malformed one is logged and skipped."""
        if key is None:
            return
        silence_id = key.decode(errors="replace")
        with self._lock:
            if value is None:
                self._api.pop(silence_id, None)
                return
            try:
                silence = Silence.from_json(json.loads(value))
            except (ValueError, KeyError, TypeError) as err:
                log.error(
                    "ignoring malformed record %r on %s: %s", silence_id[:80], self.topic, err
                )
                return
            self._api[silence.silence_id] = silence

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for client in (self._consumer, self._producer):
            if client is not None:
                await client.stop()

    def _publish(self, silence_id: str, silence: Silence | None) -> None:
        """Send and wait for the broker's acknowledgement (from a worker thread)."""
        if self._producer is None or self._loop is None:
            raise RuntimeError("KafkaSilenceStore.start() was not awaited")
        value = None if silence is None else json.dumps(silence.to_json()).encode()
        sending = self._producer.send_and_wait(self.topic, key=silence_id.encode(), value=value)
        asyncio.run_coroutine_threadsafe(sending, self._loop).result(PUBLISH_TIMEOUT_S)

    def create(
        self,
        matchers: Sequence[str],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
        now: datetime,
    ) -> Silence:
        silence = new_silence(matchers, starts_at, ends_at, created_by, comment, now)
        self._publish(silence.silence_id, silence)
        with self._lock:
            self._api[silence.silence_id] = silence
        return silence

    def expire(self, silence_id: str, now: datetime) -> Silence:
        with self._lock:
            if any(s.silence_id == silence_id for s in self._configured):
                raise InvalidSilenceError("this silence is defined in routing.yaml; edit the file")
            silence = self._api.get(silence_id)
        if silence is None:
            raise SilenceNotFoundError(f"no silence with id {silence_id!r}")
        if silence.state(now) == "expired":
            return silence
        silence = replace(silence, ends_at=now, starts_at=min(silence.starts_at, now))
        self._publish(silence_id, silence)
        with self._lock:
            self._api[silence_id] = silence
        return silence

    def collect_garbage(self, now: datetime) -> int:
        """Forget silences long expired, here and (by a tombstone) in the topic."""
        stale = [
            s.silence_id
            for s in self.listing(now, include_expired=True)
            if s.source == "api" and s.ends_at + EXPIRED_RETENTION < now
        ]
        for silence_id in stale:
            self._publish(silence_id, None)
            with self._lock:
                self._api.pop(silence_id, None)
        return len(stale)


class KafkaMonthClaim:
    """``MonthClaim`` through ``sla.report-claims``: exactly one of any number of workers wins a
    month, with no shared disk. The methods are coroutines (the scheduler awaits them)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        clock: Callable[[], datetime],
        *,
        owner: str = "",
        stale_after: timedelta = timedelta(minutes=30),
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.clock = clock
        self.owner = owner or uuid.uuid4().hex
        self.stale_after = stale_after

    async def try_claim(self, month: date) -> bool:
        current, done = await self.state_of(month)
        if done:
            return False
        takes_over = None
        if current is not None:
            if self.clock() - datetime.fromisoformat(current["at"]) < self.stale_after:
                return False
            takes_over = current["owner"]
        offset = await self._write(month, "claimed", takes_over)
        winner, done = await self.state_of(month)
        return not done and winner is not None and winner["offset"] == offset

    async def mark_done(self, month: date) -> None:
        await self._write(month, "done")

    async def release(self, month: date) -> None:
        await self._write(month, "released")

    async def state_of(self, month: date) -> tuple[dict[str, Any] | None, bool]:
        """(the claim that holds ``month``, whether its report is done), folded in log order."""
        prefix = f"{month:%Y-%m}/".encode()
        holder: dict[str, Any] | None = None
        for offset, key, value in await read_to_end(self.bootstrap, self.topic):
            if key is None or value is None or not key.startswith(prefix):
                continue
            try:
                record = dict(json.loads(value))
                state, owner = record["state"], record["owner"]
            except (ValueError, KeyError, TypeError):
                log.error("ignoring malformed record at offset %d of %s", offset, self.topic)
                continue
            if state == "done":
                return None, True
            if state == "released":
                if holder is not None and holder["owner"] == owner:
                    holder = None
            elif state == "claimed" and (
                holder is None or record.get("takes_over") == holder["owner"]
            ):
                holder = {**record, "offset": offset}
        return holder, False

    async def _write(self, month: date, state: str, takes_over: str | None = None) -> int:
        record = {"owner": self.owner, "state": state, "at": self.clock().isoformat()}
        if takes_over is not None:
            record["takes_over"] = takes_over
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        try:
            sent = await producer.send_and_wait(
                self.topic,
                key=f"{month:%Y-%m}/{self.owner}".encode(),
                value=json.dumps(record).encode(),
                partition=0,
            )
        finally:
            await producer.stop()
        return int(sent.offset)
