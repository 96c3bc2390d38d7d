"""The local PagerDuty's contract, over HTTP (what real PagerDuty documents)."""

from __future__ import annotations

import pytest

ROUTING_KEY = "0123456789abcdef0123456789abcdef"
REST = {"Authorization": "Token token=test-rest-token"}


def trigger(dedup_key: str | None = "k1", **payload_changes) -> dict:
    payload = {"summary": "disk full", "source": "db-1", "severity": "error", **payload_changes}
    event = {"routing_key": ROUTING_KEY, "event_action": "trigger", "payload": payload}
    if dedup_key is not None:
        event["dedup_key"] = dedup_key
    return event


async def test_accepted_events_answer_202_with_the_dedup_key(dev_call):
    status, body = await dev_call("POST", "/v2/enqueue", trigger())
    assert (status, body) == (
        202,
        {"status": "success", "message": "Event processed", "dedup_key": "k1"},
    )


async def test_a_trigger_without_dedup_key_gets_a_generated_one(dev_call):
    _, first = await dev_call("POST", "/v2/enqueue", trigger(None))
    _, second = await dev_call("POST", "/v2/enqueue", trigger(None))
    assert len(first["dedup_key"]) == 32 and first["dedup_key"] != second["dedup_key"]


@pytest.mark.parametrize(
    "event, error",
    [
        ({**trigger(), "routing_key": ""}, "'routing_key' is missing or blank"),
        ({**trigger(), "event_action": "snooze"}, "'event_action' is invalid"),
        ({k: v for k, v in trigger().items() if k != "payload"}, "'payload' is missing"),
        (trigger(summary=""), "'payload.summary' is missing or blank"),
        (trigger(summary="s" * 1025), "Length of 'payload.summary' is too long"),
        (trigger(source=None), "'payload.source' is missing or blank"),
        (trigger(severity="fatal"), "'payload.severity' is invalid"),
        (trigger(timestamp="last tuesday"), "'payload.timestamp' is not a valid ISO 8601"),
        ({"routing_key": ROUTING_KEY, "event_action": "resolve"}, "'dedup_key' is missing"),
        ({**trigger(), "links": [{"text": "no href"}]}, "'links' must be a list"),
    ],
    ids=[
        "blank routing key",
        "unknown action",
        "trigger without payload",
        "empty summary",
        "summary over 1024 characters",
        "no source",
        "severity outside the four",
        "unparseable timestamp",
        "resolve without dedup key",
        "link without href",
    ],
)
async def test_invalid_events_answer_400_in_pagerdutys_shape(dev_call, event, error):
    status, body = await dev_call("POST", "/v2/enqueue", event)
    assert status == 400
    assert (body["status"], body["message"]) == ("invalid event", "Event object is invalid")
    assert any(e.startswith(error) for e in body["errors"]), body["errors"]


async def test_more_than_120_events_a_minute_per_key_are_throttled(dev_call, clock):
    for n in range(120):
        status, _ = await dev_call("POST", "/v2/enqueue", trigger(f"k{n}"))
        assert status == 202
        clock.advance(seconds=0.25)  # 120 events within 30 seconds
    status, body = await dev_call("POST", "/v2/enqueue", trigger("k120"))
    assert (status, body["status"]) == (429, "throttle event")
    other_key = {**trigger("k120"), "routing_key": "f" * 32}
    assert (await dev_call("POST", "/v2/enqueue", other_key))[0] == 202
    clock.advance(seconds=31)  # the first events leave the 60-second look-back window
    assert (await dev_call("POST", "/v2/enqueue", trigger("k120")))[0] == 202


async def test_acknowledge_and_resolve_follow_the_dedup_key(dev_call, pagerduty_server):
    await dev_call("POST", "/v2/enqueue", trigger("k1"))
    await dev_call(
        "POST",
        "/v2/enqueue",
        {"routing_key": ROUTING_KEY, "dedup_key": "k1", "event_action": "acknowledge"},
    )
    _, body = await dev_call("GET", "/_dev/incidents")
    [incident] = body["incidents"]
    assert incident["status"] == "acknowledged"

    await dev_call("POST", "/v2/enqueue", trigger("k1"))  # re-trigger while acknowledged
    _, body = await dev_call("GET", "/_dev/incidents")
    assert [(i["status"], i["alert"]["count"]) for i in body["incidents"]] == [("acknowledged", 2)]

    await dev_call(
        "POST",
        "/v2/enqueue",
        {"routing_key": ROUTING_KEY, "dedup_key": "k1", "event_action": "resolve"},
    )
    await dev_call(
        "POST",
        "/v2/enqueue",
        {"routing_key": ROUTING_KEY, "dedup_key": "k1", "event_action": "resolve"},
    )  # dropped: nothing open
    await dev_call("POST", "/v2/enqueue", trigger("k1"))
    _, body = await dev_call("GET", "/_dev/incidents")
    assert [i["status"] for i in body["incidents"]] == ["resolved", "triggered"]


