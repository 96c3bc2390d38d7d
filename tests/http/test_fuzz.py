"""Property-based fuzzing of every operation in /api/openapi.json against the running API.

Requests are drawn from the served OpenAPI document: parameters and bodies follow its schemas
half of the time and are hostile the other half (5,000-digit integers, NaN/Infinity, lone
surrogates, deep nesting, years 1 and 9999, huge durations, malformed JSON). Whatever arrives,
no answer may be a 5xx other than the documented 503 of heavy work that outlasted its time
limit, every error must be ``{"error": message}``, and the server log must
show no handler failure (checked when the server stops). Bounded: a few hundred requests in all.
"""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slaengine.http.openapi import openapi_document
from slaengine.pagerduty.webhook import sign_body

from .conftest import TOKEN, WEBHOOK_SECRET, ApiServer

HOSTILE_TEXT = [
    "",
    " ",
    "9" * 5000,
    "-" + "9" * 400,
    "NaN",
    "Infinity",
    "-1",
    "0",
    "1e309",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0000-00-00",
    "2026-13",
    "2026-00",
    "10000-01",
    "30s",
    "0s",
    "1ms",
    "99999999999999999999y",
    "9" * 30 + "d",
    "x" * 3000,
    "%",
    "../../etc/passwd",
    "\x00",
    "é",
    "<!channel>",
    "a\r\nb",
    "(a+)+$",
    'alertname=~"(a+)+$"',
]
ONE_ALERT = (
    b'{"status": "firing", "labels": {"alertname": "x"}, "startsAt": "2026-11-01T00:00:00Z"}'
)
AIOHTTP_MAX_LINE = 8190  # a longer request line gets aiohttp's own 400 before any handler
OPERATIONS = [
    (path, method, operation)
    for path, item in openapi_document()["paths"].items()
    for method, operation in item.items()
]

text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
hostile_text = st.one_of(st.sampled_from(HOSTILE_TEXT), text)
times = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-14))]),
)
recent_times = st.datetimes(
    min_value=datetime(2026, 11, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([10**400, -(10**4000), 2**63, -1]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=30),  # surrogates included: sent as \\ud800 escapes
        st.sampled_from(HOSTILE_TEXT),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)
        ),
        max_leaves=max_leaves,
    )


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that follow ``schema`` (a small subset of JSON Schema, as the document uses)."""
    if "$ref" in schema:
        return st.fixed_dictionaries({"error": text})
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of(*(from_schema({**schema, "type": k}) for k in kind))
    if kind == "string":
        if schema.get("format") == "date-time":
            return st.one_of(times, recent_times).map(lambda t: t.isoformat())
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        if "example" in schema:
            return st.one_of(st.just(schema["example"]), text)
        return text
    if kind == "integer":
        return st.integers()
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=4)
    if kind == "object":
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        if not properties:
            extra = schema.get("additionalProperties")
            values = from_schema(extra) if isinstance(extra, dict) else json_values(4)
            return st.tuples(
                st.fixed_dictionaries({name: values for name in required}),
                st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), values, max_size=4),
            ).map(lambda pair: {**pair[1], **pair[0]})
        return st.fixed_dictionaries(
            {name: from_schema(sub) for name, sub in properties.items() if name in required},
            optional={
                name: from_schema(sub) for name, sub in properties.items() if name not in required
            },
        )
    return json_values(4)


def parameter_value(parameter: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.one_of(from_schema(parameter["schema"]), hostile_text)


def body_bytes(operation: dict[str, Any]) -> st.SearchStrategy[bytes]:
    body = operation.get("requestBody")
    if body is None:
        return st.just(b"")
    schema = body["content"]["application/json"]["schema"]
    as_json = st.one_of(from_schema(schema), json_values()).map(
        lambda value: json.dumps(value, allow_nan=True).encode()
    )
    raw = st.one_of(
        st.binary(max_size=200),
        st.integers(1, 20_000).map(lambda depth: b"[" * depth + b"]" * depth),
        st.integers(1, 20_000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
        st.just(
            b'{"version": "4", "status": "firing", "alerts": ['
            + b",".join([ONE_ALERT] * 1001)
            + b"]}"
        ),
    )
    return st.one_of(as_json, as_json, raw)


@st.composite
def requests(
    draw: st.DrawFn, path: str, method: str, operation: dict[str, Any]
) -> tuple[str, bytes, dict[str, str]]:
    concrete = path
    query: list[tuple[str, str]] = []
    for parameter in operation.get("parameters", []):
        if not parameter["required"] and draw(st.booleans()):
            continue
        value = draw(parameter_value(parameter))
        values = value if isinstance(value, list) else [value]
        if parameter["in"] == "path":
            concrete = concrete.replace(
                "{" + parameter["name"] + "}", urllib.parse.quote(str(values[0]) or "x", safe="")
            )
        else:
            query += [(parameter["name"], str(v)) for v in values]
    body = draw(body_bytes(operation))
    headers = {"Content-Type": "application/json"}
    credentials = draw(st.sampled_from(["token", "token", "token", "none", "garbage"]))
    if credentials == "token":
        headers["Authorization"] = f"Bearer {TOKEN}"
        headers["X-PagerDuty-Signature"] = sign_body(body, WEBHOOK_SECRET)
    elif credentials == "garbage":
        headers["Authorization"] = draw(st.sampled_from(["Bearer", "Basic x", "Bearer " + "é"]))
        headers["X-PagerDuty-Signature"] = draw(st.sampled_from(["v1=é", "v1=", "v1=zz,v0="]))
    url = concrete + ("?" + urllib.parse.urlencode(query) if query else "")
    return url, body, {k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()}


@pytest.mark.parametrize(
    ("path", "method", "operation"),
    OPERATIONS,
    ids=[f"{method.upper()} {path}" for path, method, _ in OPERATIONS],
)
def test_no_input_gets_a_server_error(
    api_server: ApiServer, path: str, method: str, operation: dict[str, Any]
) -> None:
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )
    @given(request=requests(path, method, operation))
    def check(request: tuple[str, bytes, dict[str, str]]) -> None:
        url, body, headers = request
        answer = api_server.request(
            method.upper(), url, body=body or None, headers=headers, timeout=120
        )
        # a 5xx only as documented: 503 when heavy work outlasts its time limit
        documented = str(answer.status) in operation["responses"]
        assert answer.status < 500 or documented, (
            method,
            url,
            body[:300],
            answer.status,
            answer.body[:300],
        )
        if answer.status >= 400 and len(url) < AIOHTTP_MAX_LINE:
            error = answer.json()["error"]
            assert isinstance(error, str) and error and "Traceback" not in error

    check()
