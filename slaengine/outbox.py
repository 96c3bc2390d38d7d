"""The one durable outbox: every notification and report e-mail is stored before anyone tries
to send it, and retried from there.

One sqlite file (WAL, synchronous=FULL: every commit is fsync'd) per owner. Deliveries queue per
(channel, key) and only the head of each queue is ever attempted, so a resolve never overtakes
its trigger. ``UNIQUE(channel, notification_id)`` makes re-enqueueing after a restart a no-op,
and a delivery is marked delivered in one transaction right after the receiver accepted it.
Failures are retried with capped exponential backoff (``BackoffPolicy``); a delivery still
failing ``max_age`` after it was enqueued is declared dead: logged loudly, counted, and the
queue moves on. A damaged entry (a payload that no longer decodes) is quarantined — state
``damaged``, logged, counted — and a file that is no longer a database is moved aside on open;
neither stops the other deliveries.

Several processes may share one file (report e-mails in a shared folder): with ``lease_seconds``
set, ``due`` leases what it returns, so each delivery is attempted by one process at a time (a
process dying mid-send leaves a lease that expires: at-least-once).

``Outbox`` is synchronous and thread-safe; ``OutboxWorker`` attempts due deliveries from async
code, running the outbox in a worker thread so the event loop never waits on the disk. What is
delivered is the caller's: a ``Codec`` turns items to JSON and back and names their queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from slaengine.errors import FatalDeliveryError, RetryableDeliveryError

log = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,            -- receiver/integration, e.g. "team-chat/chat"
    group_key TEXT NOT NULL,          -- the ordering key within the channel
    sequence INTEGER NOT NULL,
    notification_id TEXT NOT NULL,    -- unique per channel: what makes re-enqueueing a no-op
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',   -- pending | delivered | dead | damaged
    attempts INTEGER NOT NULL DEFAULT 0,
    enqueued_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    finished_at REAL,
    last_error TEXT,
    UNIQUE (channel, notification_id)
);
CREATE INDEX IF NOT EXISTS deliveries_queue ON deliveries (state, channel, group_key, sequence);
CREATE TABLE IF NOT EXISTS sequences (group_key TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (
    channel TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (channel, name)
);
CREATE TABLE IF NOT EXISTS router_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# added after the first release: files written before it get the column on open
LEASE_COLUMN = "ALTER TABLE deliveries ADD COLUMN leased_until REAL"


@dataclass(frozen=True)
class Codec(Generic[T]):
    """How an outbox stores one kind of item."""

    name: str  # what the item is, for log lines: "notification", "report e-mail"
    identify: Callable[[T], tuple[str, int, str]]  # (queue key, sequence in it, unique id)
    encode: Callable[[T], dict[str, Any]]
    decode: Callable[[dict[str, Any]], T]  # raises on a damaged payload


@dataclass(frozen=True)
class Delivery(Generic[T]):
    delivery_id: int
    channel: str
    item_id: str
    item: T
    attempts: int
    enqueued_at: float
    next_attempt_at: float
    last_error: str | None

    @property
    def receiver(self) -> str:
        return self.channel.rpartition("/")[0]

    @property
    def integration(self) -> str:
        return self.channel.rpartition("/")[2]


@dataclass(frozen=True)
class ChannelStats:
    pending: int
    oldest_pending_at: float | None
    counters: dict[str, int]  # delivered, failed, retried, damaged


@dataclass(frozen=True)
class BackoffPolicy:
    """Capped exponential backoff, with full jitter unless ``jitter`` is off (one report
    e-mail a month makes no retry storm; a page per alert group can)."""

    initial: float = 1.0
    cap: float = 120.0
    jitter: bool = True

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based); any attempt number
        works (the exponent is capped long before 2**n overflows a float). A receiver's
        Retry-After is a lower bound."""
        ceiling = min(self.cap, self.initial * 2.0 ** min(max(attempt - 1, 0), 60))
        delay = rng.uniform(0, ceiling) if self.jitter else ceiling
        return max(delay, retry_after) if retry_after else delay


