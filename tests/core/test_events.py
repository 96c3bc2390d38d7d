"""Event contracts: every malformed input gets a reason; valid batch elements survive."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slaengine.events import (
    MIN_TS_MS,
    ORDERS_TOPIC,
    REQUESTS_TOPIC,
    RESOURCES_TOPIC,
    Decoded,
    OrderEvent,
    RequestEvent,
    ResourceEvent,
    _checked_request,
    _Invalid,
    _read_exactly,
    _request,
    decode_message,
    decode_read,
    event_to_json,
)

NOW_MS = 1_793_000_000_000  # 2026-10-26
GOOD_REQUEST = {
    "ts": "2026-10-01T12:00:00.123Z",
    "service": "orders-api",
    "endpoint": "GET /orders/{id}",
    "status": 200,
    "latency_ms": 42.5,
    "request_id": "r1",
}


def encode(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_a_valid_request_decodes_with_millisecond_timestamp() -> None:
    events, invalid = decode_message(REQUESTS_TOPIC, encode(GOOD_REQUEST), NOW_MS)
    assert invalid == []
    [(index, event)] = events
    assert index == 0
    assert event == RequestEvent(1790856000123, "orders-api", "GET /orders/{id}", 200, 42.5, "r1")


def test_epoch_millisecond_timestamps_and_unknown_fields_are_accepted() -> None:
    body = dict(GOOD_REQUEST, ts=1790856000123, extra={"ignored": True})
    [(_, event)], invalid = decode_message(REQUESTS_TOPIC, encode(body), NOW_MS)
    assert invalid == [] and event.ts_ms == 1790856000123


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"\xff\xfe not utf-8", "not_utf8"),
        (b"{not json", "not_json"),
        (b'"a string"', "not_object"),
        (b"[]", "empty_batch"),
        (encode({k: v for k, v in GOOD_REQUEST.items() if k != "service"}), "missing_field"),
        (encode(dict(GOOD_REQUEST, status="200")), "wrong_type"),
        (encode(dict(GOOD_REQUEST, status=True)), "wrong_type"),
        (encode(dict(GOOD_REQUEST, status=600)), "out_of_range"),
        (encode(dict(GOOD_REQUEST, status=99)), "out_of_range"),
        (encode(dict(GOOD_REQUEST, latency_ms=-1)), "out_of_range"),
        (encode(dict(GOOD_REQUEST, ts="yesterday")), "bad_timestamp"),
        (encode(dict(GOOD_REQUEST, ts=NOW_MS + 6 * 60_000)), "future_timestamp"),
    ],
    ids=[
        "bytes that are not UTF-8",
        "text that is not JSON",
        "JSON that is not an object",
        "an empty batch",
        "a missing service",
        "a status given as a string",
        "a boolean status",
        "status above 599",
        "status below 100",
        "a negative latency",
        "an unparseable ts",
        "a ts six minutes in the future",
    ],
)
def test_invalid_requests_are_rejected_with_a_reason(raw: bytes, reason: str) -> None:
    events, invalid = decode_message(REQUESTS_TOPIC, raw, NOW_MS)
    assert events == []
    assert [bad.reason for bad in invalid] == [reason]
    assert invalid[0].detail  # a human-readable explanation


def test_a_timestamp_up_to_five_minutes_ahead_is_still_valid() -> None:
    events, invalid = decode_message(
        REQUESTS_TOPIC, encode(dict(GOOD_REQUEST, ts=NOW_MS + 299_000)), NOW_MS
    )
    assert len(events) == 1 and invalid == []


def test_one_bad_element_of_a_batch_rejects_only_that_element() -> None:
    batch = [GOOD_REQUEST, dict(GOOD_REQUEST, status=700), dict(GOOD_REQUEST, request_id="r3")]
    events, invalid = decode_message(REQUESTS_TOPIC, encode(batch), NOW_MS)
    assert [index for index, _ in events] == [0, 2]
    assert [(bad.index, bad.reason) for bad in invalid] == [(1, "out_of_range")]
    assert invalid[0].element == batch[1]


def test_orders_and_resources_follow_their_contracts() -> None:
    [(_, order)], _ = decode_message(
        ORDERS_TOPIC,
        encode(
            {"ts": "2026-10-01T00:00:00Z", "order_id": "o1", "event": "shipped", "warehouse": "ams"}
        ),
        NOW_MS,
    )
    assert order == OrderEvent(1790812800000, "o1", "shipped", "ams")
    _, invalid = decode_message(
        ORDERS_TOPIC, encode({"ts": NOW_MS, "order_id": "o1", "event": "lost"}), NOW_MS
    )
    assert invalid[0].reason == "out_of_range"
    [(_, resource)], _ = decode_message(
        RESOURCES_TOPIC,
        encode(
            {
                "ts": NOW_MS,
                "resource": "database_size",
                "value": 50.2,
                "unit": "GB",
                "capacity": 150,
                "labels": {"tier": "db"},
            }
        ),
        NOW_MS,
    )
    assert resource == ResourceEvent(NOW_MS, "database_size", 50.2, "GB", 150.0, {"tier": "db"})


def test_event_json_round_trips_through_the_decoder() -> None:
    [(_, event)], _ = decode_message(REQUESTS_TOPIC, encode(GOOD_REQUEST), NOW_MS)
    [(_, again)], _ = decode_message(REQUESTS_TOPIC, encode(event_to_json(event)), NOW_MS)
    assert again == event


@settings(max_examples=400, deadline=None)
@given(
    raw=st.binary(max_size=300),
    topic=st.sampled_from([REQUESTS_TOPIC, ORDERS_TOPIC, RESOURCES_TOPIC]),
)
def test_arbitrary_bytes_never_raise(raw: bytes, topic: str) -> None:
    events, invalid = decode_message(topic, raw, NOW_MS)
    assert len(events) + len(invalid) >= 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(document=json_values, topic=st.sampled_from([REQUESTS_TOPIC, ORDERS_TOPIC, RESOURCES_TOPIC]))
def test_arbitrary_json_documents_never_raise(document: object, topic: str) -> None:
    raw = json.dumps(document).encode()
    events, invalid = decode_message(topic, raw, NOW_MS)
    assert len(events) + len(invalid) >= 1


# ---- hostile input (issue 12): one validation of names, numbers and timestamps ----

HUGE = int("9" * 400)
GOOD_ORDER = {
    "ts": "2026-10-01T00:00:00Z",
    "order_id": "o1",
    "event": "created",
    "warehouse": "ams",
}
GOOD_RESOURCE = {
    "ts": "2026-10-01T00:00:00Z",
    "resource": "database_size",
    "value": 50.2,
    "unit": "GB",
    "capacity": 150,
    "labels": {"tier": "db"},
}
HOSTILE = [
    (REQUESTS_TOPIC, dict(GOOD_REQUEST, ts=HUGE), "future_timestamp"),
    (REQUESTS_TOPIC, dict(GOOD_REQUEST, ts=-HUGE), "bad_timestamp"),
    (REQUESTS_TOPIC, dict(GOOD_REQUEST, ts=1e308), "future_timestamp"),
    (REQUESTS_TOPIC, dict(GOOD_REQUEST, latency_ms=HUGE), "out_of_range"),
    (REQUESTS_TOPIC, dict(GOOD_REQUEST, latency_ms=1e300), "out_of_range"),
    (REQUESTS_TOPIC, dict(GOOD_REQUEST, status=HUGE), "out_of_range"),
    (REQUESTS_TOPIC, dict(GOOD_REQUEST, ts="0001-01-01T00:00:00+14:00"), "bad_timestamp"),
    (REQUESTS_TOPIC, dict(GOOD_REQUEST, ts="9999-12-31T23:59:59-14:00"), "future_timestamp"),
    (REQUESTS_TOPIC, dict(GOOD_REQUEST, ts="1999-12-31T23:59:59Z"), "bad_timestamp"),
    (REQUESTS_TOPIC, dict(GOOD_REQUEST, ts=1790856000), "bad_timestamp"),  # seconds, not ms
    (REQUESTS_TOPIC, dict(GOOD_REQUEST, service="bad\ud800name"), "bad_text"),
    (REQUESTS_TOPIC, dict(GOOD_REQUEST, endpoint="GET /\r\nBcc: x"), "bad_text"),
    (REQUESTS_TOPIC, dict(GOOD_REQUEST, request_id="\udfff"), "bad_text"),
    (REQUESTS_TOPIC, dict(GOOD_REQUEST, service="s" * 201), "too_long"),
    (ORDERS_TOPIC, dict(GOOD_ORDER, ts=HUGE), "future_timestamp"),
    (ORDERS_TOPIC, dict(GOOD_ORDER, order_id="o\u0000"), "bad_text"),
    (ORDERS_TOPIC, dict(GOOD_ORDER, warehouse="w\u2028"), "bad_text"),
    (ORDERS_TOPIC, dict(GOOD_ORDER, event="created\ud800"), "bad_text"),
    (RESOURCES_TOPIC, dict(GOOD_RESOURCE, value=HUGE), "out_of_range"),
    (RESOURCES_TOPIC, dict(GOOD_RESOURCE, value=-HUGE), "out_of_range"),
    (RESOURCES_TOPIC, dict(GOOD_RESOURCE, capacity=HUGE), "out_of_range"),
    (RESOURCES_TOPIC, dict(GOOD_RESOURCE, ts="0001-01-01T00:00:00+14:00"), "bad_timestamp"),
    (RESOURCES_TOPIC, dict(GOOD_RESOURCE, resource="bad\ud800name"), "bad_text"),
    (RESOURCES_TOPIC, dict(GOOD_RESOURCE, unit="\x1b[31m"), "bad_text"),
    (RESOURCES_TOPIC, dict(GOOD_RESOURCE, labels={"tier\ud800": "db"}), "bad_text"),
    (RESOURCES_TOPIC, dict(GOOD_RESOURCE, labels={"tier": "x" * 300}), "too_long"),
    (RESOURCES_TOPIC, dict(GOOD_RESOURCE, labels={f"k{i}": "v" for i in range(21)}), "too_long"),
]


@pytest.mark.parametrize(
    "topic, body, reason", HOSTILE, ids=[f"{t}-{r}-{i}" for i, (t, _, r) in enumerate(HOSTILE)]
)
def test_hostile_values_are_invalid_with_a_reason_and_never_raise(
    topic: str, body: dict, reason: str
) -> None:
    # on the old code: OverflowError for 400-digit numbers, surrogate names and year 0 accepted
    events, invalid = decode_message(topic, encode(body), NOW_MS)
    assert events == []
    assert [bad.reason for bad in invalid] == [reason]
    assert len(invalid[0].detail) < 300  # a 400-digit number is cut in the explanation


def test_names_with_non_ascii_letters_and_up_to_200_characters_are_valid() -> None:
    body = dict(GOOD_REQUEST, service="zahlungs-dienst-ü-日本" + "x" * 180, endpoint="GET /straße")
    [(_, event)], invalid = decode_message(REQUESTS_TOPIC, encode(body), NOW_MS)
    assert invalid == [] and event.service == body["service"] and len(event.service) == 200


def test_timestamps_from_2000_on_are_valid() -> None:
    [(_, event)], invalid = decode_message(
        REQUESTS_TOPIC, encode(dict(GOOD_REQUEST, ts="2000-01-01T00:00:00Z")), NOW_MS
    )
    assert invalid == [] and event.ts_ms == 946_684_800_000


# ---- one decoder, two JSON parsers (issue 14) ----
# Messages are read with orjson; the json module reads what orjson refuses or reads differently,
# so every reason, detail and dead-lettered element stays exactly what the json module gave.


def _by_json_module(topic: str, raw: bytes) -> Decoded:
    """The reference: the message read by the json module only (the decoder before orjson)."""
    return decode_read(topic, _read_exactly(raw), NOW_MS)


def _same(decoded: Decoded, reference: Decoded) -> bool:
    return repr(decoded) == repr(reference)  # repr: NaN != NaN, but its repr is the same


@pytest.mark.parametrize(
    "field, value, reason",
    [
        (
            "status",
            2**64,
            "out_of_range",
        ),  # orjson: 1.8446744073709552e+19, a float -> "wrong_type"
        ("status", -(2**63) - 1, "out_of_range"),
        ("ts", 2**64, "future_timestamp"),
        ("latency_ms", 10**30, "out_of_range"),
        ("request_id", 2**70, "wrong_type"),
    ],
)
def test_integers_beyond_64_bits_are_told_as_the_integers_they_are(
    field: str, value: int, reason: str
) -> None:
    raw = encode(dict(GOOD_REQUEST, **{field: value}))
    events, [bad] = decode_message(REQUESTS_TOPIC, raw, NOW_MS)
    assert events == [] and bad.reason == reason
    assert bad.element[field] == value and type(bad.element[field]) is int  # dead-lettered as sent
    assert "got float" not in bad.detail and (field == "request_id" or str(value) in bad.detail)
    assert _same(([], [bad]), _by_json_module(REQUESTS_TOPIC, raw))


def test_a_huge_integer_in_one_element_of_a_batch_keeps_the_valid_elements() -> None:
    raw = encode(
        [GOOD_REQUEST, dict(GOOD_REQUEST, status=2**64), dict(GOOD_REQUEST, request_id="r3")]
    )
    events, invalid = decode_message(REQUESTS_TOPIC, raw, NOW_MS)
    assert [index for index, _ in events] == [0, 2]
    assert [(bad.index, bad.reason) for bad in invalid] == [(1, "out_of_range")]


@pytest.mark.parametrize(
    "raw, reason, detail",
    [
        (
            (
                b'{"ts": "2026-10-01T12:00:00Z", "service": "s", "endpoint": "e", "status": 200, '
                b'"latency_ms": NaN}'
            ),
            "out_of_range",
            "field 'latency_ms' must be finite, got nan",
        ),
        (
            b'{"ts": NaN, "service": "s", "endpoint": "e", "status": 200, "latency_ms": 1}',
            "bad_timestamp",
            "ts nan is not a valid epoch-milliseconds value",
        ),
        (
            (
                b'{"ts": "2026-10-01T12:00:00Z", "service": "s", "endpoint": "e", "status": 200, '
                b'"latency_ms": -Infinity}'
            ),
            "out_of_range",
            "field 'latency_ms' must be finite, got -inf",
        ),
        (
            (
                b'{"ts": "2026-10-01T12:00:00Z", "service": "s", "endpoint": "e", "status": 200, '
                b'"latency_ms": 1e400}'
            ),
            "out_of_range",
            "field 'latency_ms' must be finite, got inf",
        ),
        (
            (
                b'{"ts": "2026-10-01T12:00:00Z", "service": "a\\ud800", "endpoint": "e", "status": '
                b'200, "latency_ms": 1}'
            ),
            "bad_text",
            "field 'service' contains the character U+D800 at position 1",
        ),
        (
            b"{not json",
            "not_json",
            (
                "the message is not JSON: Expecting property name enclosed in double quotes: "
                "line 1 column 2 (char 1)"
            ),
        ),
        (
            b"\xef\xbb\xbf{}",
            "not_json",
            (
                "the message is not JSON: Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 "
                "column 1 (char 0)"
            ),
        ),
        (
            b'{"a": 1} x',
            "not_json",
            "the message is not JSON: Extra data: line 1 column 10 (char 9)",
        ),
        (b"[1,]", "not_json", "the message is not JSON: Expecting value: line 1 column 4 (char 3)"),
        (b"", "not_json", "the message is not JSON: Expecting value: line 1 column 1 (char 0)"),
        (
            b'"a\x01b"',
            "not_json",
            "the message is not JSON: Invalid control character at: line 1 column 3 (char 2)",
        ),
        (b'{"service": "\xed\xa0\x80"}', "not_utf8", "the message is not UTF-8 (byte 13)"),
        (
            b"[" * 5000 + b"]" * 5000,
            "not_json",
            "the message is not JSON: maximum recursion depth exceeded",
        ),
    ],
    ids=[
        "NaN latency",
        "NaN ts",
        "-Infinity",
        "1e400",
        "an escaped lone surrogate",
        "not JSON",
        "a BOM",
        "extra data",
        "a trailing comma",
        "empty",
        "a raw control character",
        "an encoded surrogate",
        "nested 5,000 deep",
    ],
)
def test_what_orjson_refuses_is_read_and_explained_as_the_json_module_does(
    raw: bytes, reason: str, detail: str
) -> None:
    events, [bad] = decode_message(REQUESTS_TOPIC, raw, NOW_MS)
    assert events == [] and bad.reason == reason
    assert bad.detail.startswith(detail)
    assert _same(([], [bad]), _by_json_module(REQUESTS_TOPIC, raw))


def test_a_duplicate_key_counts_its_last_value_as_before() -> None:
    raw = (
        b'{"ts": "2026-10-01T12:00:00Z", "service": "s", "endpoint": "e", "status": 700, '
        b'"status": 200, '
        b'"latency_ms": 1.5}'
    )
    [(_, event)], invalid = decode_message(REQUESTS_TOPIC, raw, NOW_MS)
    assert invalid == [] and event.status == 200


big_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**62, max_value=2**200)
    | st.integers(max_value=-(2**62), min_value=-(2**200))
    | st.floats()
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
request_fields = st.fixed_dictionaries(
    {},
    optional={
        "ts": big_json_values
        | st.sampled_from(["2026-10-01T12:00:00.123Z", "2026-10-01T12:00:00+02:00"])
        | st.integers(min_value=MIN_TS_MS, max_value=NOW_MS),
        "service": big_json_values | st.just("orders-api"),
        "endpoint": big_json_values | st.just("GET /"),
        "status": big_json_values | st.integers(min_value=100, max_value=599),
        "latency_ms": big_json_values | st.floats(min_value=0, max_value=1e9),
        "request_id": big_json_values,
        "extra": big_json_values,
    },
)


@settings(max_examples=500, deadline=None)
@given(document=request_fields | st.lists(request_fields, max_size=3) | big_json_values)
def test_any_document_decodes_exactly_as_the_json_module_reads_it(document: object) -> None:
    raw = json.dumps(document).encode()
    assert _same(decode_message(REQUESTS_TOPIC, raw, NOW_MS), _by_json_module(REQUESTS_TOPIC, raw))


@settings(max_examples=500, deadline=None)
@given(
    digits=st.from_regex(
        r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][-+]?[0-9]{1,3})?", fullmatch=True
    )
)
def test_numbers_written_with_many_digits_read_as_the_json_module_reads_them(digits: str) -> None:
    raw = b'{"ts": "2026-10-01T12:00:00Z", "resource": "r", "value": %s, "capacity": %s}' % (
        digits.encode(),
        digits.lstrip("-").encode(),
    )
    assert _same(
        decode_message(RESOURCES_TOPIC, raw, NOW_MS), _by_json_module(RESOURCES_TOPIC, raw)
    )


timestamps = (
    big_json_values
    | st.integers(min_value=MIN_TS_MS - 2, max_value=NOW_MS + 10 * 60_000)
    | st.floats(min_value=MIN_TS_MS - 2, max_value=NOW_MS + 10 * 60_000)
    | st.datetimes(min_value=datetime(1999, 12, 31), max_value=datetime(2026, 10, 26, 0, 5, 1)).map(
        lambda moment: moment.isoformat()
    )
    | st.sampled_from(["2026-10-01T12:00:00.123Z", "2026-10-01T12:00:00+02:00", "2026-13-01", ""])
)


@settings(max_examples=1000, deadline=None)
@given(
    ts=timestamps,
    change=st.dictionaries(st.sampled_from(sorted(GOOD_REQUEST)), big_json_values, max_size=1),
)
def test_the_fast_way_through_a_request_decides_as_the_checked_way(
    ts: object, change: dict[str, object]
) -> None:
    # _request reads the usual request (timestamps included) without the checks that explain
    # what is wrong; whatever it accepts or refuses, the checked way must decide the same
    document = {**GOOD_REQUEST, "ts": ts, **change}
    try:
        expected: object = _checked_request(document, NOW_MS)
    except _Invalid as bad:
        expected = bad.reason
    try:
        got: object = _request(document, NOW_MS)
    except _Invalid as bad:
        got = bad.reason
    assert got == expected
