"""Incident timelines from PagerDuty webhooks, for the monthly SLA report.

``build_timelines`` is pure: webhook events (in any order, duplicates allowed,
as PagerDuty delivers at least once) in, one IncidentTimeline per incident out.
``IncidentLog`` is the durable store: an sqlite file under the data dir.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

from slaengine.pagerduty.webhook import IncidentEvent

INCIDENT_LOG_FILENAME = "pagerduty_incidents.sqlite3"


@dataclass(frozen=True)
class IncidentTimeline:
    incident_id: str
    incident_key: str  # the Events v2 dedup_key, i.e. our alert group key
    title: str
    service_name: str
    urgency: str
    triggered_at: datetime | None
    acknowledged_at: datetime | None  # first acknowledgement
    resolved_at: datetime | None  # last resolution
    escalations: int

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        if self.triggered_at is None or self.acknowledged_at is None:
            return None
        return self.acknowledged_at - self.triggered_at

    @property
    def time_to_resolve(self) -> timedelta | None:
        if self.triggered_at is None or self.resolved_at is None:
            return None
        return self.resolved_at - self.triggered_at


@dataclass(frozen=True)
class IncidentResponseStats:
    incidents: int
    acknowledged: int
    resolved: int
    mean_time_to_acknowledge: timedelta | None
    mean_time_to_resolve: timedelta | None


def build_timelines(events: Iterable[IncidentEvent]) -> list[IncidentTimeline]:
    """One timeline per incident, ordered by trigger time (unknown trigger last)."""
    by_incident: dict[str, list[IncidentEvent]] = {}
    seen: set[str] = set()
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            by_incident.setdefault(event.incident_id, []).append(event)
    timelines = [
        _timeline(sorted(group, key=lambda e: e.occurred_at)) for group in by_incident.values()
    ]
    far_future = datetime.max.replace(tzinfo=UTC)
    return sorted(timelines, key=lambda t: (t.triggered_at or far_future, t.incident_id))


def _timeline(ordered: list[IncidentEvent]) -> IncidentTimeline:
    def first(event_type: str) -> datetime | None:
        return next((e.occurred_at for e in ordered if e.event_type == event_type), None)

    resolved = [e.occurred_at for e in ordered if e.event_type == "incident.resolved"]
    described = next((e for e in ordered if e.incident_key), ordered[0])
    return IncidentTimeline(
        incident_id=ordered[0].incident_id,
        incident_key=described.incident_key,
        title=described.title,
        service_name=described.service_name,
        urgency=described.urgency,
        triggered_at=first("incident.triggered"),
        acknowledged_at=first("incident.acknowledged"),
        resolved_at=resolved[-1] if resolved else None,
        escalations=sum(1 for e in ordered if e.event_type == "incident.escalated"),
    )


def summarize_response(timelines: Iterable[IncidentTimeline]) -> IncidentResponseStats:
    items = list(timelines)
    ttas = [t.time_to_acknowledge for t in items if t.time_to_acknowledge is not None]
    ttrs = [t.time_to_resolve for t in items if t.time_to_resolve is not None]
    return IncidentResponseStats(
        incidents=len(items),
        acknowledged=len(ttas),
        resolved=len(ttrs),
        mean_time_to_acknowledge=sum(ttas, timedelta()) / len(ttas) if ttas else None,
        mean_time_to_resolve=sum(ttrs, timedelta()) / len(ttrs) if ttrs else None,
    )


_COLUMNS = [f.name for f in fields(IncidentEvent)]


class IncidentLog:
    """Durable, idempotent log of webhook incident events (sqlite)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # handlers reach it from worker threads
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS incident_events ("
            "event_id TEXT PRIMARY KEY, event_type TEXT NOT NULL, occurred_at TEXT NOT NULL, "
            "incident_id TEXT NOT NULL, incident_key TEXT, incident_number INTEGER, title TEXT, "
            "status TEXT, urgency TEXT, service_id TEXT, service_name TEXT)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS by_time ON incident_events (occurred_at)")
        self._db.commit()

    @classmethod
    def in_data_dir(cls, data_dir: str | Path) -> IncidentLog:
        return cls(Path(data_dir) / INCIDENT_LOG_FILENAME)

    def record(self, event: IncidentEvent) -> bool:
        """Store ``event``; False when this event id was already recorded (a redelivery)."""
        row = [getattr(event, name) for name in _COLUMNS]
        row[_COLUMNS.index("occurred_at")] = event.occurred_at.astimezone(UTC).isoformat()
        placeholders = ",".join("?" * len(_COLUMNS))
        with self._lock, self._db:
            cursor = self._db.execute(
                f"INSERT OR IGNORE INTO incident_events ({','.join(_COLUMNS)}) "
                f"VALUES ({placeholders})",
                row,
            )
        return cursor.rowcount == 1

    def events(self, incident_ids: Iterable[str] | None = None) -> list[IncidentEvent]:
        query = f"SELECT {','.join(_COLUMNS)} FROM incident_events"
        args: list[str] = []
        if incident_ids is not None:
            ids = list(incident_ids)
            if not ids:
                return []
            query += f" WHERE incident_id IN ({','.join('?' * len(ids))})"
            args = ids
        with self._lock:
            rows = self._db.execute(query + " ORDER BY occurred_at, event_id", args).fetchall()
        return [_event_from_row(row) for row in rows]

    def timelines(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[IncidentTimeline]:
        """Timelines of incidents triggered in [since, until) (all incidents when unbounded)."""
        timelines = build_timelines(self.events())
        return [
            t
            for t in timelines
            if (since is None or (t.triggered_at is not None and t.triggered_at >= since))
            and (until is None or (t.triggered_at is not None and t.triggered_at < until))
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _event_from_row(row: tuple[object, ...]) -> IncidentEvent:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["occurred_at"] = datetime.fromisoformat(str(values["occurred_at"]))
    for name in _COLUMNS:
        if values[name] is None and name != "incident_number":
            values[name] = ""
    return IncidentEvent(**values)  # type: ignore[arg-type]
