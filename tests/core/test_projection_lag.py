"""Projection lag as the SLA means it: read models behind their event store (sla.projections)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from slaengine.batch import kind_of_event
from slaengine.config import SlaConfig
from slaengine.events import (
    PROJECTIONS_TOPIC,
    ProjectionEvent,
    RequestEvent,
    decode_message,
    event_to_json,
)
from slaengine.metrics import SliCollector, every_window
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import evaluate_window
from slaengine.sli.source import EngineSliSource

NOW_MS = 1_793_000_000_000  # 2026-10-26
T0 = 1_790_812_800_000  # 2026-10-01T00:00:00Z
REPO = Path(__file__).resolve().parents[2]


def decode(obj: object) -> tuple[list, list]:
    return decode_message(PROJECTIONS_TOPIC, json.dumps(obj).encode(), NOW_MS)


def lag_config(**extra: object) -> SlaConfig:
    return SlaConfig.model_validate(
        {
            "timezone": "UTC",
            "slos": [
                {
                    "name": "projection-lag",
                    "sli": "projection_lag",
                    "threshold_s": 1,
                    "target": 99,
                    **extra,
                },
                {
                    "name": "stock-lag",
                    "sli": "projection_lag",
                    "threshold_s": 2,
                    "target": 90,
                    "projection": "AvailableStock",
                },
            ],
        }
    )


# ---- the event contract ------------------------------------------------------------------


def test_a_sample_with_lag_ms_decodes() -> None:
    events, invalid = decode(
        {"ts": "2026-10-01T12:00:00Z", "projection": "AvailableStock", "lag_ms": 800}
    )
    assert invalid == []
    assert events == [(0, ProjectionEvent(1_790_856_000_000, "AvailableStock", 800.0))]


def test_a_sample_with_source_ts_has_lag_ts_minus_source_ts() -> None:
    events, invalid = decode(
        {
            "ts": 1_790_856_000_000,
            "projection": "OrderList",
            "source_ts": "2026-10-01T11:59:58.750Z",
        }
    )
    assert invalid == []
    assert events[0][1].lag_ms == 1250.0


def test_a_source_ts_slightly_after_ts_is_clock_skew_and_lag_zero() -> None:
    events, invalid = decode(
        {
            "ts": "2026-10-01T12:00:00Z",
            "projection": "OrderList",
            "source_ts": "2026-10-01T12:00:00.040Z",
        }
    )
    assert invalid == [] and events[0][1].lag_ms == 0.0


@pytest.mark.parametrize(
    "body, reason, words",
    [
        ({"ts": "2026-10-01T12:00:00Z", "lag_ms": 5}, "missing_field", "'projection'"),
        (
            {"ts": "2026-10-01T12:00:00Z", "projection": "P"},
            "missing_field",
            "'lag_ms' (or 'source_ts')",
        ),
        (
            {"ts": "2026-10-01T12:00:00Z", "projection": "P", "lag_ms": -1},
            "out_of_range",
            "negative",
        ),
        (
            {"ts": "2026-10-01T12:00:00Z", "projection": "P", "lag_ms": "800"},
            "wrong_type",
            "a number",
        ),
        (
            {"ts": "2026-10-01T12:00:00Z", "projection": "P", "lag_ms": True},
            "wrong_type",
            "boolean",
        ),
        (
            {"ts": "2026-10-01T12:00:00Z", "projection": "P", "lag_ms": 1, "source_ts": 1},
            "conflicting_fields",
            "not both",
        ),
        (
            {"ts": "2026-10-01T12:00:00Z", "projection": "P", "source_ts": "yesterday"},
            "bad_timestamp",
            "source_ts:",
        ),
        (
            {"ts": "2026-10-01T12:00:00Z", "projection": "P", "source_ts": "2026-10-01T13:00:00Z"},
            "out_of_range",
            "ahead of its source",
        ),
        ({"projection": "P", "lag_ms": 1}, "missing_field", "'ts'"),
        ({"ts": NOW_MS + 3_600_000, "projection": "P", "lag_ms": 1}, "future_timestamp", "future"),
        ({"ts": "2026-10-01T12:00:00Z", "projection": "", "lag_ms": 1}, "missing_field", "empty"),
    ],
)
def test_malformed_samples_are_invalid_with_a_reason(body: dict, reason: str, words: str) -> None:
    events, [bad] = decode(body)
    assert events == []
    assert bad.reason == reason and words in bad.detail
    assert bad.element == body  # the dead letter keeps what was sent


def test_a_batch_keeps_its_valid_samples() -> None:
    events, invalid = decode(
        [{"ts": T0, "projection": "A", "lag_ms": 1}, {"ts": T0, "projection": "A", "lag_ms": -1}]
    )
    assert [i for i, _ in events] == [0] and [b.index for b in invalid] == [1]


@settings(max_examples=300, deadline=None)
@given(
    document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["ts", "projection", "lag_ms", "source_ts", "x"]), inner, max_size=5
            )
        ),
        max_leaves=10,
    )
)
def test_decoding_any_json_never_raises(document: object) -> None:
    events, invalid = decode(document)
    assert len(events) + len(invalid) >= 1


def test_event_to_json_round_trips() -> None:
    event = ProjectionEvent(1_790_856_000_123, "AvailableStock", 812.5)
    [(_, again)], _ = decode(event_to_json(event))
    assert again == event


def test_batch_mode_tells_a_projection_sample_by_its_field() -> None:
    assert kind_of_event({"ts": T0, "projection": "A", "lag_ms": 1}) == PROJECTIONS_TOPIC
    assert kind_of_event([{"ts": T0, "projection": "A", "source_ts": T0}]) == PROJECTIONS_TOPIC


# ---- the SLI ------------------------------------------------------------------------------


def test_config_needs_threshold_s_and_keeps_projection_to_its_sli() -> None:
    with pytest.raises(ValueError, match="projection_lag SLO needs 'threshold_s'"):
        SlaConfig.model_validate({"slos": [{"name": "x", "sli": "projection_lag", "target": 99}]})
    with pytest.raises(ValueError, match="'projection' applies to projection_lag SLOs only"):
        SlaConfig.model_validate(
            {
                "slos": [
                    {"name": "x", "sli": "lag", "threshold_s": 1, "target": 99, "projection": "A"}
                ]
            }
        )


def samples(
    engine: SliEngine,
    lags_ms: list[float],
    projection: str = "AvailableStock",
    start_ms: int = T0,
    step_ms: int = 1000,
    first_offset: int = 0,
) -> None:
    for i, lag in enumerate(lags_ms):
        engine.apply(
            ProjectionEvent(start_ms + i * step_ms, projection, lag),
            "projections:0",
            first_offset + i,
        )


def test_good_samples_are_those_within_the_threshold_in_the_samples_event_time() -> None:
    engine = SliEngine(lag_config())
    samples(engine, [200.0] * 97 + [1000.0, 1000.1, 4000.0], start_ms=T0 + 3_600_000)
    slo = engine.slos["projection-lag"]
    row = evaluate_window(engine, slo, "1h", T0 + 3_600_000 + 100_000)
    assert (row.good, row.total) == (98, 100)  # 1000 ms is within 1 s, 1000.1 ms is not
    assert row.value == pytest.approx(98.0) and row.status == "breached"
    # the samples live in the hour of their own time, not in the hour they were applied
    assert [hour for _, hours in engine.buckets_of("projection-lag") for hour in hours] == [
        T0 // 3_600_000 + 1
    ]
    assert row.p99_ms == pytest.approx(1000.1, rel=0.01)
    assert row.to_json()["p99_ms"] == row.p99_ms


def test_an_slo_with_a_projection_counts_only_that_projection() -> None:
    engine = SliEngine(lag_config())
    samples(engine, [3000.0] * 10, projection="OrderList")
    samples(engine, [500.0] * 10, projection="AvailableStock", first_offset=10)
    at = T0 + 60_000
    stock = evaluate_window(engine, engine.slos["stock-lag"], "1h", at)
    everything = evaluate_window(engine, engine.slos["projection-lag"], "1h", at)
    assert (stock.good, stock.total) == (10, 10)
    assert (everything.good, everything.total) == (10, 20)


def test_replayed_samples_change_nothing() -> None:
    engine = SliEngine(lag_config())
    samples(engine, [100.0, 2000.0, 300.0])
    samples(engine, [100.0, 2000.0, 300.0])  # the same offsets again, after a crash
    row = evaluate_window(engine, engine.slos["projection-lag"], "1h", T0 + 60_000)
    assert (row.good, row.total) == (2, 3)


def test_each_projection_keeps_its_own_clock_for_lateness() -> None:
    engine = SliEngine(lag_config())
    samples(engine, [100.0] * 5, projection="OrderList", start_ms=T0 + 3_600_000)
    samples(
        engine, [100.0] * 5, projection="AvailableStock", start_ms=T0, first_offset=5
    )  # an hour older
    row = evaluate_window(engine, engine.slos["projection-lag"], "2h", T0 + 3_600_000 + 60_000)
    assert row.total == 10  # another projection's newer samples do not make these late


def test_a_sample_later_than_grace_counts_in_its_own_minute_in_every_window() -> None:
    engine = SliEngine(lag_config())
    samples(engine, [100.0], start_ms=T0 + 3_600_000)
    samples(engine, [5000.0], start_ms=T0 + 3_600_000 - 11 * 60_000, first_offset=1)  # 11 min late
    slo = engine.slos["projection-lag"]
    at = T0 + 3_600_000 + 60_000
    hour = evaluate_window(engine, slo, "1h", at)
    assert (hour.good, hour.total) == (1, 2)  # like a late request: rolling windows count it too
    month = evaluate_window(engine, slo, "calendar-month", at)
    assert (month.good, month.total) == (1, 2)


def test_projection_state_survives_a_restart_through_the_changelog_records() -> None:
    engine = SliEngine(lag_config())
    samples(engine, [100.0, 1500.0, 300.0, 2500.0])
    restored = SliEngine(lag_config())
    for key, _, value in engine.take_changes():
        restored.load(key, value)
    samples(restored, [100.0, 1500.0, 300.0, 2500.0])  # replayed from the last commit: skipped
    for engine_ in (engine, restored):
        row = evaluate_window(engine_, engine_.slos["projection-lag"], "1h", T0 + 60_000)
        assert (row.good, row.total) == (2, 4)
        assert row.p99_ms == pytest.approx(
            1500, rel=0.01
        )  # DDSketch rank: q x (n - 1), rounded down


def test_compute_reads_projection_samples_from_the_file(tmp_path: Path) -> None:
    config = tmp_path / "slo.yaml"
    config.write_text(
        "slos:\n  - {name: projection-lag, sli: projection_lag, threshold_s: 1, target: 99}\n"
    )
    events = tmp_path / "events.ndjson"
    lines = [
        {"ts": T0 + i * 1000, "projection": "AvailableStock", "lag_ms": 2500 if i < 5 else 400}
        for i in range(100)
    ]
    lines.append({"ts": T0 + 100_000, "projection": "AvailableStock", "lag_ms": -3})  # invalid
    events.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "slaengine.cli",
            "compute",
            "--events",
            str(events),
            "--config",
            str(config),
            "--at",
            "2026-10-01T00:10:00Z",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    document = json.loads(out.stdout)
    assert document["events"]["invalid_by_reason"] == {"out_of_range": 1}
    [hour] = [row for row in document["slos"] if row["window"] == "1h"]
    assert (hour["good"], hour["total"], hour["status"]) == (95, 100, "breached")
    assert hour["p99_ms"] == pytest.approx(2500, rel=0.01)
    assert hour["p50_ms"] == pytest.approx(400, rel=0.01)


# ---- the gauges ---------------------------------------------------------------------------


def gauge(registry: CollectorRegistry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(labels.items())): value
        for labels, value in EngineSliSource(SliEngine(lag_config()), registry).gauge_samples(name)
    }


def test_projection_lag_gauge_is_the_windows_p99_and_each_projections_newest_sample() -> None:
    engine = SliEngine(lag_config())
    samples(engine, [100.0] * 95 + [3000.0] * 5, projection="AvailableStock")
    samples(engine, [700.0, 40.0], projection="OrderList", start_ms=T0 + 30_000, first_offset=100)
    registry = CollectorRegistry()
    registry.register(SliCollector(engine, clock=lambda: (T0 + 120_000) / 1000))
    with every_window():  # 1h is not a default window of a 30d projection-lag SLO
        found = gauge(registry, "sla_projection_lag_seconds")
    assert found[
        (("projection", "*"), ("slo", "projection-lag"), ("window", "1h"))
    ] == pytest.approx(3.0, rel=0.01)
    assert found[
        (("projection", "AvailableStock"), ("slo", "stock-lag"), ("window", "1h"))
    ] == pytest.approx(3.0, rel=0.01)
    # the newest sample by event time, per projection the SLO covers
    assert (
        found[(("projection", "OrderList"), ("slo", "projection-lag"), ("window", "latest"))]
        == 0.04
    )
    assert (
        found[(("projection", "AvailableStock"), ("slo", "projection-lag"), ("window", "latest"))]
        == 3.0
    )
    assert (("projection", "OrderList"), ("slo", "stock-lag"), ("window", "latest")) not in found


def test_the_newest_samples_reach_a_global_view_that_consumed_none_of_them() -> None:
    # projections are keyed by name, so each lands in one partition: the SLO's owner must still
    # see every projection's newest sample, from the changelog records the consumers write
    consumer = SliEngine(lag_config())
    samples(consumer, [700.0, 40.0], projection="OrderList", first_offset=0)
    view = SliEngine(lag_config())
    for key, _, value in consumer.take_changes():
        view.put(key, value)
    view.put("l|projections:0|OrderList", [T0 - 60_000, 9.9])  # an older snapshot changes nothing
    registry = CollectorRegistry()
    registry.register(SliCollector(view, clock=lambda: (T0 + 120_000) / 1000))
    found = gauge(registry, "sla_projection_lag_seconds")
    assert (
        found[(("projection", "OrderList"), ("slo", "projection-lag"), ("window", "latest"))]
        == 0.04
    )
    assert SliEngine.source_of_key("l|projections:3|A|B") == "projections:3"


def test_pipeline_lag_is_self_monitoring_per_input_topic_without_any_lag_slo() -> None:
    engine = SliEngine(lag_config())
    engine.apply(
        RequestEvent(T0, "orders-api", "GET /", 200, 5.0),
        "requests:0",
        0,
        processed_ms=T0 + 2500,
        appended_ms=T0 + 500,
    )
    engine.apply(ProjectionEvent(T0, "A", 5.0), "projections:1", 0, processed_ms=T0 + 300)
    registry = CollectorRegistry()
    registry.register(SliCollector(engine, clock=lambda: (T0 + 3000) / 1000))
    found = gauge(registry, "slaengine_pipeline_lag_seconds")
    assert found == {(("topic", "sla.requests"),): 2.0, (("topic", "sla.projections"),): 0.3}
    assert engine.lag == []  # no stakeholder SLO was needed for it


# ---- the generator ------------------------------------------------------------------------


def test_generated_projection_samples_are_valid_with_one_slow_projection_incident() -> None:
    from datetime import UTC, datetime

    from slaengine.synthetic import TrafficPlan, generate_events, plan_slow_projections

    plan = TrafficPlan(
        start=datetime(2026, 10, 1, tzinfo=UTC),
        end=datetime(2026, 10, 3, tzinfo=UTC),
        seed=7,
        requests_per_minute=0.5,
        orders_per_hour=2,
    )
    events = list(generate_events(plan))
    raw = [e for e in events if "projection" in e]
    assert len(raw) == 2 * 24 * 60 * 2  # one sample a minute per projection
    decoded = [decode(e) for e in raw]
    assert all(not invalid for _, invalid in decoded)
    assert {"lag_ms" in e for e in raw} == {True, False}  # both forms of the contract
    [incident] = plan_slow_projections(plan)
    end_ms = incident.start_ms + incident.minutes * 60_000
    slow = [(e.ts_ms, e.lag_ms) for (events_, _) in decoded for _, e in events_ if e.lag_ms > 1000]
    during = [ts for ts, _ in slow if incident.start_ms <= ts < end_ms]
    assert len(during) == incident.minutes  # every sample of the incident is slow
    assert len(slow) - len(during) < 10  # elsewhere only the lognormal tail
    # the projection samples come from their own random stream: the other events are unchanged
    without = list(
        generate_events(
            TrafficPlan(
                start=plan.start,
                end=plan.end,
                seed=7,
                requests_per_minute=0.5,
                orders_per_hour=2,
                projection_samples_per_minute=0,
            )
        )
    )
    assert [e for e in events if "projection" not in e] == without


def test_a_generated_day_gives_a_met_projection_lag_slo_from_the_default_config(
    tmp_path: Path,
) -> None:
    out = tmp_path / "day.ndjson"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "slaengine.cli",
            "generate",
            "--month",
            "2026-02",
            "--seed",
            "3",
            "--requests-per-minute",
            "0.2",
            "--orders-per-hour",
            "1",
            "--out",
            str(out),
            "--no-progress",
        ],
        check=True,
        cwd=REPO,
        capture_output=True,
        timeout=300,
    )
    document = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-m",
                "slaengine.cli",
                "compute",
                "--events",
                str(out),
                "--config",
                str(REPO / "slaengine" / "data" / "slo.yaml"),
                "--at",
                "2026-03-01T00:00:00Z",
            ],
            check=True,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        ).stdout
    )
    [month] = [
        r
        for r in document["slos"]
        if r["name"] == "projection-lag" and r["window"] == "month:2026-02"
    ]
    assert month["total"] == 28 * 24 * 60 * 2
    assert month["status"] == "met" and 99.5 < month["value"] < 100  # the incident costs a little
    assert month["p99_ms"] < 1000
