"""Hostile input through the real Pipeline, engine and resource state (no Kafka): issue 12.

Every element of every message is either applied or dead-lettered, nothing raises,
letters are bounded, names are bounded, and replays are not dead-lettered again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from forecasting.config import load_capacity_config
from forecasting.metrics import CapacityCollector
from forecasting.service import CapacityService
from slaengine.config import SlaConfig
from slaengine.events import ResourceEvent
from slaengine.http.app import create_app
from slaengine.metrics import EncodableRegistry
from slaengine.sli.engine import SliEngine
from streams.capacity import ResourceState
from streams.limits import SeriesLimits, SeriesLimitsCollector
from streams.pipeline import ELEMENT_CAP, MAX_LETTER_BYTES, ORIGINAL_CAP, Pipeline

NOW_MS = int(time.time() * 1000)
NOW_ISO = datetime.fromtimestamp(NOW_MS / 1000, UTC).isoformat()
HUGE = int("9" * 400)
REQUESTS, ORDERS, RESOURCES = "sla.requests", "sla.orders", "sla.resources"


def config(**limits: int) -> SlaConfig:
    return SlaConfig.model_validate(
        {
            "slos": [
                {
                    "name": "api-availability",
                    "service": "orders-api",
                    "sli": "availability",
                    "target": 99.9,
                },
                {
                    "name": "api-latency",
                    "service": "orders-api",
                    "sli": "latency",
                    "threshold_ms": 500,
                    "target": 95,
                },
                {"name": "order-fulfillment", "sli": "fulfillment", "within": "24h", "target": 95},
                {"name": "projection-lag", "sli": "lag", "threshold_s": 1, "target": 99},
            ],
            "limits": limits,
        }
    )


def new_pipeline(**limits: int) -> tuple[Pipeline, ResourceState]:
    resources = ResourceState("UTC")
    return Pipeline(SliEngine(config(**limits)), on_resource=resources.observe), resources


def request(**fields: object) -> dict:
    return {
        "ts": NOW_MS - 1000,
        "service": "orders-api",
        "endpoint": "GET /",
        "status": 200,
        "latency_ms": 12.5,
        **fields,
    }


def resource(**fields: object) -> dict:
    return {"ts": NOW_ISO, "resource": "database_size", "value": 50.0, "capacity": 100, **fields}


def encode(obj: object) -> bytes:
    return json.dumps(obj).encode()


# ---- defect 1: poison events never crash; each is dead-lettered with a reason ----


@pytest.mark.parametrize(
    "topic, body, reason",
    [
        (REQUESTS, request(ts=HUGE), "future_timestamp"),
        (REQUESTS, request(latency_ms=HUGE), "out_of_range"),
        (REQUESTS, request(status=HUGE), "out_of_range"),
        (RESOURCES, resource(value=HUGE), "out_of_range"),
        (RESOURCES, resource(capacity=HUGE), "out_of_range"),
        (RESOURCES, resource(ts="0001-01-01T00:00:00+14:00"), "bad_timestamp"),
    ],
)
def test_poison_events_are_dead_lettered_not_raised(topic: str, body: dict, reason: str) -> None:
    pipeline, _ = new_pipeline()
    letters = pipeline.on_message(topic, 0, 7, encode(body), NOW_MS)
    assert [(letter.reason, letter.offset, letter.index) for letter in letters] == [
        (reason, 7, None)
    ]
    assert pipeline.invalid == {(topic, reason): 1}
    # the partition moves on: the next valid message is applied
    assert pipeline.on_message(REQUESTS, 0, 8, encode(request()), NOW_MS) == []
    assert pipeline.valid == {REQUESTS: 1}


def test_resource_state_survives_a_year_zero_timestamp() -> None:
    # the old capacity path raised ValueError (year 0) for this and stopped the agent
    state = ResourceState("UTC")
    year_one = int(datetime(1, 1, 1, tzinfo=UTC).timestamp() * 1000) - 14 * 3600 * 1000
    state.observe(ResourceEvent(year_one, "database_size", 1.0), "resources:0", 1)
    assert state.rejected == 1 and state.take_changes("resources:0") == []


# ---- defect 2: a name that cannot encode is rejected, and /metrics always encodes ----


def test_a_lone_surrogate_name_is_dead_lettered_bad_text() -> None:
    pipeline, resources = new_pipeline()
    letters = pipeline.on_message(
        RESOURCES, 0, 1, encode(resource(resource="bad\ud800name")), NOW_MS
    )
    assert [letter.reason for letter in letters] == ["bad_text"]
    assert resources.offsets == {} and pipeline.limits.held["resource"] == set()
    json.loads(letters[0].to_bytes())  # the letter itself encodes (the surrogate is escaped)


def capacity_registry(registry: CollectorRegistry, name: str) -> CollectorRegistry:
    state = ResourceState("UTC")  # fed directly, as if a bad name had slipped past validation
    state.observe(ResourceEvent(NOW_MS, name, 5.0, "GB", 10.0), "resources:0", 1)
    registry.register(CapacityCollector(CapacityService(state.history, load_capacity_config(None))))
    return registry


def test_plain_registry_fails_to_encode_a_surrogate_label_which_is_the_defect() -> None:
    with pytest.raises(UnicodeEncodeError):
        generate_latest(capacity_registry(CollectorRegistry(), "bad\ud800name"))


async def test_metrics_answers_200_with_a_surrogate_label_escaped(aiohttp_client) -> None:
    registry = capacity_registry(EncodableRegistry(), "bad\ud800name")
    client = await aiohttp_client(create_app(registry))
    for _ in range(2):  # every scrape, not just the first
        response = await client.get("/metrics")
        assert response.status == 200
        text = await response.text()
        assert 'slaengine_capacity_current{resource="bad\\\\ud800name"} 5.0' in text


# ---- defect 3: dead letters are bounded and do not multiply the input ----


def test_five_thousand_bad_elements_do_not_copy_the_batch_into_every_letter() -> None:
    pipeline, _ = new_pipeline()
    batch = encode([{"ts": NOW_MS, "status": i} for i in range(5000)])
    assert 100_000 < len(batch) < 200_000
    letters = pipeline.on_message(REQUESTS, 0, 1, batch, NOW_MS)
    assert len(letters) == 5000 and [letter.index for letter in letters] == list(range(5000))
    sizes = [len(letter.to_bytes()) for letter in letters]
    assert max(sizes) < 1000  # the old letters carried the whole batch: 200 kB each, 1 GB in all
    first = json.loads(letters[0].to_bytes())
    assert first["element"] == {"ts": NOW_MS, "status": 0}
    assert first["original_size"] == len(batch)
    assert first["original_sha256"] == hashlib.sha256(batch).hexdigest()
    assert first["source"] == {"topic": REQUESTS, "partition": 0, "offset": 1, "index": 0}


def test_one_bad_element_in_a_963_kb_batch_gives_a_small_letter() -> None:
    pipeline, _ = new_pipeline()
    good = [request(request_id=f"r{i}", endpoint="GET /" + "x" * 150) for i in range(4000)]
    batch = encode([*good[:2000], request(status=700), *good[2000:]])
    assert len(batch) > 900_000
    [letter] = pipeline.on_message(REQUESTS, 0, 1, batch, NOW_MS)
    assert letter.reason == "out_of_range" and letter.index == 2000
    assert len(letter.to_bytes()) < 2000  # old: 1.28 MB, over the producer's limit
    assert pipeline.valid == {REQUESTS: 4000}


def test_a_huge_message_keeps_a_bounded_prefix_with_size_and_hash() -> None:
    pipeline, _ = new_pipeline()
    raw = b"{" + b"x" * 3_000_000  # not JSON, 3 MB
    [letter] = pipeline.on_message(REQUESTS, 2, 5, raw, NOW_MS)
    body = json.loads(letter.to_bytes())
    assert len(letter.to_bytes()) <= MAX_LETTER_BYTES
    assert base64.b64decode(body["original_base64"]) == raw[:ORIGINAL_CAP]
    assert body["original_truncated"] is True and body["original_size"] == len(raw)
    assert body["original_sha256"] == hashlib.sha256(raw).hexdigest()


def test_a_huge_single_element_is_cut_in_the_letter() -> None:
    pipeline, _ = new_pipeline()
    body = request(status="x", padding="y" * 500_000)
    [letter] = pipeline.on_message(REQUESTS, 0, 1, encode(body), NOW_MS)
    decoded = json.loads(letter.to_bytes())
    assert letter.reason == "wrong_type" and len(letter.to_bytes()) <= MAX_LETTER_BYTES
    assert decoded["element"] is None and decoded["element_truncated"] is True
    assert decoded["element_size"] > ELEMENT_CAP and decoded["element_text"].startswith('{"ts":')


def test_nan_in_an_element_keeps_the_letter_strict_json() -> None:
    pipeline, _ = new_pipeline()
    [letter] = pipeline.on_message(REQUESTS, 0, 1, b'{"ts": NaN, "latency_ms": Infinity}', NOW_MS)
    decoded = json.loads(letter.to_bytes(), parse_constant=lambda c: pytest.fail(f"non-strict {c}"))
    assert decoded["element"] is None and "NaN" in decoded["element_text"]


# ---- agents never die: anything unexpected is an internal_error letter ----


def test_an_unexpected_error_dead_letters_that_element_only_and_logs_once_a_minute(caplog) -> None:
    clock = [1000.0]
    engine = SliEngine(config())

    def broken_capacity(event: ResourceEvent, source: str, offset: int) -> None:
        if event.resource == "breaks":
            raise RuntimeError("disk on fire")

    pipeline = Pipeline(engine, on_resource=broken_capacity, clock=lambda: clock[0])
    batch = encode([resource(), resource(resource="breaks"), resource(resource="other")])
    with caplog.at_level(logging.ERROR, logger="streams.pipeline"):
        [letter] = pipeline.on_message(RESOURCES, 1, 3, batch, NOW_MS)
        pipeline.on_message(RESOURCES, 1, 4, batch, NOW_MS)
        clock[0] += 61
        pipeline.on_message(RESOURCES, 1, 5, batch, NOW_MS)
    assert (letter.reason, letter.index, letter.detail) == (
        "internal_error",
        1,
        "RuntimeError: disk on fire",
    )
    assert json.loads(letter.to_bytes())["element"]["resource"] == "breaks"
    assert pipeline.valid == {RESOURCES: 6} and pipeline.invalid == {
        (RESOURCES, "internal_error"): 3
    }
    assert len([r for r in caplog.records if "internal error" in r.getMessage()]) == 2


# ---- cardinality limits ----


def test_services_beyond_the_limit_are_dead_lettered_too_many_series() -> None:
    pipeline, _ = new_pipeline(services=3, endpoints=5)
    letters = []
    for offset, service in enumerate(["orders-api", "a", "b", "c", "d", "orders-api", "a"]):
        letters += pipeline.on_message(
            REQUESTS, 0, offset, encode(request(service=service)), NOW_MS
        )
    assert [(letter.reason, letter.offset) for letter in letters] == [
        ("too_many_series", 3),
        ("too_many_series", 4),
    ]
    assert (
        "limits.services" in letters[0].detail
        and json.loads(letters[0].to_bytes())["element"]["service"] == "c"
    )
    assert pipeline.valid == {REQUESTS: 5}
    assert pipeline.limits.held["service"] == {"orders-api", "a", "b"}
    # endpoints count per service and only admitted requests take a slot
    for offset, endpoint in enumerate(["GET /1", "GET /2", "GET /3", "GET /4"], start=10):
        letters += pipeline.on_message(
            REQUESTS, 0, offset, encode(request(endpoint=endpoint)), NOW_MS
        )
    assert len(pipeline.limits.held["endpoint"]) == 5 and letters[-1].reason == "too_many_series"
    text = generate_latest(_registry(SeriesLimitsCollector(pipeline.limits))).decode()
    assert 'slaengine_series{kind="service"} 3.0' in text
    assert 'slaengine_series_rejected_total{kind="service"} 2.0' in text
    assert 'slaengine_series_limit{kind="endpoint"} 5.0' in text


def test_a_flood_of_new_services_cannot_lock_out_a_service_an_slo_measures() -> None:
    pipeline, _ = new_pipeline(services=3)
    flood = encode([request(service=f"junk-{i}") for i in range(100)])
    assert (
        len(pipeline.on_message(REQUESTS, 0, 1, flood, NOW_MS)) == 98
    )  # orders-api holds a slot already
    assert pipeline.on_message(REQUESTS, 0, 2, encode(request()), NOW_MS) == []
    assert pipeline.limits.held["service"] == {"orders-api", "junk-0", "junk-1"}


def test_a_flood_of_resource_names_keeps_state_bounded() -> None:
    pipeline, resources = new_pipeline(resources=50)
    batch = encode([resource(resource=f"r{i}") for i in range(2000)])
    letters = pipeline.on_message(RESOURCES, 0, 1, batch, NOW_MS)
    assert len(letters) == 1950 and {letter.reason for letter in letters} == {"too_many_series"}
    assert len(resources.offsets) == 50 and pipeline.valid == {RESOURCES: 50}


def test_limits_are_generic_by_kind_and_name_for_projections() -> None:
    class ProjectionEvent:  # the shape of branch proj's sla.projections events
        def __init__(self, projection: str) -> None:
            self.projection = projection

    limits = SeriesLimits(config(projections=2).limits)
    assert [limits.admit(ProjectionEvent(n)) is None for n in ("p1", "p2", "p1", "p3")] == [
        True,
        True,
        True,
        False,
    ]
    assert limits.rejected["projection"] == 1


def _registry(collector: object) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)  # type: ignore[arg-type]
    return registry


# ---- replays up to the applied high-water mark are skipped whole ----


def test_a_replayed_message_is_neither_counted_nor_dead_lettered_again() -> None:
    pipeline, _ = new_pipeline()
    batch = encode([request(), request(status=700)])
    assert len(pipeline.on_message(REQUESTS, 0, 10, batch, NOW_MS)) == 1
    restarted, _ = new_pipeline()
    restarted.applied.update(pipeline.applied)  # what the changelog restores after a restart
    assert restarted.on_message(REQUESTS, 0, 10, batch, NOW_MS) == []
    assert (
        restarted.on_message(REQUESTS, 1, 10, batch, NOW_MS) != []
    )  # another partition is not a replay
    assert restarted.replayed == 1 and restarted.valid == {REQUESTS: 1}


# ---- fuzzing: arbitrary hostile JSON through on_message ----

FIELDS = [
    "ts",
    "service",
    "endpoint",
    "status",
    "latency_ms",
    "request_id",
    "order_id",
    "event",
    "warehouse",
    "resource",
    "value",
    "unit",
    "capacity",
    "labels",
]
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
hostile_text = st.one_of(
    st.text(max_size=30),
    st.text(st.one_of(surrogates, st.characters()), max_size=30),
    st.text(min_size=190, max_size=260),
    st.sampled_from(["orders-api", "GET /", "created", "shipped", "database_size"]),
)
hostile_number = st.one_of(
    st.integers(),
    st.integers(-(10**400), 10**400),
    st.floats(allow_nan=True),
    st.sampled_from([NOW_MS, NOW_MS - 60_000, 200, 503, 1e308, -0.0, 2**63]),
)
hostile_ts = st.one_of(
    hostile_number,
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from([NOW_ISO, "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]),
)
scalars = st.one_of(st.none(), st.booleans(), hostile_number, hostile_text)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(hostile_text, children, max_size=5)
    ),
    max_leaves=15,
)
event_like = st.fixed_dictionaries(
    {},
    optional={
        name: (hostile_ts if name == "ts" else st.one_of(scalars, json_values)) for name in FIELDS
    },
)
element = st.one_of(event_like, json_values)


def deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


raw_messages = st.one_of(
    element.map(lambda e: json.dumps(e).encode()),
    st.lists(element, min_size=1, max_size=40).map(lambda b: json.dumps(b).encode()),
    st.integers(1, 3000).map(lambda n: json.dumps([request()] * n).encode()),
    st.integers(1, 50_000).map(deep),
    st.binary(max_size=200),
)


def elements_in(raw: bytes) -> int:
    """How many elements the message holds: a non-empty array's length, else one (the message)."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return 1
    return len(document) if isinstance(document, list) and document else 1


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(raw=raw_messages, topic=st.sampled_from([REQUESTS, ORDERS, RESOURCES]))
def test_every_element_of_arbitrary_json_is_applied_or_dead_lettered(
    raw: bytes, topic: str
) -> None:
    pipeline, _ = new_pipeline(services=5, endpoints=10, resources=5)
    letters = pipeline.on_message(topic, 0, 1, raw, NOW_MS)
    applied = sum(pipeline.valid.values())
    assert sum(pipeline.invalid.values()) == len(letters)
    assert applied + len(letters) == elements_in(raw)  # each element exactly once
    assert len({letter.index for letter in letters}) == len(letters)
    assert "internal_error" not in {letter.reason for letter in letters}
    for letter in letters:
        data = letter.to_bytes()
        assert len(data) <= MAX_LETTER_BYTES
        json.loads(data)


def test_a_bad_limits_section_fails_with_file_line_and_field(tmp_path) -> None:
    from slaengine.config import load_sla_config
    from slaengine.errors import ConfigError

    path = tmp_path / "slo.yaml"
    path.write_text(
        "slos:\n  - {name: a, service: s, sli: availability, target: 99}\nlimits:\n  services: 0\n"
    )
    with pytest.raises(
        ConfigError, match=r"slo\.yaml:4: limits\.services: Input should be greater than 0"
    ):
        load_sla_config(path)
