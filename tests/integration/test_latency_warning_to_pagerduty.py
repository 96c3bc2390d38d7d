"""The seeds' "API p95 > 500 ms → warning" still opens a PagerDuty incident, with low urgency.

Shipped rules and routing, the in-service evaluator, the router, the real pagerduty client and
the local PagerDuty contract server.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slaengine.config import load_sla_config
from slaengine.evaluator.rules import AlertEvaluator
from slaengine.pagerduty.devserver import DEV_STATE, create_devserver_app
from slaengine.router.config import DEFAULT_ROUTING_FILE, load_routing_config
from slaengine.router.senders import DEFAULT_FACTORIES, build_senders
from slaengine.router.service import AlertRouter
from slaengine.rules.alertspec import load_alert_rules
from slaengine.rules.timeline import TimelineSliSource
from streams.features import tolerate_missing_secrets

REPO = Path(__file__).resolve().parents[2]
ROUTING_KEY = "0123456789abcdef0123456789abcdef"
START = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
async def pagerduty(aiohttp_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    server = await aiohttp_server(create_devserver_app(api_token="rest-token"), host="127.0.0.1")
    monkeypatch.setenv("SLAENGINE_PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
    monkeypatch.setenv("SLAENGINE_PAGERDUTY_EVENTS_URL", str(server.make_url("")).rstrip("/"))
    return server.app[DEV_STATE]


async def test_p95_above_500_ms_for_five_minutes_opens_a_low_urgency_incident(
    pagerduty: Any, tmp_path: Path
) -> None:
    rules = load_alert_rules(REPO / "alert_rules").for_slos(
        load_sla_config(REPO / "slaengine" / "data" / "slo.yaml").slos
    )
    evaluator = AlertEvaluator([], rules)
    source = TimelineSliSource(
        {},
        {
            "sla_api_response_time_p95": [
                ({"slo": "api-latency", "service": "orders-api", "window": "5m"}, 730.0),
                ({"slo": "api-latency", "service": "orders-api", "window": "1h"}, 410.0),
            ]
        },
    )
    routing = load_routing_config(DEFAULT_ROUTING_FILE)
    factories = {kind: tolerate_missing_secrets(f) for kind, f in DEFAULT_FACTORIES.items()}
    now = START
    router = AlertRouter(routing, tmp_path, build_senders(routing, factories), clock=lambda: now)
    try:
        for _ in range(12):  # six minutes of 30 s evaluations
            for alert in evaluator.evaluate(source, now):
                await router.receive(alert)
            await router.run_pending(now)
            now += timedelta(seconds=30)
        for _ in range(4):  # the warning route's 30 s group wait
            now += timedelta(seconds=30)
            await router.run_pending(now)
    finally:
        await router.close()
    [incident] = pagerduty.ledger.incidents.values()
    assert incident.urgency == "low" and incident.status == "triggered"
    assert incident.title == (
        "[ApiLatencyP95High] Latency SLO api-latency: p95 of orders-api is "
        "730 ms over 5m, above 500 ms"
    )
    [record] = [r for r in pagerduty.events_log if r["event"]["event_action"] == "trigger"]
    assert record["event"]["payload"]["severity"] == "warning"
