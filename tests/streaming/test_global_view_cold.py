"""The global view holds cold hours as raw records (issue 14): a compacted hour past every
window its SLO is read over by default is not decoded; reads that reach one decode it from the
store. Every answer must stay what an engine holding everything decoded gives: the windows now
and in the past, past months, the monthly report, the lifetime counters, the keys a restart
checks for lost deletions."""

from __future__ import annotations

import dataclasses
import json
import random
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slaengine.batch import kind_of_event
from slaengine.config import load_sla_config
from slaengine.events import ORDERS_TOPIC, REQUESTS_TOPIC, SOURCE_NAMES, decode_element
from slaengine.report.collect import month_report_from_engine
from slaengine.settings import DEFAULT_CONFIG
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import evaluate_all
from slaengine.synthetic import TrafficPlan, generate_events
from streams.global_view import GlobalView, cold_horizon

CONFIG = load_sla_config(DEFAULT_CONFIG)
START = datetime(2026, 5, 3, 7, tzinfo=UTC)
DAYS = 100
END = START + timedelta(days=DAYS)
PARTITIONS = 4
HOUR_MS = 3_600_000


def partition_of(topic: str, event: dict[str, Any]) -> int:
    key = event["request_id"] if topic == REQUESTS_TOPIC else event["order_id"]
    return zlib.crc32(key.encode()) % PARTITIONS


def wire(key: str, value: Any) -> tuple[bytes, bytes | None]:
    """A stage-1 record as the changelog holds it (compact JSON, as Faust writes it)."""
    return json.dumps(key).encode(), (
        None if value is None else json.dumps(value, separators=(",", ":")).encode()
    )


@pytest.fixture(scope="module")
def changelog() -> list[tuple[bytes, bytes | None]]:
    """100 days over four partitions, flushed and maintained once per day of event time as a
    worker's stage 1 does: old hours are written again when compacted."""
    plan = TrafficPlan(
        start=START, end=END, seed=5, requests_per_minute=0.5, orders_per_hour=3,
        projection_samples_per_minute=0,
    )  # fmt: skip
    now_ms = int(END.timestamp() * 1000) + HOUR_MS
    stage1 = SliEngine(CONFIG)
    records: list[tuple[bytes, bytes | None]] = []
    day = None
    for line, raw in enumerate(generate_events(plan)):
        topic = kind_of_event(raw)
        if topic not in (REQUESTS_TOPIC, ORDERS_TOPIC):
            continue
        event = decode_element(topic, raw, now_ms)
        stage1.apply(event, f"{SOURCE_NAMES[topic]}:{partition_of(topic, raw)}", line)
        if day != event.ts_ms // 86_400_000:
            day = event.ts_ms // 86_400_000
            stage1.maintain()
            records += [wire(k, v) for k, _, v in stage1.take_changes()]
    stage1.maintain()
    records += [wire(k, v) for k, _, v in stage1.take_changes()]
    return records


def lean_view(records: list[tuple[bytes, bytes | None]], **kwargs: Any) -> GlobalView:
    view = GlobalView(
        CONFIG, "unused:9092", [], PARTITIONS, clock=lambda: END.timestamp() + 3600, **kwargs
    )
    for key, value in records:
        view.apply(key, value)
    view.settle()
    return view


def everything(records: list[tuple[bytes, bytes | None]]) -> SliEngine:
    """Every record put decoded, in log order: the view before cold hours."""
    engine = SliEngine(CONFIG)
    for key, value in records:
        engine.put(json.loads(key), None if value is None else json.loads(value))
    return engine


def answers(engine: SliEngine, at_ms: int) -> list[dict[str, Any]]:
    return [row.to_json() for row in evaluate_all(engine, at_ms)]


def test_a_view_after_a_history_holds_no_compacted_hour_past_the_horizon_decoded(
    changelog: list[tuple[bytes, bytes | None]], tmp_path: Path
) -> None:
    view = lean_view(changelog, cold_dir=tmp_path / "cold")
    reference = everything(changelog)
    now_ms = int(END.timestamp() * 1000) + HOUR_MS
    for (name, source), hours in view.engine.series.items():
        horizon = cold_horizon(view.engine, view.engine.slos[name], now_ms)
        old = [h for h, b in hours.items() if h < horizon and b.minute_total is None]
        assert not old, (name, source, old[:3])
    held = sum(len(hours) for hours in view.engine.series.values())
    everything_held = sum(len(hours) for hours in reference.series.values())
    assert view.stored.count > everything_held // 3, "too little is cold to be a test"
    assert held + view.stored.count == everything_held
    assert type(view.stored.store).__name__ == "Rdict"  # on disk, not in memory


