"""A worker killed between deleting a record from its local store and sending the tombstone.

Stage 1 writes its state to a RocksDB-backed Faust table: the store is written at once, the
changelog record (or tombstone) is sent afterwards. A SIGKILL in between leaves the store
ahead of the changelog. After such a stop the restored records are sent again, but a record
the store had *deleted* is not restored, so nothing sent it again: the changelog kept the
order group as it was before its orders expired, and the global view (which reads the
changelogs) counted the group's still-open orders as missed at query time while the
source's buckets had already counted them as missed when they expired — order-fulfillment
totals above batch mode, good counts equal
(test_sigkill_five_times_mid_replay_then_final_slis_equal_batch_mode).

Here the store, the changelog and the crash are simulated without Kafka: the store is a
dict that gets every flush, the changelog gets the first flush only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from faust.serializers import codecs

from slaengine.config import load_sla_config
from slaengine.events import ORDERS_TOPIC, SOURCE_NAMES, decode_element
from slaengine.settings import DEFAULT_CONFIG
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import evaluate_all
from streams.global_view import GlobalView

CONFIG = load_sla_config(DEFAULT_CONFIG)
START = datetime(2026, 10, 5, tzinfo=UTC)
SOURCE = f"{SOURCE_NAMES[ORDERS_TOPIC]}:0"
NOW_MS = int((START + timedelta(days=10)).timestamp() * 1000)
AT_MS = int((START + timedelta(days=3, hours=12)).timestamp() * 1000)


def order_events() -> list[Any]:
    """Three days of orders, two an hour: shipped within or after the deadline, cancelled, or
    never shipped (open until it expires a day past its deadline)."""
    raw: list[dict[str, str]] = []
    for n in range(3 * 24 * 2):
        created = START + timedelta(minutes=30 * n + 7)
        order = {"order_id": f"o{n}"}
        raw.append({**order, "ts": iso(created), "event": "created"})
        if n % 4 == 0:
            raw.append({**order, "ts": iso(created + timedelta(hours=3)), "event": "shipped"})
        elif n % 4 == 1:
            raw.append({**order, "ts": iso(created + timedelta(hours=30)), "event": "shipped"})
        elif n % 4 == 2:
            raw.append({**order, "ts": iso(created + timedelta(hours=1)), "event": "cancelled"})
    raw.sort(key=lambda e: e["ts"])
    return [decode_element(ORDERS_TOPIC, e, NOW_MS) for e in raw]


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def fulfillment(engine: SliEngine) -> dict[str, tuple[int, int]]:
    return {
        r.window: (r.good, r.total)
        for r in evaluate_all(engine, AT_MS)
        if r.name == "order-fulfillment"
    }


def wire(key: str, value: Any) -> tuple[bytes, bytes | None]:
    """A stage-1 table record as Faust writes it to the changelog."""
    return codecs.dumps("json", key), None if value is None else codecs.dumps("json", value)


def flush(engine: SliEngine) -> list[tuple[str, Any]]:
    """One flush's table writes (None deletes), through JSON as the store keeps them."""
    return [(key, json.loads(json.dumps(value))) for key, _, value in engine.take_changes(SOURCE)]


def apply(engine: SliEngine, events: list[Any], first: int, last: int) -> None:
    for offset in range(first, last):
        engine.apply(events[offset], SOURCE, offset)


def write(store: dict[str, Any], records: list[tuple[str, Any]]) -> None:
    for key, value in records:
        if value is None:
            store.pop(key, None)
        else:
            store[key] = value


def crash_between_store_and_changelog(delete_again: bool) -> tuple[SliEngine, SliEngine]:
    """The global view's engine and the restarted stage-1 engine at the end of the log, after a
    kill between a flush's store writes and its changelog records."""
    events = order_events()
    store: dict[str, Any] = {}
    view = GlobalView(CONFIG, "unused:9092", [], 1)
    worker = SliEngine(CONFIG)
    committed = len(events) // 3  # the first day: its first hours' orders are still held
    apply(worker, events, 0, committed)
    first_flush = flush(worker)
    write(store, first_flush)
    for key, value in first_flush:
        view.apply(*wire(key, value))
    apply(worker, events, committed, 2 * len(events) // 3)  # the first hours' orders expire
    lost_flush = flush(worker)
    write(store, lost_flush)  # the process is killed before the changelog got this flush
    emptied = [key for key, value in lost_flush if key.startswith("O|") and value is None]
    assert emptied  # the mechanism: whole order groups deleted by expiry

    # the restart: the engine restores the store, and every restored record is sent again
    restarted = SliEngine(CONFIG)
    for key, value in store.items():
        restarted.load(key, value)
        view.apply(*wire(key, value))
    if delete_again:  # Runtime.delete_again, once the view has read the changelogs
        stale = view.lost_deletions(SOURCE, set(store), store.__contains__)
        assert stale == sorted(emptied)
        for key in stale:
            view.apply(*wire(key, None))
    # the input is replayed from the last commit; what the store holds is skipped
    apply(restarted, events, committed, len(events))
    for key, value in flush(restarted):
        view.apply(*wire(key, value))
    view.settle()
    return view.engine, restarted


def test_a_group_deleted_in_the_store_but_not_in_the_changelog_is_deleted_again() -> None:
    events = order_events()
    batch = SliEngine(CONFIG)
    apply(batch, events, 0, len(events))
    view, restarted = crash_between_store_and_changelog(delete_again=True)
    assert fulfillment(view) == fulfillment(restarted) == fulfillment(batch)


def test_resending_the_restored_records_alone_left_open_orders_counted_twice() -> None:
    """Guards the test above: without deleting again, the view's totals are above batch mode
    (by the open orders of the emptied groups), its good counts equal — the defect's shape."""
    events = order_events()
    batch = SliEngine(CONFIG)
    apply(batch, events, 0, len(events))
    view, restarted = crash_between_store_and_changelog(delete_again=False)
    assert fulfillment(restarted) == fulfillment(batch)
    expected, found = fulfillment(batch), fulfillment(view)
    assert {w: good for w, (good, _) in found.items()} == {w: g for w, (g, _) in expected.items()}
    assert found["30d"][1] > expected["30d"][1]


def test_keys_written_since_the_restore_or_deleted_for_good_are_not_deleted_again() -> None:
    events = order_events()
    view = GlobalView(CONFIG, "unused:9092", [], 1)
    worker = SliEngine(CONFIG)
    store: dict[str, Any] = {}
    apply(worker, events, 0, len(events) // 2)
    records = flush(worker)
    write(store, records)
    for key, value in records:
        view.apply(*wire(key, value))
    view.settle()
    held = {key for key in store if key[:2] in ("b|", "O|")}
    assert held == worker.deletable_keys(SOURCE) == view.engine.deletable_keys(SOURCE)
    # restored: none of them (a fresh store) but all written since; restored: all of them
    assert view.lost_deletions(SOURCE, set(), store.__contains__) == []
    assert view.lost_deletions(SOURCE, set(store), lambda key: False) == []
    apply(worker, events, len(events) // 2, len(events))
    records = flush(worker)
    write(store, records)
    for key, value in records:
        view.apply(*wire(key, value))
    deleted = {key for key, value in records if value is None}
    assert deleted  # groups emptied by expiry, their tombstones read by the view
    assert not deleted & view.engine.deletable_keys(SOURCE)
    assert view.lost_deletions(SOURCE, set(), store.__contains__) == []
