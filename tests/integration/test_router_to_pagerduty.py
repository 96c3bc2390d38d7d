"""Alert router → real pagerduty client → the local PagerDuty contract server, default routing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slaengine.alerts import Alert
from slaengine.pagerduty.devserver import DEV_STATE, create_devserver_app
from slaengine.router.config import DEFAULT_ROUTING_FILE, load_routing_config
from slaengine.router.senders import DEFAULT_FACTORIES, build_senders
from slaengine.router.service import AlertRouter
from streams.features import tolerate_missing_secrets

ROUTING_KEY = "0123456789abcdef0123456789abcdef"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def page(status: str, at: datetime) -> Alert:
    return Alert(
        labels={
            "alertname": "SloErrorBudgetBurn",
            "severity": "critical",
            "service": "orders-api",
            "slo": "api-availability",
        },
        status=status,  # type: ignore[arg-type]
        starts_at=at,
        annotations={
            "summary": "orders-api burns its error budget 33x",
            "runbook_url": "https://runbooks/slo-error-budget-burn",
        },
        ends_at=at if status == "resolved" else None,
    )


@pytest.fixture
async def pagerduty(aiohttp_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    app = create_devserver_app(api_token="rest-token")
    server = await aiohttp_server(app, host="127.0.0.1")
    monkeypatch.setenv("SLAENGINE_PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
    monkeypatch.setenv("SLAENGINE_PAGERDUTY_EVENTS_URL", str(server.make_url("")).rstrip("/"))
    return app[DEV_STATE]


def make_router(tmp_path: Path, clock: Callable[[], datetime] | None = None) -> AlertRouter:
    config = load_routing_config(DEFAULT_ROUTING_FILE)
    factories = {kind: tolerate_missing_secrets(f) for kind, f in DEFAULT_FACTORIES.items()}
    options = {"clock": clock} if clock else {}
    return AlertRouter(config, tmp_path, build_senders(config, factories), **options)


async def test_a_critical_alert_reaches_pagerduty_within_a_second(
    pagerduty: Any, tmp_path: Path
) -> None:
    router = make_router(tmp_path)
    router.start(tick=0.1)
    try:
        started = time.monotonic()
        await router.receive(page("firing", datetime.now(UTC)))
        while not pagerduty.events_log:
            assert time.monotonic() - started < 5, "nothing reached PagerDuty"
            await asyncio.sleep(0.01)
        assert time.monotonic() - started < 1.0
        [record] = pagerduty.events_log
        event = record["event"]
        assert event["event_action"] == "trigger" and record["status"] == 202
        assert event["payload"]["severity"] == "critical"
    finally:
        await router.close()


async def test_a_refire_within_five_minutes_updates_the_incident_and_resolution_resolves_it(
    pagerduty: Any, tmp_path: Path
) -> None:
    clock = Clock()
    router = make_router(tmp_path, clock)
    t0 = clock.now
    await router.receive(page("firing", t0))
    await router.run_pending(clock.now)
    clock.now += timedelta(seconds=40)
    await router.receive(page("resolved", clock.now))
    clock.now += timedelta(seconds=60)  # flaps back within the 5-minute refire window
    await router.receive(page("firing", clock.now))
    for _ in range(12):  # ten minutes in 50-second steps
        clock.now += timedelta(seconds=50)
        await router.run_pending(clock.now)
    await router.receive(page("resolved", clock.now))
    for _ in range(12):
        clock.now += timedelta(seconds=50)
        await router.run_pending(clock.now)
    await router.close()

    actions = [r["event"]["event_action"] for r in pagerduty.events_log]
    keys = {r["event"]["dedup_key"] for r in pagerduty.events_log}
    assert actions[0] == "trigger" and actions[-1] == "resolve" and len(keys) == 1
    incidents = list(pagerduty.ledger.incidents.values())
    assert len(incidents) == 1
    alert = pagerduty.ledger.alerts[incidents[0].alert_id]
    assert incidents[0].status == "resolved"
    assert actions.count("trigger") == 2 and alert.count == 2  # one incident, seen twice


def alertmanager_payload(status: str) -> dict[str, Any]:
    alert = {
        "status": status,
        "labels": {"alertname": "CheckoutDown", "severity": "critical", "service": "checkout"},
        "annotations": {"summary": "checkout returns 5xx"},
        "startsAt": "2026-10-05T08:59:00Z",
        "endsAt": "2026-10-05T09:04:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": "c0ffee",
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="CheckoutDown"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "slaengine",
        "groupLabels": {"alertname": "CheckoutDown"},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager",
        "alerts": [alert],
    }


async def test_an_alertmanager_webhook_twice_then_resolved_is_one_trigger_and_one_resolve(
    pagerduty: Any, tmp_path: Path, aiohttp_client: Callable[..., Any]
) -> None:
    from prometheus_client import CollectorRegistry

    from slaengine.http.app import create_app
    from slaengine.router.http import add_routes

    clock = Clock()
    router = make_router(tmp_path, clock)
    client = await aiohttp_client(
        create_app(
            CollectorRegistry(),
            api_token="intake-token",
            route_setups=[lambda app: add_routes(app, router)],
        )
    )
    auth = {"Authorization": "Bearer intake-token"}
    for status in ("firing", "firing", "resolved"):
        response = await client.post(
            "/api/v1/alertmanager", json=alertmanager_payload(status), headers=auth
        )
        assert response.status == 200, await response.text()
        for _ in range(8):  # Alertmanager re-sends; a few minutes pass between the posts
            clock.now += timedelta(seconds=40)
            await router.run_pending(clock.now)
    unauthorised = await client.post("/api/v1/alertmanager", json=alertmanager_payload("firing"))
    assert unauthorised.status == 401
    await router.close()
    events = [r["event"] for r in pagerduty.events_log]
    assert [e["event_action"] for e in events] == ["trigger", "resolve"]
    assert len({e["dedup_key"] for e in events}) == 1