def to_epoch(moment: datetime) -> float:
    return moment.astimezone(UTC).timestamp()


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Outbox(Generic[T]):
    def __init__(
        self,
        path: Path | str,
        max_age_seconds: float,
        codec: Codec[T],
        *,
        lease_seconds: float | None = None,
    ) -> None:
        self.path = Path(path)
        self.max_age = max_age_seconds
        self.codec = codec
        self.lease = lease_seconds
        self.name = codec.name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.write_failures = 0  # transactions the disk refused (full, I/O error); exported
        self.damaged = 0  # entries (or a whole file) this process quarantined
        self._db = self._open()
        # scrapes read through their own connection: in WAL mode a reader never waits for a
        # writer's fsync, so /metrics on the event loop is never held up by a write
        self._read_lock = threading.Lock()
        self._reader = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as err:  # not a database (any more): keep it for a human
            stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
            target = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
            for suffix in ("", "-wal", "-shm"):
                source = self.path.with_name(self.path.name + suffix)
                if source.exists():
                    os.replace(source, target.with_name(target.name + suffix))
            self.damaged += 1
            log.error(
                "damaged %s outbox file %s (%s) moved to %s; starting empty — requeue "
                "what was still pending by hand",
                self.name,
                self.path,
                err,
                target,
            )
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(deliveries)")}
            if "leased_until" not in columns:
                db.execute(LEASE_COLUMN)
        except BaseException:
            db.close()
            raise
        return db

    def close(self) -> None:
        with self._read_lock:
            self._reader.close()
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:  # sqlite already rolled back on SQLITE_FULL
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as err:
                self.write_failures += 1
                log.error(
                    "%s outbox %s: write failed, nothing of it was stored: %s",
                    self.name,
                    self.path,
                    err,
                )
                raise

    def next_sequence(self, group_key: str) -> int:
        """Durable per-key counter, so ids stay unique across restarts."""
        with self._transaction() as db:
            row = db.execute(
                "INSERT INTO sequences (group_key, last) VALUES (?, 1) "
                "ON CONFLICT (group_key) DO UPDATE SET last = last + 1 RETURNING last",
                (group_key,),
            ).fetchone()
        return int(row[0])

    def enqueue(
        self,
        batch: Iterable[tuple[T, Iterable[str]]],
        now: float,
        state: tuple[str, Any] | None = None,
    ) -> int:
        """Store one delivery per (item, channel) — and the caller's state that produced
        them — in one transaction, so a crash can neither lose nor repeat a flush. Returns how
        many deliveries were new (replayed ids are ignored)."""
        added = 0
        with self._transaction() as db:
            for item, channels in batch:
                key, sequence, item_id = self.codec.identify(item)
                payload = json.dumps(self.codec.encode(item))
                for channel in channels:
                    cursor = db.execute(
                        "INSERT OR IGNORE INTO deliveries (channel, group_key, sequence,"
                        " notification_id, payload, enqueued_at, next_attempt_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (channel, key, sequence, item_id, payload, now, now),
                    )
                    added += cursor.rowcount
            if state is not None:
                self._store_state(db, *state)
        return added

    DELIVERY_COLUMNS = (
        "d.id, d.channel, d.notification_id, d.payload, d.attempts,"
        " d.enqueued_at, d.next_attempt_at, d.last_error"
    )

    def due(self, now: float, limit: int = 100) -> list[Delivery[T]]:
        """The head of every queue whose next attempt time has come (leased to this process
        when the outbox is shared). A damaged head is quarantined and the entry behind it
        taken instead."""
        found: dict[int, Delivery[T]] = {}
        seen: set[int] = set()
        while True:
            fresh = [row for row in self._due_rows(now, limit) if row[0] not in seen]
            seen.update(row[0] for row in fresh)
            decoded = self._decode(fresh, now)
            found.update((delivery.delivery_id, delivery) for delivery in decoded)
            if len(decoded) == len(fresh):  # nothing quarantined: no new heads behind
                return list(found.values())[:limit]

    def _due_rows(self, now: float, limit: int) -> list[Any]:
        query = (
            f"SELECT {self.DELIVERY_COLUMNS} FROM deliveries d"
            " JOIN (SELECT channel, group_key, MIN(sequence) AS head FROM deliveries"
            "       WHERE state = 'pending' GROUP BY channel, group_key) q"
            " ON d.channel = q.channel AND d.group_key = q.group_key AND d.sequence = q.head"
            " WHERE d.state = 'pending' AND d.next_attempt_at <= ?"
            " AND (d.leased_until IS NULL OR d.leased_until <= ?)"
            " ORDER BY d.next_attempt_at, d.id LIMIT ?"
        )
        if self.lease is None:
            with self._lock:
                return self._db.execute(query, (now, now, limit)).fetchall()
        with self._transaction() as db:
            rows = db.execute(query, (now, now, limit)).fetchall()
            db.executemany(
                "UPDATE deliveries SET leased_until = ? WHERE id = ?",
                [(now + self.lease, row[0]) for row in rows],
            )
        return rows

    def pending(self, now: float) -> list[Delivery[T]]:
        """Every pending delivery in enqueue order (damaged ones quarantined and left out)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self.DELIVERY_COLUMNS} FROM deliveries d"
                " WHERE d.state = 'pending' ORDER BY d.id"
            ).fetchall()
        return self._decode(rows, now)

    def _decode(self, rows: list[Any], now: float) -> list[Delivery[T]]:
        found = []
        for delivery_id, channel, item_id, payload, attempts, enqueued_at, next_at, error in rows:
            try:
                item = self.codec.decode(json.loads(payload))
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
                self._quarantine(delivery_id, channel, now, err)
                continue
            found.append(
                Delivery(delivery_id, channel, item_id, item, attempts, enqueued_at, next_at, error)
            )
        return found

    def _quarantine(self, delivery_id: int, channel: str, now: float, err: Exception) -> None:
        error = f"damaged entry: {type(err).__name__}: {err}"
        try:
            with self._transaction() as db:
                db.execute(
                    "UPDATE deliveries SET state = 'damaged', finished_at = ?,"
                    " last_error = ? WHERE id = ? AND state = 'pending'",
                    (now, error, delivery_id),
                )
                self._count(db, channel, "damaged")
        except sqlite3.Error:
            return  # logged by _transaction; skipped now, quarantined on a later read
        self.damaged += 1
        log.error(
            "damaged %s outbox entry %d to %s quarantined (%s); the rest are delivered — "
            "requeue it by hand if it mattered",
            self.name,
            delivery_id,
            channel,
            error,
        )

    def next_attempt_at(self) -> float | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending'"
            ).fetchone()
        return row[0]

    def mark_delivered(self, delivery: Delivery[T], now: float) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1,"
                " finished_at = ?, leased_until = NULL WHERE id = ? AND state = 'pending'",
                (now, delivery.delivery_id),
            )
            self._count(db, delivery.channel, "delivered")

    def mark_failed(
        self, delivery: Delivery[T], now: float, error: str, retry_in: float | None
    ) -> bool:
        """Schedule a retry in ``retry_in`` seconds (at the latest at max_age, for one last
        try), or declare the delivery dead when it is fatal (``retry_in`` None) or max_age old.
        Returns True if it will be retried."""
        deadline = delivery.enqueued_at + self.max_age
        retry = retry_in is not None and now < deadline
        if retry_in is not None and not retry:
            error = (
                f"still failing after {now - delivery.enqueued_at:.0f} s"
                f" (max_age_seconds {self.max_age:.0f}): {error}"
            )
        with self._transaction() as db:
            if retry:
                assert retry_in is not None
                db.execute(
                    "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?,"
                    " last_error = ?, leased_until = NULL WHERE id = ?",
                    (min(now + retry_in, deadline), error, delivery.delivery_id),
                )
                self._count(db, delivery.channel, "retried")
            else:
                db.execute(
                    "UPDATE deliveries SET state = 'dead', attempts = attempts + 1,"
                    " finished_at = ?, last_error = ?, leased_until = NULL WHERE id = ?",
                    (now, error, delivery.delivery_id),
                )
                self._count(db, delivery.channel, "failed")
        if not retry:
            log.error(
                "DEAD %s %s to %s (%s after %d attempts): %s",
                self.name.upper(),
                delivery.item_id,
                delivery.channel,
                "rejected" if retry_in is None else "too old",
                delivery.attempts + 1,
                error,
            )
        return retry

    @staticmethod
    def _count(db: sqlite3.Connection, channel: str, name: str) -> None:
        db.execute(
            "INSERT INTO counters (channel, name, value) VALUES (?, ?, 1)"
            " ON CONFLICT (channel, name) DO UPDATE SET value = value + 1",
            (channel, name),
        )

    def stats(self) -> dict[str, ChannelStats]:
        with self._read_lock:
            self._reader.execute("BEGIN")  # one snapshot for both queries
            try:
                pending = self._reader.execute(
                    "SELECT channel, COUNT(*), MIN(enqueued_at) FROM deliveries"
                    " WHERE state = 'pending' GROUP BY channel"
                ).fetchall()
                counters = self._reader.execute(
                    "SELECT channel, name, value FROM counters"
                ).fetchall()
            finally:
                self._reader.execute("COMMIT")
        result: dict[str, ChannelStats] = {}
        for channel, count, oldest in pending:
            result[channel] = ChannelStats(count, oldest, {})
        for channel, name, value in counters:
            result.setdefault(channel, ChannelStats(0, None, {})).counters[name] = value
        return result

    def history(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Every stored delivery in enqueue order (for tests, the CLI and debugging)."""
        query = (
            "SELECT id, channel, notification_id, state, attempts, last_error FROM deliveries"
            + (" WHERE channel = ?" if channel else "")
            + " ORDER BY id"
        )
        with self._lock:
            rows = self._db.execute(query, (channel,) if channel else ()).fetchall()
        keys = ("id", "channel", "notification_id", "state", "attempts", "last_error")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def prune(self, older_than: float) -> int:
        """Forget finished deliveries; keep them long enough to deduplicate replays."""
        with self._transaction() as db:
            cursor = db.execute(
                "DELETE FROM deliveries WHERE state != 'pending' AND finished_at < ?", (older_than,)
            )
        return cursor.rowcount

    PORTABLE_COLUMNS = (
        "channel",
        "group_key",
        "sequence",
        "notification_id",
        "payload",
        "attempts",
        "enqueued_at",
        "next_attempt_at",
        "last_error",
    )

    def export_portable(self) -> dict[str, Any]:
        """What another process needs to carry on: pending deliveries, group sequences and
        router state (finished deliveries and counters stay behind)."""
        columns = ", ".join(self.PORTABLE_COLUMNS)
        with self._lock:
            pending = self._db.execute(
                f"SELECT {columns} FROM deliveries WHERE state = 'pending' ORDER BY id"
            ).fetchall()
            sequences = self._db.execute("SELECT group_key, last FROM sequences").fetchall()
            state = self._db.execute("SELECT key, value FROM router_state").fetchall()
        return {
            "pending": [dict(zip(self.PORTABLE_COLUMNS, row, strict=True)) for row in pending],
            "sequences": dict(sequences),
            "state": {k: json.loads(v) for k, v in state},
        }

    def import_portable(self, data: dict[str, Any]) -> None:
        """Load what ``export_portable`` wrote (into an empty outbox), in one transaction."""
        columns = ", ".join(self.PORTABLE_COLUMNS)
        marks = ", ".join("?" for _ in self.PORTABLE_COLUMNS)
        with self._transaction() as db:
            for row in data["pending"]:
                db.execute(
                    f"INSERT OR IGNORE INTO deliveries ({columns}) VALUES ({marks})",
                    [row[c] for c in self.PORTABLE_COLUMNS],
                )
            for group_key, last in data["sequences"].items():
                db.execute(
                    "INSERT INTO sequences (group_key, last) VALUES (?, ?) ON CONFLICT"
                    " (group_key) DO UPDATE SET last = MAX(last, excluded.last)",
                    (group_key, int(last)),
                )
            for key, value in data["state"].items():
                self._store_state(db, key, value)

    def load_state(self, key: str) -> Any:
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM router_state WHERE key = ?", (key,)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def save_state(self, key: str, value: Any) -> None:
        with self._transaction() as db:
            self._store_state(db, key, value)

    @staticmethod
    def _store_state(db: sqlite3.Connection, key: str, value: Any) -> None:
        db.execute(
            "INSERT INTO router_state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, _dumps(value)),
        )


