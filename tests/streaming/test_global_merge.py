"""Stage 2 without Kafka: a global engine fed every partition's changelog records equals batch mode.

Requests keyed by request id spread one service over four partitions, so a minute's
requests sit in four buckets; an uptime minute must be judged on their sum. Records are
snapshots: a replayed (older) one and a record seen twice change nothing.
"""

from __future__ import annotations

import json
import random
import zlib
from datetime import UTC, datetime, timedelta

from slaengine.batch import kind_of_event
from slaengine.config import load_sla_config
from slaengine.events import ORDERS_TOPIC, REQUESTS_TOPIC, SOURCE_NAMES, decode_element
from slaengine.settings import DEFAULT_CONFIG
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import evaluate_all
from slaengine.synthetic import Incident, TrafficPlan, generate_events

CONFIG = load_sla_config(DEFAULT_CONFIG)
START = datetime(2026, 10, 5, tzinfo=UTC)
PARTITIONS = 4


def traffic() -> list[tuple[str, dict]]:
    """Six hours at 20 requests a minute with partial outages: many minutes near the 95 % slice
    line."""
    plan = TrafficPlan(
        start=START,
        end=START + timedelta(hours=6),
        seed=9,
        requests_per_minute=20,
        orders_per_hour=60,
        incidents=[
            Incident(
                "orders-api", int(START.timestamp() * 1000) + h * 3_600_000, 50, error_ratio=0.04
            )
            for h in range(6)
        ],
    )
    kinds = [(kind_of_event(e), e) for e in generate_events(plan)]
    return [(kind, e) for kind, e in kinds if kind in (REQUESTS_TOPIC, ORDERS_TOPIC)]


def partition_of(topic: str, event: dict) -> int:
    key = event["request_id"] if topic == REQUESTS_TOPIC else event["order_id"]
    return zlib.crc32(key.encode()) % PARTITIONS


def rows(engine: SliEngine, at_ms: int) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        (r.name, r.window): (r.good, r.total) for r in evaluate_all(engine, at_ms) if r.sli != "lag"
    }


def records_of(stage1: SliEngine, source: str) -> list[tuple[str, object]]:
    """What the stage-1 flush writes to the changelog, through JSON as on the wire."""
    return [(key, json.loads(json.dumps(value))) for key, _, value in stage1.take_changes(source)]


