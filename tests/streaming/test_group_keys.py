"""sla.alerts is keyed by alert group, so one partition owner routes every alert of a group."""

from __future__ import annotations

from datetime import UTC, datetime

from slaengine.alerts import Alert
from slaengine.router.config import DEFAULT_ROUTING_FILE, load_routing_config
from slaengine.router.routing import build_route_tree
from streams.router import GroupKeys


def alert(**labels: str) -> Alert:
    return Alert(
        labels={"alertname": "CapacityHigh", "severity": "warning", **labels},
        status="firing",
        starts_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def test_alerts_of_one_group_share_a_key_and_the_key_is_the_group_key() -> None:
    config = load_routing_config(DEFAULT_ROUTING_FILE)
    keys = GroupKeys(config)
    # grouped by alertname, service, slo: two resources of one service are one group (the
    # key was the resource name before, which split the group over two partitions)
    disk, cpu = alert(service="db", resource="disk"), alert(service="db", resource="cpu")
    assert keys(disk) == keys(cpu)
    assert keys(disk) != keys(alert(service="web", resource="disk"))
    route = build_route_tree(config.route).matches(disk.labels)[0]
    assert keys(disk).decode() == route.group_key(route.group_labels(disk.labels))