def _dumps(value: Any) -> str:
    """JSON of ``value``; a list item by item, so no single call holds the GIL for long."""
    if isinstance(value, list):
        return "[" + ",".join(json.dumps(item) for item in value) + "]"
    return json.dumps(value)


SendFunction = Callable[[Delivery[T]], Awaitable[None]]


@dataclass(frozen=True)
class Attempt(Generic[T]):
    delivery: Delivery[T]
    delivered: bool


class OutboxWorker(Generic[T]):
    """Attempts due deliveries: each attempt takes the head of one (channel, key) queue; heads
    of different queues are sent concurrently. ``send`` raises RetryableDeliveryError (retried
    with backoff; its ``retry_after`` honoured as a lower bound) or FatalDeliveryError (dead)."""

    def __init__(
        self,
        outbox: Outbox[T],
        send: SendFunction[T],
        policy: BackoffPolicy,
        clock: Callable[[], datetime],
        rng: random.Random | None = None,
        concurrency: int = 16,
    ) -> None:
        self.outbox = outbox
        self.send = send
        self.policy = policy
        self.clock = clock
        self.rng = rng or random.Random()
        self._limit = asyncio.Semaphore(concurrency)

    async def deliver_due(self, now: datetime) -> list[Attempt[T]]:
        """Attempt every due queue head once."""
        due = await asyncio.to_thread(self.outbox.due, to_epoch(now))
        return list(await asyncio.gather(*(self._attempt(delivery) for delivery in due)))

    async def _attempt(self, delivery: Delivery[T]) -> Attempt[T]:
        async with self._limit:
            try:
                await self.send(delivery)
            except RetryableDeliveryError as err:
                delay = self.policy.delay(delivery.attempts + 1, err.retry_after, self.rng)
                await self._fail(delivery, f"retryable: {err}", delay)
            except FatalDeliveryError as err:
                await self._fail(delivery, f"fatal: {err}", None)
            except Exception as err:  # a sender bug must not stall the queue; retried until max_age
                log.exception("sending to %s crashed", delivery.channel)
                delay = self.policy.delay(delivery.attempts + 1, None, self.rng)
                await self._fail(delivery, f"unexpected {type(err).__name__}: {err}", delay)
            else:
                await asyncio.to_thread(self.outbox.mark_delivered, delivery, self._now())
                return Attempt(delivery, delivered=True)
        return Attempt(delivery, delivered=False)

    async def _fail(self, delivery: Delivery[T], error: str, retry_in: float | None) -> None:
        retried = await asyncio.to_thread(
            self.outbox.mark_failed, delivery, self._now(), error, retry_in
        )
        if retried:
            log.warning(
                "%s %s to %s failed (attempt %d), retrying in %.0f s: %s",
                self.outbox.name,
                delivery.item_id,
                delivery.channel,
                delivery.attempts + 1,
                retry_in,
                error,
            )

    def _now(self) -> float:
        return to_epoch(self.clock())
