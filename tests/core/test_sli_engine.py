"""SLI engine: the seed scenarios exactly, idempotent replays, and recovery from persisted state."""

from __future__ import annotations

import random

import numpy as np
import pytest
from ddsketch.mapping import LogarithmicMapping
from hypothesis import given, settings
from hypothesis import strategies as st

from slaengine.config import SlaConfig
from slaengine.events import OrderEvent, RequestEvent
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import evaluate_month, evaluate_window
from slaengine.sli.sketch import LatencySketch

from .conftest import MONTH_START_MS

MINUTE = 60_000
HOUR = 3_600_000


def request(ts_ms: int, status: int = 200, latency: float = 50.0) -> RequestEvent:
    return RequestEvent(ts_ms, "orders-api", "GET /orders/{id}", status, latency)


def month_with_down_minutes(down: set[int]) -> list[RequestEvent]:
    """One request every 20 s for 30 days; every request of a 'down' minute fails."""
    return [
        request(MONTH_START_MS + m * MINUTE + s * 20_000, 503 if m in down else 200)
        for m in range(30 * 1440)
        for s in range(3)
    ]


def apply_all(engine: SliEngine, events: list, source: str = "requests:0") -> None:
    for offset, event in enumerate(events):
        engine.apply(event, source, offset)


def test_43_down_minutes_in_30_days_is_99_90_percent_uptime_and_met(sla_config: SlaConfig) -> None:
    engine = SliEngine(sla_config)
    apply_all(engine, month_with_down_minutes(set(range(5000, 5043))))
    end = MONTH_START_MS + 30 * 1440 * MINUTE  # [T − 30d, T): every minute of the month
    row = evaluate_window(engine, sla_config.slo("api-uptime"), "30d", end)
    assert (row.good, row.total) == (43200 - 43, 43200)
    assert f"{row.value:.2f}" == "99.90"
    assert row.status == "met"
    assert 0 < row.error_budget_remaining < 0.01


def test_44_down_minutes_breach_a_99_9_percent_target(sla_config: SlaConfig) -> None:
    engine = SliEngine(sla_config)
    apply_all(engine, month_with_down_minutes(set(range(100, 144))))
    row = evaluate_window(
        engine, sla_config.slo("api-uptime"), "30d", MONTH_START_MS + 30 * 1440 * MINUTE
    )
    assert (
        row.total - row.good == 44 and row.status == "breached" and row.error_budget_remaining < 0
    )


def test_a_minute_is_down_only_below_the_slice_good_ratio(sla_config: SlaConfig) -> None:
    engine = SliEngine(sla_config)
    events = [
        request(MONTH_START_MS + i * 1000, 500 if i < 1 else 200) for i in range(20)
    ]  # 1/20 bad = 0.95 good
    events += [
        request(MONTH_START_MS + MINUTE + i * 1000, 500 if i < 2 else 200) for i in range(20)
    ]  # 0.90 good
    apply_all(engine, events)
    row = evaluate_window(engine, sla_config.slo("api-uptime"), "5m", MONTH_START_MS + 2 * MINUTE)
    assert (row.good, row.total) == (1, 2)


def test_fulfillment_of_the_seed_day_is_96_of_98(sla_config: SlaConfig) -> None:
    engine = SliEngine(sla_config)
    events = [OrderEvent(MONTH_START_MS + i * MINUTE, f"o{i}", "created") for i in range(100)]
    events += [
        OrderEvent(MONTH_START_MS + i * MINUTE + 20 * HOUR, f"o{i}", "shipped") for i in range(96)
    ]
    events += [
        OrderEvent(MONTH_START_MS + 97 * MINUTE + 30 * HOUR, f"o{i}", "shipped") for i in (96, 97)
    ]
    events += [OrderEvent(MONTH_START_MS + 5 * HOUR, f"o{i}", "cancelled") for i in (98, 99)]
    events.sort(key=lambda e: e.ts_ms)
    apply_all(engine, events, "orders:0")
    row = evaluate_month(
        engine, sla_config.slo("order-fulfillment"), 2026, 10, MONTH_START_MS + 3 * 24 * HOUR
    )
    assert (row.good, row.total) == (96, 98)


def test_an_order_never_shipped_counts_as_missed_once_its_deadline_passed(
    sla_config: SlaConfig,
) -> None:
    engine = SliEngine(sla_config)
    apply_all(engine, [OrderEvent(MONTH_START_MS, "late", "created")], "orders:0")
    slo = sla_config.slo("order-fulfillment")
    assert evaluate_month(engine, slo, 2026, 10, MONTH_START_MS + 23 * HOUR).total == 0
    assert (
        evaluate_month(engine, slo, 2026, 10, MONTH_START_MS + 25 * HOUR).good,
        evaluate_month(engine, slo, 2026, 10, MONTH_START_MS + 25 * HOUR).total,
    ) == (0, 1)


