"""Open orders are persisted one record per SLO, source and hour, not per order (issue 14).

A 50-SLO replay stalled on its changelog writes: every order event wrote one record per
fulfillment SLO (about 200,000 records for 10 days of the demo's orders with 10 fulfillment
SLOs), more than Faust's producer could send, while the SLI math itself was idle.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from slaengine.config import SlaConfig, load_sla_config
from slaengine.events import ORDERS_TOPIC, SOURCE_NAMES, decode_element
from slaengine.settings import DEFAULT_CONFIG
from slaengine.sli.engine import SliEngine
from slaengine.sli.fulfillment import GROUP_ORDERS, GROUPS_PER_HOUR
from slaengine.sli.results import evaluate_all

START = datetime(2026, 10, 5, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)
SOURCE = f"{SOURCE_NAMES[ORDERS_TOPIC]}:0"
FULFILLMENT_SLOS = 10


def config_with_fulfillment_slos(tmp_path: Path) -> SlaConfig:
    variants = "".join(
        f"\n  - {{name: orders-{i}, sli: fulfillment, within: {2 + i}h, target: 95}}"
        for i in range(FULFILLMENT_SLOS - 1)
    )
    path = tmp_path / "slo.yaml"
    path.write_text(DEFAULT_CONFIG.read_text() + variants + "\n")
    return load_sla_config(path)


def order_events(orders: int, hours: float) -> list[dict[str, object]]:
    """``orders`` orders created over ``hours``, each shipped 90 minutes later (some late
    for the short deadlines), every fifth one never shipped."""
    events: list[dict[str, object]] = []
    for n in range(orders):
        created = START + timedelta(hours=hours * n / orders)
        events.append({"ts": created.isoformat(), "order_id": f"o{n}", "event": "created"})
        if n % 5:
            events.append(
                {
                    "ts": (created + timedelta(minutes=90)).isoformat(),
                    "order_id": f"o{n}",
                    "event": "shipped",
                }
            )
    events.sort(key=lambda e: str(e["ts"]))
    return events


def apply_all(engine: SliEngine, events: list[dict[str, object]], first_offset: int = 0) -> None:
    now_ms = START_MS + 400 * 86_400_000
    for offset, raw in enumerate(events, first_offset):
        engine.apply(decode_element(ORDERS_TOPIC, raw, now_ms), SOURCE, offset)


def wire(changes: list[tuple[str, str, object]]) -> list[tuple[str, object]]:
    return [(key, json.loads(json.dumps(value))) for key, _, value in changes]


def fulfillment_rows(engine: SliEngine, at: datetime) -> dict[tuple[str, str], tuple[int, int]]:
    at_ms = int(at.timestamp() * 1000)
    return {
        (r.name, r.window): (r.good, r.total)
        for r in evaluate_all(engine, at_ms)
        if r.name.startswith("order")
    }


def test_one_flush_of_many_orders_writes_one_record_per_slo_and_hour(tmp_path: Path) -> None:
    engine = SliEngine(config_with_fulfillment_slos(tmp_path))
    apply_all(engine, order_events(2_000, hours=4))
    order_records = [key for key, _, _ in engine.take_changes(SOURCE) if key[:2] in ("o|", "O|")]
    # orders first seen in 4 hours (5 with the last shipments' hour at most), per SLO
    assert len(order_records) <= FULFILLMENT_SLOS * 5
    assert len(order_records) >= FULFILLMENT_SLOS * 4


def test_restore_and_global_view_from_group_records_equal_the_source(tmp_path: Path) -> None:
    config = config_with_fulfillment_slos(tmp_path)
    events = order_events(600, hours=30)
    source = SliEngine(config)
    view = SliEngine(config)
    table: dict[str, object] = {}  # the changelog-backed table a restart restores from
    for first, part in ((0, events[:400]), (400, events[400:])):  # groups are rewritten, not added
        apply_all(source, part, first)
        for key, value in wire(source.take_changes(SOURCE)):
            view.put(key, value)
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
    restored = SliEngine(config)
    for key, value in table.items():
        restored.load(key, value)
    at = START + timedelta(hours=31)
    expected = fulfillment_rows(source, at)
    assert expected[("order-fulfillment", "30d")][1] > 0
    assert fulfillment_rows(view, at) == expected
    # a restored stage-1 engine holds the orders and their pending decisions too
    for series, tracker in source.trackers.items():
        assert restored.trackers[series].orders == tracker.orders
        assert view.trackers[series].orders == tracker.orders


def test_a_group_is_deleted_once_its_orders_expired_and_the_view_forgets_them(
    tmp_path: Path,
) -> None:
    config = config_with_fulfillment_slos(tmp_path)
    source = SliEngine(config)
    view = SliEngine(config)
    apply_all(source, order_events(50, hours=1))
    for key, value in wire(source.take_changes(SOURCE)):
        view.put(key, value)
    first_hour = START_MS // 3_600_000 * GROUPS_PER_HOUR  # the hour's first (only) part
    assert view.trackers[("order-fulfillment", SOURCE)].orders
    # three days later every order of the first hour is past deadline + grace + a day
    later = START + timedelta(days=3)
    apply_all(source, [{"ts": later.isoformat(), "order_id": "late-1", "event": "created"}], 1_000)
    changes = wire(source.take_changes(SOURCE))
    assert (f"O|order-fulfillment|{SOURCE}|{first_hour}", None) in changes
    for key, value in changes:
        view.put(key, value)
    assert set(view.trackers[("order-fulfillment", SOURCE)].orders) == {"late-1"}


def test_per_order_records_of_older_versions_are_restored_and_rewritten_as_a_group() -> None:
    config = load_sla_config(DEFAULT_CONFIG)
    engine = SliEngine(config)
    created_ms = START_MS + 600_000
    engine.load(f"o|order-fulfillment|{SOURCE}|o1", {"c": created_ms, "s": None, "r": None, "o": 7})
    changes = wire(engine.take_changes(SOURCE))
    group = created_ms // 3_600_000 * GROUPS_PER_HOUR
    # the group first: a flush cut between the two records leaves the order in one of them
    assert changes == [
        (
            f"O|order-fulfillment|{SOURCE}|{group}",
            {"o1": {"c": created_ms, "s": None, "r": None, "o": 7}},
        ),
        (f"o|order-fulfillment|{SOURCE}|o1", None),
    ]
    # a table holding both (a flush cut before the deletion): the group's newer state wins,
    # whichever record a restore reads first, and the old record is deleted at the next flush
    newer = {"c": created_ms, "s": created_ms + 60_000, "r": "good", "o": 9}
    for records in (
        [(changes[0][0], {"o1": newer}), (changes[1][0], {"c": created_ms, "o": 7})],
        [(changes[1][0], {"c": created_ms, "o": 7}), (changes[0][0], {"o1": newer})],
    ):
        restored = SliEngine(config)
        for key, value in records:
            restored.load(key, value)
        assert restored.trackers[("order-fulfillment", SOURCE)].orders["o1"].offset == 9
        assert (f"o|order-fulfillment|{SOURCE}|o1", None) in wire(restored.take_changes(SOURCE))
    # a global view reading the log: the deletion after the group keeps the order
    view = SliEngine(config)
    for key, value in changes:
        view.put(key, value)
    assert set(view.trackers[("order-fulfillment", SOURCE)].orders) == {"o1"}
    # shipped within its day: good, counted once after the rewrite
    apply_all(
        engine,
        [{"ts": (START + timedelta(hours=2)).isoformat(), "order_id": "o1", "event": "shipped"}],
        8,
    )
    assert fulfillment_rows(engine, START + timedelta(days=2))[("order-fulfillment", "30d")] == (
        1,
        1,
    )


def test_a_busy_hour_is_split_into_records_of_at_most_group_orders() -> None:
    """One record per hour would pass Kafka's 1 MB message limit at ~12,000 orders an hour."""
    engine = SliEngine(load_sla_config(DEFAULT_CONFIG))
    apply_all(engine, order_events(2 * GROUP_ORDERS + 10, hours=0.9))
    groups = {
        key: value for key, value in wire(engine.take_changes(SOURCE)) if key.startswith("O|")
    }
    assert sorted(len(value) for value in groups.values()) == [10, GROUP_ORDERS, GROUP_ORDERS]  # type: ignore[arg-type]
    assert max(len(json.dumps(value)) for value in groups.values()) < 1_000_000
    view = SliEngine(load_sla_config(DEFAULT_CONFIG))
    for key, value in groups.items():
        view.put(key, value)
    assert len(view.trackers[("order-fulfillment", SOURCE)].orders) == 2 * GROUP_ORDERS + 10


