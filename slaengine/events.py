"""Event contracts (docs/events.md): decode Kafka message bytes into typed events.

A message carries one JSON object or a JSON array of them (a batch). Decoding
never raises for bad input: each invalid element becomes an ``InvalidElement``
with a short ``reason`` (a metric label) and a human-readable ``detail``, and
the valid elements of the same batch are kept.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

REQUESTS_TOPIC = "sla.requests"
ORDERS_TOPIC = "sla.orders"
RESOURCES_TOPIC = "sla.resources"
PROJECTIONS_TOPIC = "sla.projections"
DEADLETTER_TOPIC = "sla.deadletter"
ALERTS_TOPIC = "sla.alerts"

# short names of the input topics, used in partition sources such as "requests:3"
SOURCE_NAMES = {
    REQUESTS_TOPIC: "requests",
    ORDERS_TOPIC: "orders",
    RESOURCES_TOPIC: "resources",
    PROJECTIONS_TOPIC: "projections",
}


def source_id(short_name: str, partition: int) -> str:
    """The id of an input partition in the engine's state and metrics: ``requests:3``."""
    return f"{short_name}:{partition}"


def source_name(source: str) -> str:
    """The topic's short name of a source id: ``requests:3`` -> ``requests``."""
    return source.split(":", 1)[0]


ORDER_EVENT_KINDS = ("created", "allocated", "shipped", "cancelled")
MAX_FUTURE_MS = 5 * 60 * 1000
MIN_TS_MS = (
    946_684_800_000  # 2000-01-01T00:00:00Z: anything older is a broken clock or seconds sent as ms
)
MAX_TEXT = 200  # characters in any name, id or label
MAX_LABELS = 20  # labels per resource measurement
MAX_LATENCY_MS = 1e9  # about 11.6 days
MAX_MAGNITUDE = 1e18  # resource values and capacities (1 EB in bytes)
# control characters (C0, DEL, C1), lone surrogates and the Unicode line/paragraph separators
_BAD_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
MAX_BATCH = 100_000  # elements per message; also the stride of per-element offsets


def element_offset(message_offset: int, index: int) -> int:
    """A unique, ordered offset for each element of a (batch) message, for idempotent replays."""
    return message_offset * MAX_BATCH + index


@dataclass(slots=True)  # not frozen: construction is 3x cheaper on the hot path
class RequestEvent:
    ts_ms: int
    service: str
    endpoint: str
    status: int
    latency_ms: float
    request_id: str | None = None


@dataclass(slots=True)
class OrderEvent:
    ts_ms: int
    order_id: str
    event: str  # one of ORDER_EVENT_KINDS
    warehouse: str | None = None


@dataclass(slots=True)
class ResourceEvent:
    ts_ms: int
    resource: str
    value: float
    unit: str | None = None
    capacity: float | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ProjectionEvent:
    """How far a read-model projection trails its event store, sampled at ``ts_ms``."""

    ts_ms: int
    projection: str
    lag_ms: float  # never negative


Event = RequestEvent | OrderEvent | ResourceEvent | ProjectionEvent


@dataclass(frozen=True, slots=True)
class InvalidElement:
    reason: str  # short label, one of INVALID_REASONS (docs/operations.md says what each means)
    detail: str
    index: int | None = None  # position in a batch; None for a single-object message
    element: Any = None  # the decoded element, when it was JSON


INVALID_REASONS = (
    "not_utf8",
    "not_json",
    "not_object",
    "empty_batch",
    "batch_too_large",
    "missing_field",
    "wrong_type",
    "out_of_range",
    "bad_text",
    "too_long",
    "bad_timestamp",
    "future_timestamp",
    "conflicting_fields",
    "unknown_topic",
)