async def test_events_from_another_routing_key_do_not_touch_an_alert(dev_call):
    await dev_call("POST", "/v2/enqueue", trigger("k1"))
    await dev_call(
        "POST",
        "/v2/enqueue",
        {"routing_key": "f" * 32, "dedup_key": "k1", "event_action": "resolve"},
    )
    _, body = await dev_call("GET", "/_dev/incidents")
    assert [i["status"] for i in body["incidents"]] == ["triggered"]


async def test_faults_for_a_count_then_recover(dev_call):
    status, _ = await dev_call("POST", "/_dev/faults", {"status": 503, "count": 2})
    assert status == 201
    assert (await dev_call("POST", "/v2/enqueue", trigger()))[0] == 503
    assert (await dev_call("GET", "/users", headers=REST))[0] == 503
    assert (await dev_call("POST", "/v2/enqueue", trigger()))[0] == 202


async def test_faults_for_a_duration_follow_the_clock(dev_call, clock):
    await dev_call("POST", "/_dev/faults", {"status": 502, "seconds": 30, "scope": "events"})
    assert (await dev_call("POST", "/v2/enqueue", trigger()))[0] == 502
    assert (await dev_call("GET", "/users", headers=REST))[0] == 200  # REST is out of scope
    clock.advance(seconds=30)
    assert (await dev_call("POST", "/v2/enqueue", trigger()))[0] == 202


async def test_a_fault_can_be_cleared(dev_call):
    await dev_call("POST", "/_dev/faults", {"status": 500, "count": 5})
    assert (await dev_call("DELETE", "/_dev/faults"))[0] == 204
    assert (await dev_call("POST", "/v2/enqueue", trigger()))[0] == 202


async def test_rest_requires_the_token_header(dev_call):
    status, body = await dev_call("GET", "/services")
    assert (status, body["error"]["code"]) == (401, 2006)
    status, _ = await dev_call(
        "GET", "/services", headers={"Authorization": "Bearer test-rest-token"}
    )
    assert status == 401


async def test_rest_lists_filter_by_query_and_paginate(dev_call):
    for name in ("Ada Lovelace", "Grace Hopper", "Ada Yonath"):
        email = name.split()[1].lower() + "@example.com"
        status, _ = await dev_call(
            "POST", "/users", {"user": {"name": name, "email": email}}, headers=REST
        )
        assert status == 201
    _, page = await dev_call("GET", "/users?query=ada&limit=1&total=true", headers=REST)
    assert ([u["name"] for u in page["users"]], page["more"], page["total"]) == (
        ["Ada Lovelace"],
        True,
        2,
    )
    _, page = await dev_call("GET", "/users?query=ada&limit=1&offset=1", headers=REST)
    assert ([u["name"] for u in page["users"]], page["more"]) == (["Ada Yonath"], False)


async def test_rest_rejects_invalid_input_and_dangling_references(dev_call):
    status, body = await dev_call("POST", "/services", {"service": {"name": "x"}}, headers=REST)
    assert status == 400
    assert body["error"]["message"] == "Invalid Input Provided"
    assert "Escalation policy can't be blank" in body["error"]["errors"]
    status, body = await dev_call(
        "POST",
        "/services",
        {
            "service": {
                "name": "x",
                "escalation_policy": {"id": "PNOPE", "type": "escalation_policy_reference"},
            }
        },
        headers=REST,
    )
    assert status == 400
    assert "escalation_policy_reference 'PNOPE' not found" in body["error"]["errors"]
    assert (await dev_call("GET", "/services/PNOPE", headers=REST))[0] == 404


async def test_rest_update_and_delete(dev_call):
    _, body = await dev_call(
        "POST", "/users", {"user": {"name": "Ada", "email": "a@x.io"}}, headers=REST
    )
    user_id = body["user"]["id"]
    status, body = await dev_call(
        "PUT", f"/users/{user_id}", {"user": {"name": "Ada L."}}, headers=REST
    )
    assert (status, body["user"]["name"], body["user"]["email"]) == (200, "Ada L.", "a@x.io")
    assert (await dev_call("DELETE", f"/users/{user_id}", headers=REST))[0] == 204
    assert (await dev_call("GET", f"/users/{user_id}", headers=REST))[0] == 404


async def test_incident_actions_on_unknown_incidents_are_404(dev_call):
    status, body = await dev_call("POST", "/_dev/incidents/PNOPE/acknowledge")
    assert status == 404 and "PNOPE" in body["error"]