def test_an_order_seen_only_shipped_or_cancelled_is_forgotten_after_a_restore_as_without_one(
    tmp_path: Path,
) -> None:
    """An order whose ``created`` never came is kept a day past its deadline for late events,
    then forgotten; a restored engine used to schedule no expiry for one seen only cancelled,
    so it held the order (and its group record) for ever, unlike the engine that never
    restarted."""
    config = config_with_fulfillment_slos(tmp_path)
    orphans = [
        {"ts": START.isoformat(), "order_id": "cancelled-only", "event": "cancelled"},
        {"ts": START.isoformat(), "order_id": "shipped-only", "event": "shipped"},
    ]
    running = SliEngine(config)
    apply_all(running, orphans)
    restored = SliEngine(config)
    for key, value in wire(running.take_changes(SOURCE)):
        restored.load(key, value)
    tracker = ("order-fulfillment", SOURCE)
    assert set(restored.trackers[tracker].orders) == {"cancelled-only", "shipped-only"}
    later = START + timedelta(days=3)  # past every deadline + grace + a day
    created_later = [{"ts": later.isoformat(), "order_id": "later", "event": "created"}]
    for engine in (running, restored):
        apply_all(engine, created_later, 1_000)
    assert set(running.trackers[tracker].orders) == {"later"}
    assert set(restored.trackers[tracker].orders) == {"later"}
