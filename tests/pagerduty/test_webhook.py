"""v3 webhooks: signature checks, the receiving route, and the full incident loop."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from aiohttp import web

from slaengine.errors import InvalidEventError
from slaengine.pagerduty.http import WEBHOOK_PATH, add_routes
from slaengine.pagerduty.incidents import IncidentLog
from slaengine.pagerduty.sender import PagerDutySender
from slaengine.pagerduty.webhook import parse_webhook, sign_body, verify_signature

SECRET = "whsec-test-0123456789"
ROUTING_KEY = "0123456789abcdef0123456789abcdef"


def delivery(
    event_type: str = "incident.acknowledged",
    event_id: str = "01EVT",
    occurred_at: str = "2025-03-03T09:04:00Z",
) -> bytes:
    return json.dumps(
        {
            "event": {
                "id": event_id,
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": occurred_at,
                "agent": None,
                "client": None,
                "data": {
                    "id": "PI00001",
                    "type": "incident",
                    "number": 1,
                    "status": "acknowledged",
                    "incident_key": "route/checkout",
                    "title": "[HighErrorRate] checkout",
                    "urgency": "high",
                    "service": {"id": "PSVC", "type": "service_reference", "summary": "checkout"},
                },
            }
        }
    ).encode()


BODY = delivery()


@pytest.mark.parametrize(
    "header, secrets, accepted",
    [
        (sign_body(BODY, SECRET), [SECRET], True),
        (f"v1=deadbeef,{sign_body(BODY, SECRET)}", [SECRET], True),
        (sign_body(BODY, SECRET), ["old-secret", SECRET], True),
        (sign_body(BODY, "other-secret"), [SECRET], False),
        (sign_body(BODY + b" ", SECRET), [SECRET], False),
        (sign_body(BODY, SECRET).replace("v1=", "v0="), [SECRET], False),
        (None, [SECRET], False),
        ("garbage", [SECRET], False),
        (sign_body(BODY, SECRET), [], False),
    ],
    ids=[
        "the right signature is accepted",
        "one matching signature among several is enough",
        "a rotated secret still verifies",
        "a signature made with another secret is refused",
        "a signature of another body is refused",
        "an unknown signature version is refused",
        "a missing header is refused",
        "a malformed header is refused",
        "no configured secret accepts nothing",
    ],
)
def test_signature_verification(header, secrets, accepted):
    assert verify_signature(BODY, header, secrets) is accepted


def test_parse_reads_the_incident_and_its_dedup_key():
    event = parse_webhook(BODY)
    assert event is not None
    assert (event.event_type, event.incident_id, event.incident_key) == (
        "incident.acknowledged",
        "PI00001",
        "route/checkout",
    )
    assert event.occurred_at.utcoffset() == timedelta(0)
    assert event.service_name == "checkout"


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"not json", "bad_json"),
        (b"[]", "no_event"),
        (
            json.dumps({"event": {"id": "x", "event_type": "incident.resolved"}}).encode(),
            "missing_field",
        ),
        (delivery(occurred_at="yesterday"), "bad_timestamp"),
    ],
    ids=["not JSON", "no event object", "no occurred_at", "a timestamp that is not ISO 8601"],
)
def test_parse_rejects_bodies_that_are_not_v3_events(body, reason):
    with pytest.raises(InvalidEventError) as caught:
        parse_webhook(body)
    assert caught.value.reason == reason


@pytest.fixture
def incident_log(tmp_path):
    log = IncidentLog.in_data_dir(tmp_path / "data")
    yield log
    log.close()


@pytest.fixture
async def receiver(aiohttp_client, incident_log):
    app = web.Application()
    add_routes(app, incident_log, secrets=[SECRET])
    return await aiohttp_client(app)


async def post(client, body: bytes, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-PagerDuty-Signature"] = signature
    resp = await client.post(WEBHOOK_PATH, data=body, headers=headers)
    return resp.status, await resp.json()


@pytest.mark.parametrize(
    "signature",
    [None, "v1=00", sign_body(BODY, "nope")],
    ids=["without a signature", "with a wrong digest", "signed with another secret"],
)
async def test_unsigned_or_badly_signed_webhooks_get_401(receiver, incident_log, signature):
    status, body = await post(receiver, BODY, signature)
    assert status == 401
    assert "X-PagerDuty-Signature" in body["error"]
    assert incident_log.events() == []


async def test_a_signed_but_malformed_body_gets_400(receiver):
    bad = b'{"event": {}}'
    status, body = await post(receiver, bad, sign_body(bad, SECRET))
    assert status == 400
    assert body["error"].startswith("not a PagerDuty v3 webhook event")


async def test_a_good_webhook_is_recorded_once(receiver, incident_log):
    status, body = await post(receiver, BODY, sign_body(BODY, SECRET))
    assert (status, body["status"]) == (202, "recorded")
    status, body = await post(receiver, BODY, sign_body(BODY, SECRET))  # PagerDuty redelivers
    assert (status, body["status"]) == (202, "duplicate")
    [event] = incident_log.events()
    assert event.event_type == "incident.acknowledged"


async def test_untracked_event_types_are_acknowledged_but_not_recorded(receiver, incident_log):
    body = delivery(event_type="service.updated")
    status, answer = await post(receiver, body, sign_body(body, SECRET))
    assert (status, answer["status"]) == (202, "ignored")
    assert incident_log.events() == []


async def test_without_a_configured_secret_everything_is_refused(
    aiohttp_client, incident_log, monkeypatch
):
    monkeypatch.delenv("SLAENGINE_PAGERDUTY_WEBHOOK_SECRET", raising=False)
    app = web.Application()
    add_routes(app, incident_log)
    client = await aiohttp_client(app)
    status, body = await post(client, BODY, sign_body(BODY, SECRET))
    assert status == 401
    assert "SLAENGINE_PAGERDUTY_WEBHOOK_SECRET" in body["error"]


async def test_full_loop_records_time_to_acknowledge_and_resolve(
    aiohttp_server, pagerduty_server, dev_call, clock, incident_log, make_notification, make_alert
):
    """Sender → local PagerDuty → signed webhooks → our route → incident log → timelines."""
    app = web.Application()
    add_routes(app, incident_log, secrets=[SECRET])
    ours = await aiohttp_server(app, host="127.0.0.1")
    status, _ = await dev_call(
        "POST", "/_dev/webhooks", {"url": str(ours.make_url(WEBHOOK_PATH)), "secret": SECRET}
    )
    assert status == 201
    sender = PagerDutySender(ROUTING_KEY, pagerduty_server.base_url)

    await sender.send(make_notification())
    [incident] = pagerduty_server.state.ledger.incidents.values()
    clock.advance(minutes=4)
    status, answer = await dev_call("POST", f"/_dev/incidents/{incident.id}/acknowledge")
    assert (status, answer["incident"]["status"]) == (200, "acknowledged")
    clock.advance(minutes=26)
    await sender.send(make_notification(make_alert(status="resolved"), status="resolved"))
    await sender.aclose()
    await dev_call("POST", "/_dev/webhooks/flush")

    _, deliveries = await dev_call("GET", "/_dev/webhooks")
    assert [(d["event_type"], d["status"]) for d in deliveries["deliveries"]] == [
        ("incident.triggered", 202),
        ("incident.acknowledged", 202),
        ("incident.resolved", 202),
    ]
    [timeline] = incident_log.timelines()
    assert timeline.incident_key == "route/checkout"
    assert timeline.time_to_acknowledge == timedelta(minutes=4)
    assert timeline.time_to_resolve == timedelta(minutes=30)
    assert timeline.urgency == "high"