def test_every_answer_of_the_lean_view_equals_the_view_holding_everything(
    changelog: list[tuple[bytes, bytes | None]],
) -> None:
    view = lean_view(changelog)
    reference = everything(changelog)
    assert view.stored.count > 0
    end_ms = int(END.timestamp() * 1000)
    # now (with past months), in the past so that the windows reach cold hours, mid-month
    for at_ms in (end_ms, end_ms - 50 * 86_400_000, end_ms - 80 * 86_400_000 + 1_234_567):
        assert answers(view.engine, at_ms) == answers(reference, at_ms)
    for slo in CONFIG.slos:
        assert view.engine.lifetime_counts(slo, end_ms) == reference.lifetime_counts(slo, end_ms)
    for topic in (REQUESTS_TOPIC, ORDERS_TOPIC):
        for partition in range(PARTITIONS):
            source = f"{SOURCE_NAMES[topic]}:{partition}"
            assert view.engine.deletable_keys(source) == reference.deletable_keys(source)
    for month in (date(2026, 5, 1), date(2026, 6, 1), date(2026, 7, 1)):  # past months
        lean_report = month_report_from_engine(view.engine, CONFIG, month, end_ms)
        full_report = month_report_from_engine(reference, CONFIG, month, end_ms)
        assert dataclasses.asdict(lean_report) == dataclasses.asdict(full_report)
    report = dataclasses.asdict(
        month_report_from_engine(view.engine, CONFIG, date(2026, 6, 1), end_ms)
    )
    assert any(section["worst_windows"] for section in report["slos"]), "no worst hour: not a test"


def test_a_cold_hour_takes_newer_snapshots_and_deletions_as_put_does(
    changelog: list[tuple[bytes, bytes | None]],
) -> None:
    """Older snapshots replayed after newer ones, a deletion (retention), a snapshot with
    minute counts again (a late event after a restore): the lean view follows ``put``."""
    view = lean_view(changelog)
    reference = everything(changelog)
    newest: dict[bytes, bytes | None] = {}
    versions: dict[bytes, list[bytes | None]] = {}
    for key, value in changelog:
        newest[key] = value
        versions.setdefault(key, []).append(value)
    cold_keys = [
        key
        for key, value in newest.items()
        if (parts := json.loads(key).split("|"))[0] == "b"
        and view.stored.holds((parts[1], parts[2]), int(parts[3]))
    ]
    rng = random.Random(3)
    replayed = []
    for key in rng.sample(cold_keys, 40):
        replayed += [(key, value) for value in versions[key][:-1]]  # older ones: ignored
    replayed += [(key, None) for key in rng.sample(cold_keys, 10)]  # deleted
    with_minutes = [k for k in cold_keys if any(b'"mt"' in (v or b"") for v in versions[k])]
    for key in rng.sample(with_minutes, 5):  # a deletion, then its detailed record again
        detailed = next(v for v in versions[key] if v is not None and b'"mt"' in v)
        replayed += [(key, None), (key, detailed)]
    assert len(replayed) > 50
    for key, value in replayed:
        view.apply(key, value)
        reference.put(json.loads(key), None if value is None else json.loads(value))
    view.settle()
    end_ms = int(END.timestamp() * 1000)
    assert answers(view.engine, end_ms) == answers(reference, end_ms)
    for slo in CONFIG.slos:
        assert view.engine.lifetime_counts(slo, end_ms) == reference.lifetime_counts(slo, end_ms)


def test_hours_the_clock_takes_past_the_horizon_leave_memory(
    changelog: list[tuple[bytes, bytes | None]],
) -> None:
    now = [END.timestamp() - 40 * 86_400]
    view = GlobalView(CONFIG, "unused:9092", [], PARTITIONS, clock=lambda: now[0])
    for key, value in changelog:
        view.apply(key, value)
    view.settle()
    cold_before = view.stored.count
    reference = everything(changelog)
    end_ms = int(END.timestamp() * 1000)
    now[0] = END.timestamp() + 3600  # a restarted clock, or 40 days later
    view.settle()
    assert view.stored.count > cold_before
    assert answers(view.engine, end_ms) == answers(reference, end_ms)
