"""Alert groups with Alertmanager timing: group_wait, group_interval, repeat_interval.

Pure and clock-free: every call takes ``now``. A group collects the alerts one route takes that
share the group labels. Its first notification goes out ``group_wait`` after it forms; then it is
re-examined every ``group_interval`` and notifies when a new alert fires, a notified alert
resolves, or ``repeat_interval`` passed while alerts still fire. An alert that fires again within
``refire_window`` of resolving counts as the same incident (``occurrences`` + 1, same group_key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slaengine.alerts import Alert, Notification
from slaengine.router.routing import Route

IsMuted = Callable[[Alert], bool]
NextSequence = Callable[[str], int]


@dataclass
class AlertGroup:
    route: Route
    group_key: str
    group_labels: dict[str, str]
    next_flush_at: datetime
    alerts: dict[str, Alert] = field(default_factory=dict)  # fingerprint -> latest state
    occurrences: int = 1
    notified_firing: frozenset[str] = frozenset()  # what the receiver was last told is firing
    notified_occurrences: int = 0  # a re-fire since then updates the incident (count + 1)
    last_notified_at: datetime | None = None
    resolved_at: dict[str, datetime] = field(default_factory=dict)  # for re-fire detection
    closed_at: datetime | None = None  # set when the last alert left; kept for refire_window

    def to_json(self) -> dict[str, Any]:
        return {
            "route_id": self.route.route_id,
            "group_key": self.group_key,
            "group_labels": self.group_labels,
            "next_flush_at": self.next_flush_at.isoformat(),
            "alerts": [alert.to_json() for alert in self.alerts.values()],
            "occurrences": self.occurrences,
            "notified_firing": sorted(self.notified_firing),
            "notified_occurrences": self.notified_occurrences,
            "last_notified_at": _iso(self.last_notified_at),
            "resolved_at": {fp: at.isoformat() for fp, at in self.resolved_at.items()},
            "closed_at": _iso(self.closed_at),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], route: Route) -> AlertGroup:
        alerts = [Alert.from_json(item) for item in data["alerts"]]
        return cls(
            route=route,
            group_key=data["group_key"],
            group_labels=dict(data["group_labels"]),
            next_flush_at=datetime.fromisoformat(data["next_flush_at"]),
            alerts={alert.fingerprint: alert for alert in alerts},
            occurrences=int(data["occurrences"]),
            notified_firing=frozenset(data["notified_firing"]),
            notified_occurrences=int(data.get("notified_occurrences", data["occurrences"])),
            last_notified_at=_parse(data.get("last_notified_at")),
            resolved_at={fp: datetime.fromisoformat(at) for fp, at in data["resolved_at"].items()},
            closed_at=_parse(data.get("closed_at")),
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class GroupManager:
    def __init__(self, refire_window: timedelta, next_sequence: NextSequence) -> None:
        self.refire_window = refire_window
        self.next_sequence = next_sequence
        self.groups: dict[str, AlertGroup] = {}  # open and recently closed, by group_key

    def add(self, route: Route, alert: Alert, now: datetime) -> None:
        """Put an alert transition into its group (``pending`` alerts are not routed)."""
        if alert.status == "pending":
            return
        labels = route.group_labels(alert.labels)
        key = route.group_key(labels)
        group = self.groups.get(key)
        if group is not None and group.closed_at is not None:
            if alert.status == "resolved":
                return  # nothing open to resolve
            group.closed_at = None  # re-opened: a new first notification after group_wait
            group.next_flush_at = now + route.group_wait
            group.notified_firing = frozenset()
            group.last_notified_at = None
            if alert.fingerprint not in group.resolved_at:
                group.occurrences = 1  # another alert of the group: a new incident
        if group is None:
            if alert.status == "resolved":
                return  # never seen firing: nothing to tell anyone
            group = AlertGroup(route, key, labels, next_flush_at=now + route.group_wait)
            self.groups[key] = group
        fingerprint = alert.fingerprint
        previous = group.alerts.get(fingerprint)
        if alert.status == "resolved":
            if previous is None:
                return  # this alert never fired in the group
            group.resolved_at[fingerprint] = now
        elif previous is None or previous.status == "resolved":
            resolved_at = group.resolved_at.pop(fingerprint, None)
            if resolved_at is not None and now - resolved_at <= self.refire_window:
                group.occurrences += 1
        group.alerts[fingerprint] = alert

    def due(self, now: datetime) -> list[AlertGroup]:
        return sorted(
            (g for g in self.groups.values() if g.closed_at is None and g.next_flush_at <= now),
            key=lambda g: (g.next_flush_at, g.group_key),
        )

    def next_deadline(self) -> datetime | None:
        pending = [g.next_flush_at for g in self.groups.values() if g.closed_at is None]
        return min(pending, default=None)

    def active_alerts(self) -> Iterable[Alert]:
        for group in self.groups.values():
            yield from group.alerts.values()

    def flush(self, group: AlertGroup, now: datetime, is_muted: IsMuted) -> Notification | None:
        """The group's notification if one is due, and the group's state moved past it."""
        firing = {
            fp: a for fp, a in group.alerts.items() if a.status == "firing" and not is_muted(a)
        }
        # resolves of alerts the receiver heard about always go out, silenced or not
        resolved = {
            fp: a
            for fp, a in group.alerts.items()
            if a.status == "resolved" and fp in group.notified_firing
        }
        notification = None
        if self._needs_update(group, set(firing), set(resolved), now):
            notification = _build_notification(
                group,
                [*firing.values(), *resolved.values()],
                self.next_sequence(group.group_key),
                now,
            )
            group.notified_firing = frozenset(firing)
            group.notified_occurrences = group.occurrences
            group.last_notified_at = now
        for fingerprint in [fp for fp, a in group.alerts.items() if a.status == "resolved"]:
            del group.alerts[fingerprint]
        group.next_flush_at = now + group.route.group_interval
        if not group.alerts:
            group.closed_at = now
        return notification

    def _needs_update(
        self, group: AlertGroup, firing: set[str], resolved: set[str], now: datetime
    ) -> bool:
        if firing - group.notified_firing or resolved:
            return True
        if firing and group.occurrences > group.notified_occurrences:
            return True  # re-fired within the refire window: tell the receiver it happened again
        last = group.last_notified_at
        return bool(firing) and last is not None and now - last >= group.route.repeat_interval

    def collect_garbage(self, now: datetime) -> None:
        for key in [
            k
            for k, g in self.groups.items()
            if g.closed_at is not None and now - g.closed_at > self.refire_window
        ]:
            del self.groups[key]
        for group in self.groups.values():
            for fp in [fp for fp, at in group.resolved_at.items() if now - at > self.refire_window]:
                del group.resolved_at[fp]

    def snapshot(self) -> list[dict[str, Any]]:
        return [group.to_json() for group in self.groups.values()]

    def restore(self, snapshot: Iterable[Mapping[str, Any]], routes: Mapping[str, Route]) -> int:
        """Load groups saved by ``snapshot``; groups whose route left the config are dropped."""
        dropped = 0
        for data in snapshot:
            route = routes.get(data["route_id"])
            if route is None:
                dropped += 1
                continue
            group = AlertGroup.from_json(data, route)
            self.groups[group.group_key] = group
        return dropped


def _build_notification(
    group: AlertGroup, alerts: list[Alert], sequence: int, now: datetime
) -> Notification:
    alerts.sort(key=lambda a: (a.starts_at, a.fingerprint))
    return Notification(
        receiver=group.route.receiver,
        group_key=group.group_key,
        status="firing" if any(a.status == "firing" for a in alerts) else "resolved",
        alerts=tuple(alerts),
        group_labels=dict(group.group_labels),
        common_labels=_common([a.labels for a in alerts]),
        common_annotations=_common([a.annotations for a in alerts]),
        occurrences=group.occurrences,
        sequence=sequence,
        created_at=now,
    )


def _common(mappings: list[Mapping[str, str]]) -> dict[str, str]:
    if not mappings:
        return {}
    first, *rest = mappings
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in rest)}