def _short(value: Any) -> str:
    """A value for an error message, cut so a 4,000-digit number can't blow up a dead letter."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}… ({len(text)} characters)"


class _Invalid(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _iso_ms(text: str) -> int:
    """ISO-8601 text (naive means UTC) → epoch ms; ValueError or OverflowError otherwise."""
    parsed = datetime.fromisoformat(text)  # Python 3.11 reads the "Z" suffix itself
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def parse_timestamp_ms(value: Any) -> int:
    """ISO-8601 string (``Z`` or offset; naive means UTC) or epoch milliseconds → epoch ms.

    Raises _Invalid for anything else, including times before 2000-01-01 (``MIN_TS_MS``).
    """
    if isinstance(value, str):  # the usual form first
        try:
            ts_ms = _iso_ms(value)
        except (ValueError, OverflowError):
            raise _Invalid(
                "bad_timestamp", f"ts {_short(value)} is not an ISO-8601 timestamp"
            ) from None
    elif isinstance(value, bool):
        raise _Invalid(
            "bad_timestamp", "ts must be an ISO-8601 string or epoch milliseconds, not a boolean"
        )
    elif isinstance(value, int):  # compared as an int: a 400-digit integer must not reach float()
        ts_ms = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _Invalid("bad_timestamp", f"ts {value!r} is not a valid epoch-milliseconds value")
        ts_ms = int(value)  # exact for any finite float, however large
    else:
        raise _Invalid(
            "bad_timestamp",
            f"ts must be an ISO-8601 string or epoch milliseconds, got {type(value).__name__}",
        )
    if ts_ms < MIN_TS_MS:
        hint = (
            " (epoch seconds? ts takes milliseconds)"
            if isinstance(value, (int, float)) and ts_ms > 0
            else ""
        )
        raise _Invalid("bad_timestamp", f"ts {_short(value)} is before 2000-01-01{hint}")
    return ts_ms


def check_text(name: str, value: str) -> str:
    """A name, id or label: at most MAX_TEXT characters, no control characters or lone surrogates.

    (Raw bytes were already valid UTF-8; lone surrogates come from JSON escapes like ``\\ud800``
    and would make every later /metrics scrape or e-mail fail to encode.)
    """
    if len(value) <= MAX_TEXT and value.isprintable():  # fast path: plain names
        return value
    if len(value) > MAX_TEXT:
        raise _Invalid(
            "too_long", f"field {name!r} has {len(value)} characters (at most {MAX_TEXT})"
        )
    bad = _BAD_TEXT.search(value)
    if bad is not None:
        raise _Invalid(
            "bad_text",
            f"field {name!r} contains the character U+{ord(bad.group()):04X} at "
            f"position {bad.start()} (control characters and lone surrogates are "
            "not allowed)",
        )
    return value


def _require(obj: dict[str, Any], name: str, kind: type | tuple[type, ...], kind_name: str) -> Any:
    if name not in obj or obj[name] is None:
        raise _Invalid("missing_field", f"required field {name!r} is missing")
    value = obj[name]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise _Invalid("wrong_type", f"field {name!r} must be {kind_name}, got a boolean")
    if not isinstance(value, kind):
        raise _Invalid(
            "wrong_type", f"field {name!r} must be {kind_name}, got {type(value).__name__}"
        )
    if isinstance(value, str):
        if not value:
            raise _Invalid("missing_field", f"field {name!r} must not be empty")
        check_text(name, value)
    return value


def _optional_str(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid("wrong_type", f"field {name!r} must be a string, got {type(value).__name__}")
    return check_text(name, value)


def _finite_number(obj: dict[str, Any], name: str, low: float, high: float) -> float:
    """A number within [low, high]; ints are compared before float() so huge ones can't overflow."""
    value = _require(obj, name, (int, float), "a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Invalid("out_of_range", f"field {name!r} must be finite, got {value!r}")
    if value < 0 <= low:
        raise _Invalid(
            "out_of_range", f"field {name!r} is {_short(value)}: negative (must be 0 or more)"
        )
    if not low <= value <= high:
        raise _Invalid(
            "out_of_range", f"field {name!r} is {_short(value)}, outside {low:g} to {high:g}"
        )
    return float(value)


def _timestamp(obj: dict[str, Any], now_ms: int) -> int:
    if "ts" not in obj or obj["ts"] is None:
        raise _Invalid("missing_field", "required field 'ts' is missing")
    ts_ms = parse_timestamp_ms(obj["ts"])
    if ts_ms > now_ms + MAX_FUTURE_MS:
        if ts_ms > now_ms + 10**12:  # centuries ahead: not worth a count of seconds
            raise _Invalid("future_timestamp", f"ts {_short(obj['ts'])} is far in the future")
        ahead = (ts_ms - now_ms) / 1000
        raise _Invalid(
            "future_timestamp", f"ts is {ahead:.0f} s in the future (at most 300 s allowed)"
        )
    return ts_ms


def _request(obj: dict[str, Any], now_ms: int) -> RequestEvent:
    # Fast path for the common, well-formed event (exact type checks: bool is not an int here);
    # anything unusual goes through the checked path, which explains what is wrong.
    ts, service, endpoint = obj.get("ts"), obj.get("service"), obj.get("endpoint")
    status, latency, request_id = obj.get("status"), obj.get("latency_ms"), obj.get("request_id")
    if (
        type(service) is str
        and 0 < len(service) <= MAX_TEXT
        and service.isprintable()
        and type(endpoint) is str
        and 0 < len(endpoint) <= MAX_TEXT
        and endpoint.isprintable()
        and type(status) is int
        and 100 <= status <= 599
        and (type(latency) is float or type(latency) is int)
        and 0 <= latency <= MAX_LATENCY_MS
        and (
            request_id is None
            or (
                type(request_id) is str and len(request_id) <= MAX_TEXT and request_id.isprintable()
            )
        )
    ):
        # the usual timestamps; for anything else (-1) the checked path says what is wrong
        if type(ts) is str:
            try:
                ts_ms = _iso_ms(ts)
            except (ValueError, OverflowError):
                ts_ms = -1
        else:
            ts_ms = ts if type(ts) is int else -1
        if MIN_TS_MS <= ts_ms <= now_ms + MAX_FUTURE_MS:
            return RequestEvent(ts_ms, service, endpoint, status, float(latency), request_id)
    return _checked_request(obj, now_ms)


def _checked_request(obj: dict[str, Any], now_ms: int) -> RequestEvent:
    ts_ms = _timestamp(obj, now_ms)
    service = _require(obj, "service", str, "a string")
    endpoint = _require(obj, "endpoint", str, "a string")
    status = _require(obj, "status", int, "an integer")
    if not 100 <= status <= 599:
        raise _Invalid("out_of_range", f"status {_short(status)} is outside 100-599")
    latency_ms = _finite_number(obj, "latency_ms", 0, MAX_LATENCY_MS)
    return RequestEvent(
        ts_ms, service, endpoint, status, latency_ms, _optional_str(obj, "request_id")
    )


def _order(obj: dict[str, Any], now_ms: int) -> OrderEvent:
    ts_ms = _timestamp(obj, now_ms)
    order_id = _require(obj, "order_id", str, "a string")
    kind = _require(obj, "event", str, "a string")
    if kind not in ORDER_EVENT_KINDS:
        raise _Invalid(
            "out_of_range", f"event {_short(kind)} is not one of {', '.join(ORDER_EVENT_KINDS)}"
        )
    return OrderEvent(ts_ms, order_id, kind, _optional_str(obj, "warehouse"))


def _resource(obj: dict[str, Any], now_ms: int) -> ResourceEvent:
    ts_ms = _timestamp(obj, now_ms)
    resource = _require(obj, "resource", str, "a string")
    value = _finite_number(obj, "value", -MAX_MAGNITUDE, MAX_MAGNITUDE)
    capacity = None
    if obj.get("capacity") is not None:
        capacity = _finite_number(obj, "capacity", 0, MAX_MAGNITUDE)
        if capacity <= 0:
            raise _Invalid("out_of_range", f"capacity {capacity} must be positive")
    labels = obj.get("labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise _Invalid("wrong_type", "field 'labels' must be an object of string values")
    if len(labels) > MAX_LABELS:
        raise _Invalid(
            "too_long", f"field 'labels' has {len(labels)} entries (at most {MAX_LABELS})"
        )
    for label, label_value in labels.items():
        check_text("labels", label)
        check_text(f"labels.{label}", label_value)
    return ResourceEvent(ts_ms, resource, value, _optional_str(obj, "unit"), capacity, dict(labels))


def _projection(obj: dict[str, Any], now_ms: int) -> ProjectionEvent:
    """``lag_ms`` as measured by the producer, or ``source_ts`` (lag = ts - source_ts)."""
    ts_ms = _timestamp(obj, now_ms)
    projection = _require(obj, "projection", str, "a string")
    has_lag, has_source = obj.get("lag_ms") is not None, obj.get("source_ts") is not None
    if has_lag and has_source:
        raise _Invalid("conflicting_fields", "give either 'lag_ms' or 'source_ts', not both")
    if has_lag:
        return ProjectionEvent(ts_ms, projection, _finite_number(obj, "lag_ms", 0, MAX_LATENCY_MS))
    if not has_source:
        raise _Invalid("missing_field", "required field 'lag_ms' (or 'source_ts') is missing")
    try:
        source_ms = parse_timestamp_ms(obj["source_ts"])
    except _Invalid as bad:
        raise _Invalid(bad.reason, f"source_ts: {bad.detail}") from None
    if source_ms > ts_ms + MAX_FUTURE_MS:
        raise _Invalid(
            "out_of_range",
            f"source_ts is {(source_ms - ts_ms) / 1000:.0f} s after ts "
            "(a projection cannot be ahead of its source)",
        )
    # a source_ts slightly after ts is clock skew between the two writers: the lag is 0
    return ProjectionEvent(ts_ms, projection, float(max(0, ts_ms - source_ms)))


PARSERS: dict[str, Callable[[dict[str, Any], int], Event]] = {
    REQUESTS_TOPIC: _request,
    ORDERS_TOPIC: _order,
    RESOURCES_TOPIC: _resource,
    PROJECTIONS_TOPIC: _projection,
}


def kind_of_topic(topic: str) -> str:
    """Map a (possibly prefixed) topic name to its contract: ``sla.requests`` etc."""
    for name in PARSERS:
        if topic == name or topic.endswith(("." + name, name)):
            return name
    return topic


def decode_element(kind: str, element: Any, now_ms: int) -> Event:
    """Validate one decoded JSON element against the contract of ``kind``; raises _Invalid."""
    parser = PARSERS.get(kind)
    if parser is None:
        raise _Invalid("unknown_topic", f"no event contract for topic {kind!r}")
    if not isinstance(element, dict):
        raise _Invalid(
            "not_object", f"an event must be a JSON object, got {type(element).__name__}"
        )
    return parser(element, now_ms)


Decoded = tuple[list[tuple[int, Event]], list[InvalidElement]]


class ReadMessage(
    NamedTuple
):  # a tuple: built once per message, 3x cheaper than a frozen dataclass
    """A message's JSON document, or the problem that left it without one (``problem``)."""

    raw: bytes | None
    document: Any = None
    by_orjson: bool = False
    problem: InvalidElement | None = None


def read_message(raw: bytes | None) -> ReadMessage:
    """Parse a message's JSON: orjson (fast), else the json module, which then explains why it is
    not JSON or reads what orjson refuses and json accepts (NaN, Infinity, lone surrogates)."""
    if raw is None:
        return ReadMessage(
            raw, problem=InvalidElement("not_json", "the message has no value (tombstone)")
        )
    try:
        return _new_message(ReadMessage, (raw, _loads(raw), True, None))
    except orjson.JSONDecodeError:
        return _read_exactly(raw)


# ReadMessage(...) runs NamedTuple's __new__ in Python: built directly, a fifth of a message's read
_new_message = tuple.__new__
_loads = orjson.loads


def _read_exactly(raw: bytes) -> ReadMessage:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return ReadMessage(
            raw, problem=InvalidElement("not_utf8", f"the message is not UTF-8 (byte {err.start})")
        )
    try:
        return ReadMessage(raw, json.loads(text))
    except (ValueError, RecursionError) as err:
        return ReadMessage(
            raw, problem=InvalidElement("not_json", f"the message is not JSON: {err}"[:300])
        )


def decode_message(kind: str, raw: bytes | None, now_ms: int) -> Decoded:
    """Decode a message (one object or a batch array) into (index, event) pairs and invalid
    elements."""
    return decode_read(kind, read_message(raw), now_ms)


def decode_read(kind: str, message: ReadMessage, now_ms: int) -> Decoded:
    """``decode_message`` of a message already read (batch mode tells the kind from the
    document)."""
    if message.problem is not None:
        return [], [message.problem]
    events, invalid = _decode_document(kind, message.document, now_ms)
    if invalid and message.by_orjson and message.raw is not None:
        # orjson reads integers beyond 64 bits as floats: no such number is a valid value, but
        # it changes what an invalid event is told (reason, detail, the dead-lettered element).
        # The json module's reading keeps that exactly as it always was.
        return decode_read(kind, _read_exactly(message.raw), now_ms)
    return events, invalid


def _decode_document(kind: str, document: Any, now_ms: int) -> Decoded:
    if isinstance(document, list):
        if not document:
            return [], [InvalidElement("empty_batch", "the batch array is empty")]
        if len(document) > MAX_BATCH:
            return [], [
                InvalidElement("batch_too_large", f"a batch holds at most {MAX_BATCH} events")
            ]
        events: list[tuple[int, Event]] = []
        invalid: list[InvalidElement] = []
        for index, element in enumerate(document):
            try:
                events.append((index, decode_element(kind, element, now_ms)))
            except _Invalid as bad:
                invalid.append(InvalidElement(bad.reason, bad.detail, index, element))
        return events, invalid
    parser = PARSERS.get(kind)
    try:
        if parser is not None and type(document) is dict:  # the usual message: straight on
            return [(0, parser(document, now_ms))], []
        return [(0, decode_element(kind, document, now_ms))], []
    except _Invalid as bad:
        return [], [InvalidElement(bad.reason, bad.detail, None, document)]


def event_to_json(event: Event) -> dict[str, Any]:
    """The contract's JSON form of an event (ts as ISO-8601 UTC with milliseconds)."""
    ts = datetime.fromtimestamp(event.ts_ms / 1000, tz=UTC)
    body: dict[str, Any] = {"ts": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{event.ts_ms % 1000:03d}Z"}
    if isinstance(event, RequestEvent):
        body.update(
            service=event.service,
            endpoint=event.endpoint,
            status=event.status,
            latency_ms=event.latency_ms,
        )
        if event.request_id:
            body["request_id"] = event.request_id
    elif isinstance(event, OrderEvent):
        body.update(order_id=event.order_id, event=event.event)
        if event.warehouse:
            body["warehouse"] = event.warehouse
    elif isinstance(event, ProjectionEvent):
        body.update(projection=event.projection, lag_ms=event.lag_ms)
    else:
        body.update(resource=event.resource, value=event.value)
        if event.unit:
            body["unit"] = event.unit
        if event.capacity is not None:
            body["capacity"] = event.capacity
        if event.labels:
            body["labels"] = event.labels
    return body
