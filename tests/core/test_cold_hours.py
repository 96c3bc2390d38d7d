"""A worker's stage-1 engine drops old hours from memory once written (issue 14: RSS).

An hour past its minute sketches (two days old) no longer changes but for a late event, its
compaction (35 days) or its retention, and its record is in the partition's table: the engine
reads it back (``stored_record``) only then, and a restore decodes only the hours that still
have minute sketches. What it writes must not change: the table an engine that drops hours
leaves is exactly the one an engine holding everything leaves.
"""

from __future__ import annotations

import json
from typing import Any

from slaengine.config import SlaConfig
from slaengine.events import OrderEvent, RequestEvent
from slaengine.sli.engine import MINUTE_SKETCH_DAYS, RETENTION_DAYS, SliEngine

from .conftest import MONTH_START_MS

HOUR = 3_600_000
DAY = 24 * HOUR
SOURCE = "requests:0"
RECENT_HOURS = 3 * (MINUTE_SKETCH_DAYS + 1) * 8  # 3 SLOs, 8 hours with requests a day


def config() -> SlaConfig:
    return SlaConfig.model_validate(
        {
            "timezone": "UTC",
            "slos": [
                {
                    "name": "api-latency",
                    "service": "orders-api",
                    "sli": "latency",
                    "threshold_ms": 300,
                    "target": 95,
                },
                {"name": "api-ok", "service": "orders-api", "sli": "availability", "target": 99},
                {
                    "name": "api-up",
                    "service": "orders-api",
                    "sli": "uptime",
                    "slice_good_ratio": 0.5,
                    "target": 99,
                },
            ],
        }
    )


def request(ts_ms: int, n: int) -> RequestEvent:
    return RequestEvent(ts_ms, "orders-api", "GET /orders", 500 if n % 7 == 0 else 200, n % 900)


def history(days: int) -> list[RequestEvent]:
    """One request every 3 hours; every 50th request is followed by a late one 40 days older
    (an hour compacted by then, read back from the table)."""
    events = []
    for n, ts_ms in enumerate(range(MONTH_START_MS, MONTH_START_MS + days * DAY, 3 * HOUR)):
        events.append(request(ts_ms + n % 60 * 60_000, n))
        if n % 50 == 49 and ts_ms - 40 * DAY >= MONTH_START_MS:
            events.append(request(ts_ms - 40 * DAY + 17 * 60_000, n + 1))
    return events


def flush(engine: SliEngine, table: dict[str, Any]) -> None:
    for key, _, value in engine.take_changes():
        if value is None:
            table.pop(key, None)
        else:
            table[key] = json.loads(json.dumps(value))  # stored as the changelog holds it


def replay(
    events: list[RequestEvent], engine: SliEngine, table: dict[str, Any], first_offset: int = 0
) -> None:
    for offset, event in enumerate(events, first_offset):
        engine.apply(event, SOURCE, offset)
        if offset % 40 == 0:
            engine.maintain()
            flush(engine, table)
    engine.maintain()
    flush(engine, table)


def hours_in_memory(engine: SliEngine) -> int:
    return sum(len(hours) for hours in engine.series.values())


def test_dropping_compacted_hours_writes_exactly_the_same_table() -> None:
    events = history(RETENTION_DAYS + 20)  # past retention: the oldest hours are pruned too
    holding, held_table = SliEngine(config()), {}
    dropping_table: dict[str, Any] = {}
    dropping = SliEngine(config(), stored_record=dropping_table.get)
    replay(events, holding, held_table)
    replay(events, dropping, dropping_table)
    assert dropping_table == held_table
    assert dropping.archived == holding.archived and holding.archived[("api-ok", SOURCE)][1] > 0
    assert len(held_table) > 3 * 400 * 8  # 3 SLOs x 400+ days x 8 hours with a request
    # in memory: the hours that still have minute sketches (two days) and little else
    assert hours_in_memory(dropping) <= RECENT_HOURS < hours_in_memory(holding) / 50


def test_a_restored_engine_holds_compacted_hours_cold_and_counts_late_events_on_them() -> None:
    events = history(120)
    holding, held_table = SliEngine(config()), {}
    replay(events, holding, held_table)
    restored_table = dict(held_table)
    restored = SliEngine(config(), stored_record=restored_table.get)
    for key, value in restored_table.items():
        restored.load(key, value)
    assert hours_in_memory(restored) <= RECENT_HOURS
    assert len(restored.cold_detail[("api-ok", SOURCE)]) > 30 * 8  # compacted later, read back
    # late events into hours compacted long ago (each holds a request), then more history
    late_hours = [(MONTH_START_MS + day * DAY) // HOUR + 6 for day in (3, 30, 60, 100)]
    before = [held_table[f"b|api-ok|{SOURCE}|{hour}"]["t"] for hour in late_hours]
    assert all(hour in restored.cold[("api-ok", SOURCE)] for hour in late_hours[:3])
    assert late_hours[3] in restored.cold_detail[("api-ok", SOURCE)]  # 20 days old
    late = [request(hour * HOUR + 30 * 60_000, n) for n, hour in enumerate(late_hours)]
    more = late + history(130)[len(events) :]
    replay(more, holding, held_table, first_offset=len(events))
    replay(more, restored, restored_table, first_offset=len(events))
    assert restored_table == held_table
    after = [held_table[f"b|api-ok|{SOURCE}|{hour}"]["t"] for hour in late_hours]
    assert after == [t + 1 for t in before] and min(before) >= 1


def test_hours_still_receiving_order_decisions_are_not_read_back_again_and_again() -> None:
    """An order is decided up to a day past its deadline (72 h after its creation here): its
    creation hour stays in memory until then, though it is past the two days of minute
    sketches."""
    orders = SlaConfig.model_validate(
        {
            "timezone": "UTC",
            "slos": [{"name": "ship", "sli": "fulfillment", "within": "48h", "target": 95}],
        }
    )
    events: list[tuple[int, OrderEvent]] = []
    for n in range(30 * 48):  # an order every 30 minutes for 30 days, shipped 40-47 h later
        created = MONTH_START_MS + n * 30 * 60_000
        events.append((created, OrderEvent(created, f"o{n}", "created")))
        shipped = created + (40 + n % 8) * HOUR
        if n % 5:  # else never shipped: missed when it expires, 72 h after its creation
            events.append((shipped, OrderEvent(shipped, f"o{n}", "shipped")))
    events.sort(key=lambda pair: pair[0])
    table: dict[str, Any] = {}
    reads: list[str] = []

    def stored_record(key: str) -> Any:
        reads.append(key)
        return table.get(key)

    holding, held_table = SliEngine(orders), {}
    dropping = SliEngine(orders, stored_record=stored_record)
    for engine, its_table in ((holding, held_table), (dropping, table)):
        for offset, (_, event) in enumerate(events):
            engine.apply(event, "orders:0", offset)
            if offset % 10 == 0:  # a replay maintains every hour of event time
                engine.maintain()
                flush(engine, its_table)
        engine.maintain()
        flush(engine, its_table)
    assert table == held_table
    assert reads == []  # no late event: nothing to read back
    assert hours_in_memory(dropping) < hours_in_memory(holding) / 5
