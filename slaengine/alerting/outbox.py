"""The durable write-ahead outbox: every notification is stored before anyone tries to send it.

One sqlite file (WAL, synchronous=FULL) under the data dir. Deliveries queue per
(channel, group_key) and only the head of each queue is ever attempted, so a resolve never
overtakes its trigger. ``UNIQUE(channel, notification_id)`` makes re-enqueueing after a restart
a no-op, and a delivery is marked delivered in one transaction right after the receiver accepted
it. A delivery still failing ``max_age`` after it was enqueued is declared dead: logged loudly,
counted, and the queue moves on. The class is synchronous and thread-safe; async callers run it
in a worker thread so the event loop never waits on the disk.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slaengine.alerts_model import Alert, Notification

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,            -- receiver/integration, e.g. "team-chat/chat"
    group_key TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    notification_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',   -- pending | delivered | dead
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


@dataclass(frozen=True)
class Delivery:
    delivery_id: int
    channel: str
    notification: Notification
    attempts: int
    enqueued_at: float

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
    counters: dict[str, int]  # delivered, failed, retried


def channel_of(receiver: str, integration: str) -> str:
    return f"{receiver}/{integration}"


class Outbox:
    def __init__(self, path: Path | str, max_age_seconds: float) -> None:
        self.path = Path(path)
        self.max_age = max_age_seconds
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.write_failures = 0  # transactions the disk refused (full, I/O error); exported
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        # scrapes read through their own connection: in WAL mode a reader never waits for a
        # writer's fsync, so /metrics on the event loop is never held up by a write
        self._read_lock = threading.Lock()
        self._reader = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)

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
                log.error("alert outbox %s: write failed, nothing of it was stored: %s",
                          self.path, err)
                raise

    def next_sequence(self, group_key: str) -> int:
        """Durable per-group counter, so notification ids stay unique across restarts."""
        with self._transaction() as db:
            row = db.execute(
                "INSERT INTO sequences (group_key, last) VALUES (?, 1) "
                "ON CONFLICT (group_key) DO UPDATE SET last = last + 1 RETURNING last",
                (group_key,)).fetchone()
        return int(row[0])

    def enqueue(self, batch: Iterable[tuple[Notification, Iterable[str]]], now: float,
                state: tuple[str, Any] | None = None) -> int:
        """Store one delivery per (notification, channel) — and the router state that produced
        them — in one transaction, so a crash can neither lose nor repeat a flush. Returns how
        many deliveries were new (replayed notification ids are ignored)."""
        added = 0
        with self._transaction() as db:
            for notification, channels in batch:
                payload = json.dumps(notification_to_json(notification))
                for channel in channels:
                    cursor = db.execute(
                        "INSERT OR IGNORE INTO deliveries (channel, group_key, sequence,"
                        " notification_id, payload, enqueued_at, next_attempt_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (channel, notification.group_key, notification.sequence,
                         notification.notification_id, payload, now, now))
                    added += cursor.rowcount
            if state is not None:
                self._store_state(db, *state)
        return added

    def due(self, now: float, limit: int = 100) -> list[Delivery]:
        """The head of every queue whose next attempt time has come."""
        with self._lock:
            rows = self._db.execute(
                "SELECT d.id, d.channel, d.payload, d.attempts, d.enqueued_at FROM deliveries d"
                " JOIN (SELECT channel, group_key, MIN(sequence) AS head FROM deliveries"
                "       WHERE state = 'pending' GROUP BY channel, group_key) q"
                " ON d.channel = q.channel AND d.group_key = q.group_key AND d.sequence = q.head"
                " WHERE d.state = 'pending' AND d.next_attempt_at <= ?"
                " ORDER BY d.next_attempt_at, d.id LIMIT ?", (now, limit)).fetchall()
        return [Delivery(row[0], row[1], notification_from_json(json.loads(row[2])), row[3], row[4])
                for row in rows]

    def next_attempt_at(self) -> float | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending'").fetchone()
        return row[0]

    def mark_delivered(self, delivery: Delivery, now: float) -> None:
        with self._transaction() as db:
            db.execute("UPDATE deliveries SET state = 'delivered', attempts = attempts + 1,"
                       " finished_at = ? WHERE id = ? AND state = 'pending'",
                       (now, delivery.delivery_id))
            self._count(db, delivery.channel, "delivered")

    def mark_failed(self, delivery: Delivery, now: float, error: str, retry_in: float | None) -> bool:
        """Schedule a retry in ``retry_in`` seconds, or declare the delivery dead when it is
        fatal (``retry_in`` None) or older than max_age. Returns True if it will be retried."""
        deadline = delivery.enqueued_at + self.max_age
        retry = retry_in is not None and now < deadline
        with self._transaction() as db:
            if retry:
                assert retry_in is not None
                db.execute("UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?,"
                           " last_error = ? WHERE id = ?",
                           (min(now + retry_in, deadline), error, delivery.delivery_id))
                self._count(db, delivery.channel, "retried")
            else:
                db.execute("UPDATE deliveries SET state = 'dead', attempts = attempts + 1,"
                           " finished_at = ?, last_error = ? WHERE id = ?",
                           (now, error, delivery.delivery_id))
                self._count(db, delivery.channel, "failed")
        if not retry:
            why = "rejected" if retry_in is None else f"still failing after {self.max_age:.0f}s"
            log.error("DEAD NOTIFICATION %s to %s (%s after %d attempts): %s",
                      delivery.notification.notification_id, delivery.channel, why,
                      delivery.attempts + 1, error)
        return retry

    @staticmethod
    def _count(db: sqlite3.Connection, channel: str, name: str) -> None:
        db.execute("INSERT INTO counters (channel, name, value) VALUES (?, ?, 1)"
                   " ON CONFLICT (channel, name) DO UPDATE SET value = value + 1", (channel, name))

    def stats(self) -> dict[str, ChannelStats]:
        with self._read_lock:
            self._reader.execute("BEGIN")  # one snapshot for both queries
            try:
                pending = self._reader.execute(
                    "SELECT channel, COUNT(*), MIN(enqueued_at) FROM deliveries"
                    " WHERE state = 'pending' GROUP BY channel").fetchall()
                counters = self._reader.execute(
                    "SELECT channel, name, value FROM counters").fetchall()
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
        query = ("SELECT id, channel, notification_id, state, attempts, last_error FROM deliveries"
                 + (" WHERE channel = ?" if channel else "") + " ORDER BY id")
        with self._lock:
            rows = self._db.execute(query, (channel,) if channel else ()).fetchall()
        keys = ("id", "channel", "notification_id", "state", "attempts", "last_error")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def prune(self, older_than: float) -> int:
        """Forget finished deliveries; keep them long enough to deduplicate replays."""
        with self._transaction() as db:
            cursor = db.execute("DELETE FROM deliveries WHERE state != 'pending' AND finished_at < ?",
                                (older_than,))
        return cursor.rowcount

    PORTABLE_COLUMNS = ("channel", "group_key", "sequence", "notification_id", "payload",
                        "attempts", "enqueued_at", "next_attempt_at", "last_error")

    def export_portable(self) -> dict[str, Any]:
        """What another process needs to carry on: pending deliveries, group sequences and
        router state (finished deliveries and counters stay behind)."""
        columns = ", ".join(self.PORTABLE_COLUMNS)
        with self._lock:
            pending = self._db.execute(f"SELECT {columns} FROM deliveries WHERE state = 'pending'"
                                       " ORDER BY id").fetchall()
            sequences = self._db.execute("SELECT group_key, last FROM sequences").fetchall()
            state = self._db.execute("SELECT key, value FROM router_state").fetchall()
        return {"pending": [dict(zip(self.PORTABLE_COLUMNS, row, strict=True)) for row in pending],
                "sequences": dict(sequences), "state": {k: json.loads(v) for k, v in state}}

    def import_portable(self, data: dict[str, Any]) -> None:
        """Load what ``export_portable`` wrote (into an empty outbox), in one transaction."""
        columns = ", ".join(self.PORTABLE_COLUMNS)
        marks = ", ".join("?" for _ in self.PORTABLE_COLUMNS)
        with self._transaction() as db:
            for row in data["pending"]:
                db.execute(f"INSERT OR IGNORE INTO deliveries ({columns}) VALUES ({marks})",
                           [row[c] for c in self.PORTABLE_COLUMNS])
            for group_key, last in data["sequences"].items():
                db.execute("INSERT INTO sequences (group_key, last) VALUES (?, ?) ON CONFLICT"
                           " (group_key) DO UPDATE SET last = MAX(last, excluded.last)",
                           (group_key, int(last)))
            for key, value in data["state"].items():
                self._store_state(db, key, value)

    def load_state(self, key: str) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM router_state WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def save_state(self, key: str, value: Any) -> None:
        with self._transaction() as db:
            self._store_state(db, key, value)

    @staticmethod
    def _store_state(db: sqlite3.Connection, key: str, value: Any) -> None:
        db.execute("INSERT INTO router_state (key, value) VALUES (?, ?)"
                   " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, _dumps(value)))


def _dumps(value: Any) -> str:
    """JSON of ``value``; a list item by item, so no single call holds the GIL for long."""
    if isinstance(value, list):
        return "[" + ",".join(json.dumps(item) for item in value) + "]"
    return json.dumps(value)


def notification_to_json(notification: Notification) -> dict[str, Any]:
    return {
        "receiver": notification.receiver, "group_key": notification.group_key,
        "status": notification.status, "alerts": [a.to_json() for a in notification.alerts],
        "group_labels": dict(notification.group_labels),
        "common_labels": dict(notification.common_labels),
        "common_annotations": dict(notification.common_annotations),
        "occurrences": notification.occurrences, "sequence": notification.sequence,
        "created_at": notification.created_at.isoformat(),
    }


def notification_from_json(data: dict[str, Any]) -> Notification:
    return Notification(
        receiver=data["receiver"], group_key=data["group_key"], status=data["status"],
        alerts=tuple(Alert.from_json(a) for a in data["alerts"]),
        group_labels=data["group_labels"], common_labels=data["common_labels"],
        common_annotations=data["common_annotations"], occurrences=data["occurrences"],
        sequence=data["sequence"], created_at=datetime.fromisoformat(data["created_at"]),
    )


def to_epoch(moment: datetime) -> float:
    return moment.astimezone(UTC).timestamp()
