"""The pure routing core: alerts in, notifications out, at times the caller chooses.

Routes each alert transition into its groups, and when groups are due, mutes silenced and
inhibited alerts and asks the groups for notifications. No I/O and no clock: the service feeds
``now`` and persists what comes out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from slaengine.alerts import Alert, Notification
from slaengine.router.config import RoutingConfig
from slaengine.router.grouping import GroupManager, NextSequence
from slaengine.router.inhibition import Inhibitor, InhibitRule
from slaengine.router.routing import Route, build_route_tree
from slaengine.router.silences import SilenceStore


class AlertDispatcher:
    def __init__(
        self, config: RoutingConfig, silences: SilenceStore, next_sequence: NextSequence
    ) -> None:
        self.config = config
        self.root = build_route_tree(config.route)
        self.routes_by_id = {route.route_id: route for route in self.root.walk()}
        self.groups = GroupManager(config.global_.refire_window, next_sequence)
        self.inhibitor = Inhibitor(InhibitRule.from_config(rule) for rule in config.inhibit_rules)
        self.silences = silences

    def routes_for(self, labels: Mapping[str, str]) -> list[Route]:
        return self.root.matches(labels)

    def receive(self, alert: Alert, now: datetime) -> list[str]:
        """Add an alert transition to every group it routes to; returns their group keys."""
        keys = []
        for route in self.routes_for(alert.labels):
            self.groups.add(route, alert, now)
            keys.append(route.group_key(route.group_labels(alert.labels)))
        return keys

    def flush_due(self, now: datetime) -> list[Notification]:
        """Notifications of every group whose group_wait/group_interval elapsed by ``now``."""
        due = self.groups.due(now)
        if not due:
            return []
        firing = {a.fingerprint: a for a in self.groups.active_alerts() if a.status == "firing"}
        sources = list(firing.values())

        def is_muted(alert: Alert) -> bool:
            return bool(self.silences.muting(alert.labels, now)) or self.inhibitor.is_inhibited(
                alert, sources
            )

        notifications = []
        for group in due:
            notification = self.groups.flush(group, now, is_muted)
            if notification is not None:
                notifications.append(notification)
        self.groups.collect_garbage(now)
        return notifications

    def next_deadline(self) -> datetime | None:
        return self.groups.next_deadline()

    def snapshot(self) -> list[dict[str, Any]]:
        return self.groups.snapshot()

    def restore(self, snapshot: list[dict[str, Any]]) -> int:
        return self.groups.restore(snapshot, self.routes_by_id)