def test_a_global_engine_over_request_id_partitions_equals_batch_including_uptime_minutes() -> None:
    events = traffic()
    now_ms = int((START + timedelta(days=1)).timestamp() * 1000)
    batch = SliEngine(CONFIG)
    stage1 = SliEngine(CONFIG)
    changelog: list[tuple[str, object]] = []
    for line, (topic, raw) in enumerate(events):
        event = decode_element(topic, raw, now_ms)
        batch.apply(event, f"{SOURCE_NAMES[topic]}:0", line)
        source = f"{SOURCE_NAMES[topic]}:{partition_of(topic, raw)}"
        stage1.apply(event, source, line)
        if line % 997 == 0:  # flushes at arbitrary points, as the agents do
            for name in {
                f"{SOURCE_NAMES[t]}:{p}"
                for t in (REQUESTS_TOPIC, ORDERS_TOPIC)
                for p in range(PARTITIONS)
            }:
                changelog += records_of(stage1, name)
    changelog += records_of(stage1, None)  # type: ignore[arg-type]
    assert (
        len({key.split("|")[2] for key, _ in changelog if key.startswith("b|api-uptime|")})
        == PARTITIONS
    )

    at_ms = int((START + timedelta(hours=6, minutes=30)).timestamp() * 1000)
    expected = rows(batch, at_ms)
    assert expected[("api-uptime", "1d")][0] < expected[("api-uptime", "1d")][1], (
        "no down minute: not a test"
    )

    view = SliEngine(CONFIG)
    for key, value in changelog:
        view.put(key, value)
    assert rows(view, at_ms) == expected

    # a replay delivers older snapshots again (and some twice): the newest per key still wins
    rng = random.Random(2)
    for key, value in rng.sample(changelog, len(changelog) // 3):
        view.put(key, value)
    assert rows(view, at_ms) == expected


def test_summing_uptime_per_partition_would_not_be_exact() -> None:
    """Guards the test above: per-partition slices differ from slices of the summed minute."""
    events = traffic()
    now_ms = int((START + timedelta(days=1)).timestamp() * 1000)
    at_ms = int((START + timedelta(hours=6, minutes=30)).timestamp() * 1000)
    batch, per_partition = SliEngine(CONFIG), [SliEngine(CONFIG) for _ in range(PARTITIONS)]
    for line, (topic, raw) in enumerate(events):
        event = decode_element(topic, raw, now_ms)
        batch.apply(event, f"{SOURCE_NAMES[topic]}:0", line)
        per_partition[partition_of(topic, raw)].apply(event, f"{SOURCE_NAMES[topic]}:0", line)
    summed = [
        sum(rows(engine, at_ms)[("api-uptime", "1d")][i] for engine in per_partition)
        for i in (0, 1)
    ]
    assert tuple(summed) != rows(batch, at_ms)[("api-uptime", "1d")]


def test_a_deleted_bucket_or_order_leaves_the_view() -> None:
    stage1 = SliEngine(CONFIG)
    view = SliEngine(CONFIG)
    start_ms = int(START.timestamp() * 1000)
    for offset, raw in enumerate(
        [
            {"ts": "2026-10-05T00:00:10Z", "order_id": "o1", "event": "created"},
            {
                "ts": "2026-10-05T00:00:20Z",
                "service": "orders-api",
                "endpoint": "GET /",
                "status": 200,
                "latency_ms": 5,
            },
        ]
    ):
        topic = ORDERS_TOPIC if "order_id" in raw else REQUESTS_TOPIC
        stage1.apply(
            decode_element(topic, raw, start_ms + 86_400_000), f"{SOURCE_NAMES[topic]}:1", offset
        )
    for key, value in records_of(stage1, "orders:1") + records_of(stage1, "requests:1"):
        view.put(key, value)
    hour = start_ms // 3_600_000
    assert view.trackers[("order-fulfillment", "orders:1")].orders.keys() == {"o1"}
    assert hour in view.series[("api-availability", "requests:1")]
    view.put(f"O|order-fulfillment|orders:1|{hour * 1000}", None)  # the group of the order's hour
    view.put(f"b|api-availability|requests:1|{hour}", None)
    assert view.trackers[("order-fulfillment", "orders:1")].orders == {}
    assert hour not in view.series[("api-availability", "requests:1")]


def test_only_the_owner_of_an_slo_evaluates_and_publishes_its_alerts() -> None:
    """Two workers with the same global view: each SLO's alerts come from its owner alone."""
    from prometheus_client import CollectorRegistry

    from streams.evaluator import EvaluatorService

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    view = SliEngine(CONFIG)
    for second in range(0, 40 * 60, 2):  # 40 minutes of errors on both services
        ts_ms = int((now - timedelta(minutes=40)).timestamp() * 1000) + second * 1000
        for service in ("orders-api", "catalog-api"):
            view.apply(
                decode_element(
                    REQUESTS_TOPIC,
                    {
                        "ts": ts_ms,
                        "service": service,
                        "endpoint": "GET /",
                        "status": 503,
                        "latency_ms": 5,
                    },
                    ts_ms,
                ),
                f"requests:{second % PARTITIONS}",
                second,
            )

    def fired(owns) -> set[str]:
        service = EvaluatorService(CONFIG, view, CollectorRegistry(), None, owns=owns)
        return {a.labels["slo"] for a in service.evaluate(now) if a.status == "firing"}

    everywhere = fired(lambda slo: True)
    assert {"api-availability", "catalog-availability"} <= everywhere
    one, two = (
        fired(lambda slo: slo == "api-availability"),
        fired(lambda slo: slo != "api-availability"),
    )
    assert one == {"api-availability"}
    assert two == everywhere - one