def test_p95_of_a_million_long_tailed_latencies_is_within_one_percent_of_numpy() -> None:
    rng = np.random.default_rng(42)
    latencies = rng.lognormal(mean=np.log(80), sigma=1.0, size=1_000_000)
    sketch = LatencySketch()
    for value in latencies.tolist():
        sketch.add(value)
    for q in (0.5, 0.95, 0.99):
        exact = float(np.quantile(latencies, q))
        assert abs(sketch.quantile(q) - exact) / exact <= 0.01


def test_sketches_merge_across_buckets_like_one_sketch() -> None:
    values = [random.Random(1).expovariate(1 / 100) for _ in range(5000)]
    whole, first, second = LatencySketch(), LatencySketch(), LatencySketch()
    for i, value in enumerate(values):
        whole.add(value)
        (first if i % 2 else second).add(value)
    first.merge(second)
    assert first.quantile(0.95) == whole.quantile(0.95)
    assert LatencySketch.from_state(first.to_state()).quantile(0.99) == whole.quantile(0.99)


def mixed_traffic(seed: int, count: int) -> list:
    rng = random.Random(seed)
    events: list = []
    for i in range(count):
        ts = MONTH_START_MS + i * 7_000
        if i % 5 == 0:
            events.append(OrderEvent(ts, f"o{i}", "created"))
            events.append(OrderEvent(ts + int(rng.uniform(1, 30) * HOUR), f"o{i}", "shipped"))
        else:
            events.append(request(ts, rng.choice((200, 200, 200, 503)), rng.lognormvariate(5, 1)))
    return sorted(events, key=lambda e: e.ts_ms)


def snapshot(engine: SliEngine, config: SlaConfig, at_ms: int) -> list:
    return [
        evaluate_window(engine, slo, window, at_ms)
        for slo in config.slos
        if slo.sli != "lag"
        for window in ("1h", "1d", "30d", "calendar-month")
    ]


def source_of(event) -> str:
    return "orders:0" if isinstance(event, OrderEvent) else "requests:0"


def test_replaying_already_applied_events_changes_nothing(sla_config: SlaConfig) -> None:
    events = mixed_traffic(3, 20_000)
    once, twice = SliEngine(sla_config), SliEngine(sla_config)
    for offset, event in enumerate(events):
        once.apply(event, source_of(event), offset)
        twice.apply(event, source_of(event), offset)
        if offset % 997 == 0:  # a redelivery of the last 300 events, as after a crash
            for replay in range(max(0, offset - 300), offset + 1):
                twice.apply(events[replay], source_of(events[replay]), replay)
    at = events[-1].ts_ms
    assert snapshot(twice, sla_config, at) == snapshot(once, sla_config, at)


@pytest.mark.parametrize(
    "crash_every, count",
    [(1, 1500), (37, 8000), (5000, 12000)],
    ids=["flush after every event", "flush every 37 events", "flush every 5000 events"],
)
def test_restoring_flushed_state_and_replaying_from_the_last_commit_gives_the_same_slis(
    sla_config: SlaConfig, crash_every: int, count: int
) -> None:
    events = mixed_traffic(5, count)
    reference = SliEngine(sla_config)
    for offset, event in enumerate(events):
        reference.apply(event, source_of(event), offset)
    rng = random.Random(crash_every)
    table: dict = {}
    engine = SliEngine(sla_config)
    offset = committed = 0
    while offset < len(events):
        event = events[offset]
        engine.apply(event, source_of(event), offset)
        offset += 1
        if offset % crash_every == 0:
            changes = engine.take_changes()
            crashed = rng.random() < 0.3
            cut = (
                rng.randrange(len(changes) + 1) if crashed else len(changes)
            )  # a crash may cut a flush short
            for key, _, value in changes[:cut]:
                table[key] = value
            if not crashed:
                committed = offset  # the offset commit only follows a complete flush
            else:  # restore from the table; Kafka redelivers from (at or before) the last commit
                engine = SliEngine(sla_config)
                for key, value in table.items():
                    engine.load(key, value)
                offset = max(0, committed - rng.randrange(0, crash_every + 1))
    at = events[-1].ts_ms
    assert snapshot(engine, sla_config, at) == snapshot(reference, sla_config, at)


