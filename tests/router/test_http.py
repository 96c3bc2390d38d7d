"""Alertmanager intake and the silences API over real HTTP, delivering to a real chat webhook."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from slaengine.http.auth import API_TOKEN_KEY
from slaengine.router.http import add_routes
from slaengine.router.senders import build_senders
from slaengine.router.service import AlertRouter

from .conftest import CHAT_ROUTING, ChatWebhook, FakeClock

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def webhook_payload(status: str = "firing", service: str = "checkout") -> dict[str, Any]:
    alert = {
        "status": status,
        "labels": {"alertname": "HighLatency", "severity": "warning", "service": service},
        "annotations": {
            "summary": f"p99 latency high on {service}",
            "runbook_url": "https://runbooks.example/latency",
        },
        "startsAt": "2025-03-01T11:58:00Z",
        "endsAt": "2025-03-01T12:10:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": "c0ffee",
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "slaengine",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager:9093",
        "alerts": [alert],
    }


@pytest.fixture
async def api(
    aiohttp_client, write_config, chat_webhook: ChatWebhook, clock: FakeClock, tmp_path: Path
):
    config = write_config(CHAT_ROUTING % chat_webhook.url)
    router = AlertRouter(
        config, tmp_path / "data", build_senders(config), clock=clock, rng=random.Random(3)
    )
    app = web.Application()
    app[API_TOKEN_KEY] = TOKEN
    add_routes(app, router)
    client = await aiohttp_client(app)
    client.router = router
    yield client
    await router.close()


async def advance(router: AlertRouter, clock: FakeClock, seconds: int) -> None:
    for _ in range(0, seconds, 10):
        clock.advance(10)
        await router.run_pending()


async def test_posted_twice_then_resolved_then_refired(
    api, chat_webhook: ChatWebhook, clock: FakeClock
) -> None:
    for _ in range(2):
        response = await api.post("/api/v1/alertmanager", json=webhook_payload(), headers=AUTH)
        assert response.status == 200 and (await response.json())["alerts"] == 1
        await advance(api.router, clock, 60)
    await api.post("/api/v1/alertmanager", json=webhook_payload("resolved"), headers=AUTH)
    await advance(api.router, clock, 240)
    assert [(p["status"], p["occurrences"]) for p in chat_webhook.accepted] == [
        ("firing", 1),
        ("resolved", 1),
    ]
    assert len({p["group_key"] for p in chat_webhook.accepted}) == 1

    await api.post("/api/v1/alertmanager", json=webhook_payload(), headers=AUTH)  # 4 min later
    await advance(api.router, clock, 60)
    assert [(p["status"], p["occurrences"]) for p in chat_webhook.accepted] == [
        ("firing", 1),
        ("resolved", 1),
        ("firing", 2),
    ]
    assert len({p["group_key"] for p in chat_webhook.accepted}) == 1
    assert "occurrence 2" in chat_webhook.accepted[-1]["text"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}],
    ids=["no token", "wrong token", "token without Bearer scheme"],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/alertmanager"),
        ("GET", "/api/v1/silences"),
        ("POST", "/api/v1/silences"),
        ("DELETE", "/api/v1/silences/abc"),
    ],
)
async def test_every_route_needs_the_token(
    api, method: str, path: str, headers: dict[str, str]
) -> None:
    response = await api.request(method, path, json=webhook_payload(), headers=headers)
    assert response.status == 401
    assert "token" in (await response.json())["error"]


def _without(path: str) -> dict[str, Any]:
    payload = webhook_payload()
    *parents, last = path.split(".")
    node: Any = payload
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    del node[last]
    return payload


def _with(path: str, value: Any) -> dict[str, Any]:
    payload = copy.deepcopy(webhook_payload())
    *parents, last = path.split(".")
    node: Any = payload
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[last] = value
    return payload


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (_with("version", "3"), "version"),
        (_without("alerts"), "alerts"),
        (_without("alerts.0.labels.alertname"), "alertname"),
        (_with("alerts.0.status", "exploded"), "alerts.0.status"),
        (_with("alerts.0.startsAt", "yesterday"), "alerts.0.startsAt"),
        (_with("alerts.0.startsAt", "2025-03-01T11:58:00"), "timezone"),
    ],
    ids=[
        "broken JSON",
        "not an object",
        "unsupported version",
        "no alerts",
        "alert without name",
        "unknown alert status",
        "unparsable time",
        "time without timezone",
    ],
)
async def test_bad_payloads_get_400_with_a_reason(api, body: Any, reason: str) -> None:
    if isinstance(body, bytes):
        response = await api.post(
            "/api/v1/alertmanager", data=body, headers={**AUTH, "Content-Type": "application/json"}
        )
    else:
        response = await api.post("/api/v1/alertmanager", json=body, headers=AUTH)
    assert response.status == 400
    assert reason in (await response.json())["error"]


async def test_silence_api_mutes_and_expiry_unmutes(
    api, chat_webhook: ChatWebhook, clock: FakeClock
) -> None:
    created = await api.post(
        "/api/v1/silences",
        headers=AUTH,
        json={
            "matchers": ['service="checkout"'],
            "duration": "2h",
            "created_by": "alice",
            "comment": "deploy",
        },
    )
    assert created.status == 201
    silence = (await created.json())["silence"]
    assert silence["state"] == "active" and silence["created_by"] == "alice"
    await api.post("/api/v1/alertmanager", json=webhook_payload(), headers=AUTH)
    await advance(api.router, clock, 600)
    assert chat_webhook.accepted == []

    listed = await (await api.get("/api/v1/silences", headers=AUTH)).json()
    assert [s["id"] for s in listed["silences"]] == [silence["id"]]
    expired = await api.delete(f"/api/v1/silences/{silence['id']}", headers=AUTH)
    assert (await expired.json())["silence"]["state"] == "expired"
    assert (await (await api.get("/api/v1/silences", headers=AUTH)).json())["silences"] == []
    everything = await (await api.get("/api/v1/silences?state=all", headers=AUTH)).json()
    assert [s["state"] for s in everything["silences"]] == ["expired"]
    await advance(api.router, clock, 300)
    assert [p["status"] for p in chat_webhook.accepted] == ["firing"]


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"matchers": ['a="b"'], "created_by": "x"}, 400, "exactly one of ends_at or duration"),
        ({"matchers": ["oops"], "duration": "1h", "created_by": "x"}, 400, "invalid matcher"),
        ({"matchers": ['a="b"'], "duration": "1h"}, 400, "created_by"),
        ({"matchers": ['a="b"'], "duration": "1h", "created_by": "x", "ttl": 3}, 400, "ttl"),
        (
            {"matchers": ['a="b"'], "ends_at": "2020-01-01T00:00:00Z", "created_by": "x"},
            400,
            "after starts_at",
        ),
    ],
    ids=["no end", "bad matcher", "no author", "unknown field", "already over"],
)
async def test_bad_silences_get_400(api, body: dict[str, Any], status: int, reason: str) -> None:
    response = await api.post("/api/v1/silences", json=body, headers=AUTH)
    assert response.status == status
    assert reason in (await response.json())["error"]


async def test_expiring_an_unknown_silence_is_404(api) -> None:
    response = await api.delete("/api/v1/silences/does-not-exist", headers=AUTH)
    assert response.status == 404
    assert "does-not-exist" in (await response.json())["error"]
