"""The alert router service: dispatcher + silences + durable outbox + senders, on one clock.

``receive(alert)`` files an alert transition and persists the group state before returning, so
the Kafka consumer (topic ``sla.alerts``) may commit its offset right after; ``receive_many``
files a whole intake request in one write. Durable changes come first: a flush whose outbox
write fails is rolled back in memory and retried on the next tick (never left to
``repeat_interval``), and a group state the disk refused is written again with the next flush.
``run_pending(now)``
is the one step function: flush due groups into the outbox and attempt due deliveries. Tests
call it with an injected clock to run hours of group_wait and retry storms in milliseconds;
``start()`` runs it on a timer in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from slaengine.alerts import Alert, Notification
from slaengine.errors import FatalDeliveryError
from slaengine.outbox import BackoffPolicy, Codec, Delivery, Outbox, OutboxWorker, to_epoch
from slaengine.router.config import RoutingConfig
from slaengine.router.dispatcher import AlertDispatcher
from slaengine.router.intake import validate_alert
from slaengine.router.senders import Sender, channels_for, close_sender
from slaengine.router.silences import SilenceStore

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
STATE_KEY = "groups"
OUTBOX_FILE = "alert-outbox.sqlite3"
SILENCES_FILE = "silences.json"
FINISHED_RETENTION = timedelta(days=7)  # delivered ids kept this long to drop replays


NOTIFICATIONS: Codec[Notification] = Codec(
    "notification",
    identify=lambda n: (n.group_key, n.sequence, n.notification_id),
    encode=Notification.to_json,
    decode=Notification.from_json,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_outbox(path: Path, config: RoutingConfig) -> Outbox[Notification]:
    """The notification outbox of one router (one process owns it: no leases)."""
    return Outbox(path, config.delivery.max_age.total_seconds(), NOTIFICATIONS)


class AlertRouter:
    def __init__(
        self,
        config: RoutingConfig,
        data_dir: Path,
        senders: Mapping[str, Sender],
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        silences: SilenceStore | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.senders = dict(senders)
        self.outbox = open_outbox(data_dir / OUTBOX_FILE, config)
        # a worker passes its sla.silences store, shared by the routers of all its partitions
        self.silences = silences or SilenceStore(data_dir / SILENCES_FILE, config.silences)
        self.dispatcher = AlertDispatcher(config, self.silences, self.outbox.next_sequence)
        dropped = self.dispatcher.restore(self.outbox.load_state(STATE_KEY) or [])
        if dropped:
            log.warning("dropped %d alert group(s) whose route is no longer configured", dropped)
        policy = BackoffPolicy(
            config.delivery.initial_backoff.total_seconds(),
            config.delivery.max_backoff.total_seconds(),
        )
        self.worker = OutboxWorker(self.outbox, self._send, policy, clock, rng)
        self._lock = asyncio.Lock()  # one mutation of dispatcher state at a time
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_cleanup: datetime | None = None
        self._state_unsaved = False  # memory is ahead of the disk: save with the next flush
        self.errors: Counter[str] = Counter()  # exported as slaengine_alert_router_errors_total

    async def _send(self, delivery: Delivery[Notification]) -> None:
        sender = self.senders.get(delivery.channel)
        if sender is None:
            raise FatalDeliveryError(f"no receiver integration {delivery.channel!r} configured")
        await sender.send(delivery.item)

    def count_error(self, kind: str) -> None:
        self.errors[kind] += 1

    async def receive(self, alert: Alert) -> list[str]:
        """File an alert transition; returns the group keys it joined. Durable on return
        (unless the disk refused the write: then it is kept in memory and saved by the next
        flush). InvalidAlertError for an alert the router cannot take."""
        return (await self.receive_many([alert]))[0]

    async def receive_many(self, alerts: Iterable[Alert]) -> list[list[str]]:
        """File several transitions with one state write (an Alertmanager request). Routing
        and the write run in a worker thread, like flushes: the event loop stays free."""
        async with self._lock:
            return await asyncio.to_thread(self._receive_many, list(alerts), self.clock())

    def _receive_many(self, alerts: list[Alert], now: datetime) -> list[list[str]]:
        checked = [validate_alert(alert) for alert in alerts]  # all or nothing
        keys = [self.dispatcher.receive(alert, now) for alert in checked]
        self._save_state()
        return keys

    def _save_state(self) -> None:
        try:
            self.outbox.save_state(STATE_KEY, self.dispatcher.snapshot())
        except (sqlite3.Error, OSError):
            # the alert stays in memory, so its page is not delayed; the flush saves it
            self._state_unsaved = True
            log.error("alert router state not saved; kept in memory and saved with the next flush")
        else:
            self._state_unsaved = False

    async def run_pending(self, now: datetime | None = None) -> int:
        """Flush due groups into the outbox, then attempt due deliveries; returns attempts."""
        now = now or self.clock()
        async with self._lock:
            await asyncio.to_thread(self._flush, now)
        attempts = len(await self.worker.deliver_due(now))
        if self._last_cleanup is None or now - self._last_cleanup >= timedelta(hours=1):
            self._last_cleanup = now
            await asyncio.to_thread(self._clean_up, now)
        return attempts

    def _flush(self, now: datetime) -> None:
        if not self.dispatcher.groups.due(now):
            if self._state_unsaved:
                self._save_state()
            return
        before = self.dispatcher.snapshot()
        try:
            notifications = self.dispatcher.flush_due(now)  # takes sequences from the outbox
            batch = [(n, channels_for(self.config, n.receiver)) for n in notifications]
            if batch:
                self.outbox.enqueue(batch, to_epoch(now), (STATE_KEY, self.dispatcher.snapshot()))
        except (sqlite3.Error, OSError):
            # nothing was queued: forget the flush in memory too, so the next tick redoes it
            # (and a restart finds the groups still due), instead of waiting for repeat_interval
            self.dispatcher.groups.groups.clear()
            self.dispatcher.restore(before)
            self._state_unsaved = True
            log.error(
                "due alert groups not flushed (outbox write failed); retrying on the next tick"
            )
            return
        if not batch:
            self._save_state()
            return
        self._state_unsaved = False
        for notification in notifications:
            log.info(
                "notify %s %s %s (%d alert(s), occurrence %d)",
                notification.receiver,
                notification.status,
                notification.notification_id,
                len(notification.alerts),
                notification.occurrences,
            )

    def _clean_up(self, now: datetime) -> None:
        self.outbox.prune(to_epoch(now - FINISHED_RETENTION))
        self.silences.collect_garbage(now)

    def start(self, tick: float = 1.0) -> None:
        """Run ``run_pending`` every ``tick`` seconds until ``close()``."""
        self._stopping.clear()
        self._task = asyncio.create_task(self._loop(tick), name="alert-router")

    async def _loop(self, tick: float) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_pending()
            except Exception:  # keep routing; the outbox keeps what was not delivered
                log.exception("alert router step failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), tick)

    async def close(self, release_senders: bool = True) -> None:
        """Stop after in-flight deliveries finish (so none is sent twice), then release files
        (and the senders, unless other routers share them)."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        async with self._lock:
            for sender in self.senders.values() if release_senders else ():
                await close_sender(sender)
            self.outbox.close()