def test_an_event_later_than_the_grace_period_counts_in_the_rolling_windows_and_the_month_alike(
    sla_config: SlaConfig,
) -> None:
    engine = SliEngine(sla_config)
    apply_all(
        engine, [request(MONTH_START_MS + 3 * HOUR), request(MONTH_START_MS + HOUR, status=503)]
    )
    slo = sla_config.slo("api-availability")
    at = MONTH_START_MS + 3 * HOUR + MINUTE
    rolling = evaluate_window(engine, slo, "1d", at)
    month = evaluate_window(engine, slo, "calendar-month", at)
    assert (rolling.good, rolling.total) == (month.good, month.total) == (1, 2)
    assert engine.late_dropped == 0


def test_an_event_within_the_grace_period_lands_in_its_own_minute(sla_config: SlaConfig) -> None:
    engine = SliEngine(sla_config)
    apply_all(
        engine,
        [request(MONTH_START_MS + 10 * MINUTE), request(MONTH_START_MS + 2 * MINUTE, status=503)],
    )
    slo = sla_config.slo("api-availability")
    five = evaluate_window(engine, slo, "5m", MONTH_START_MS + 11 * MINUTE)
    hour = evaluate_window(engine, slo, "1h", MONTH_START_MS + 11 * MINUTE)
    assert (five.good, five.total) == (1, 1) and (hour.good, hour.total) == (1, 2)


def test_lag_is_measured_from_processing_time(sla_config: SlaConfig) -> None:
    engine = SliEngine(sla_config)
    engine.apply(request(MONTH_START_MS), "requests:0", 0, processed_ms=MONTH_START_MS + 500)
    engine.apply(request(MONTH_START_MS), "requests:0", 1, processed_ms=MONTH_START_MS + 4000)
    row = evaluate_window(engine, sla_config.slo("projection-lag"), "5m", MONTH_START_MS + MINUTE)
    assert (row.good, row.total) == (1, 2)
    assert engine.pipeline_lag_ms == {"requests:0": 4000}


def test_fulfillment_does_not_depend_on_how_orders_interleave_in_a_partition(
    sla_config: SlaConfig,
) -> None:
    """Producers may batch one order's events together (here: within runs of 200 events, more than
    a day apart); only each order's own event order counts, not the interleaving."""
    rng = random.Random(7)
    events = []
    for i in range(300):
        created = MONTH_START_MS + i * 10 * MINUTE
        events.append(OrderEvent(created, f"o{i}", "created"))
        if i % 10 == 0:
            events.append(OrderEvent(created + HOUR, f"o{i}", "cancelled"))
        elif i % 7:  # the others never ship
            events.append(OrderEvent(created + int(rng.uniform(1, 30) * HOUR), f"o{i}", "shipped"))
    time_ordered = sorted(events, key=lambda e: e.ts_ms)
    by_order = [
        e
        for start in range(0, len(time_ordered), 200)
        for e in sorted(time_ordered[start : start + 200], key=lambda e: (e.order_id, e.ts_ms))
    ]
    assert by_order != time_ordered
    slo = sla_config.slo("order-fulfillment")
    at = MONTH_START_MS + 4 * 24 * HOUR
    rows = []
    for ordering in (time_ordered, by_order):
        engine = SliEngine(sla_config)
        apply_all(engine, ordering, "orders:0")
        rows.append(evaluate_month(engine, slo, 2026, 10, at))
    assert (rows[0].good, rows[0].total) == (rows[1].good, rows[1].total)
    assert rows[0].total == 300 - 30  # cancelled orders are excluded


def test_evaluating_all_windows_at_once_equals_one_window_at_a_time(sla_config: SlaConfig) -> None:
    from slaengine.sli.results import evaluate_windows, windows_for

    engine = SliEngine(sla_config)
    events = mixed_traffic(11, 30_000)
    for offset, event in enumerate(events):
        engine.apply(event, source_of(event), offset)
    at = events[-1].ts_ms + 7 * MINUTE
    for slo in sla_config.slos:
        together = evaluate_windows(engine, slo, at)
        one_by_one = [evaluate_window(engine, slo, window, at) for window in windows_for(slo)]
        assert together == one_by_one


@settings(max_examples=2000, deadline=None)
@given(
    value=st.floats(min_value=0, max_value=1e12)
    | st.floats(min_value=0.005, max_value=0.02)
    | st.sampled_from([0.01, 1e6, 1e6 + 1e-9, 1.0, 2.0, 1.02])
)
def test_a_latency_falls_in_the_bin_of_ddsketchs_logarithmic_mapping(value: float) -> None:
    # bin_key inlines LogarithmicMapping.key: the bins must stay the ones DDSketch would choose
    sketch = LatencySketch()
    sketch.add(value)
    if value < 0.01:
        assert sketch.zero_count == 1 and sketch.bins == {}
    else:
        assert sketch.bins == {LogarithmicMapping(0.01).key(min(value, 1e6)): 1}
