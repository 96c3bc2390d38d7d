"""Shared fixtures: a real local PagerDuty on 127.0.0.1, a settable clock, notifications."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from slaengine.alerts import Alert, Notification
from slaengine.pagerduty.devserver import DEV_STATE, create_devserver_app

ROUTING_KEY = "0123456789abcdef0123456789abcdef"  # Events v2 keys are 32 characters
API_TOKEN = "test-rest-token"


@dataclass
class ManualClock:
    now: datetime = field(default_factory=lambda: datetime(2025, 3, 3, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def pagerduty_server(aiohttp_server: Callable[..., Any], clock: ManualClock) -> Any:
    """The local contract server; ``.url`` is its base URL, ``.app[DEV_STATE]`` its state."""
    app = create_devserver_app(clock=clock, api_token=API_TOKEN)
    server = await aiohttp_server(app, host="127.0.0.1")
    server.base_url = str(server.make_url("")).rstrip("/")
    server.state = app[DEV_STATE]
    return server


@pytest.fixture
def dev_call(pagerduty_server: Any) -> Callable[..., Any]:
    """``await dev_call("POST", "/_dev/faults", {...})`` → (status, decoded JSON or None)."""

    async def call(
        method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                method, pagerduty_server.base_url + path, json=body, headers=headers
            ) as resp,
        ):
            text = await resp.text()
            return resp.status, (json.loads(text) if text else None)

    return call


@pytest.fixture
def routing_key() -> str:
    return ROUTING_KEY


@pytest.fixture(name="make_alert")
def make_alert_fixture() -> Callable[..., Alert]:
    return make_alert


@pytest.fixture(name="make_notification")
def make_notification_fixture() -> Callable[..., Notification]:
    return make_notification


def make_alert(
    name: str = "HighErrorRate",
    severity: str = "critical",
    *,
    service: str = "checkout",
    status: str = "firing",
    annotations: dict[str, str] | None = None,
    value: float | None = 0.07,
    starts_at: datetime | None = None,
    **labels: str,
) -> Alert:
    return Alert(
        labels={"alertname": name, "severity": severity, "service": service, **labels},
        status=status,  # type: ignore[arg-type]
        starts_at=starts_at or datetime(2025, 3, 3, 8, 55, tzinfo=UTC),
        annotations=annotations
        if annotations is not None
        else {
            "summary": "checkout error ratio 7% over 5m",
            "runbook_url": "https://runbooks.example.com/checkout-errors",
            "dashboard_url": "https://grafana.example.com/d/checkout",
        },
        value=value,
    )


def make_notification(
    *alerts: Alert,
    status: str = "firing",
    group_key: str = "route/checkout",
    occurrences: int = 1,
    sequence: int = 1,
) -> Notification:
    alerts = alerts or (make_alert(),)
    common = dict(alerts[0].labels)
    for alert in alerts[1:]:
        common = {k: v for k, v in common.items() if alert.labels.get(k) == v}
    common_annotations = dict(alerts[0].annotations)
    for alert in alerts[1:]:
        common_annotations = {
            k: v for k, v in common_annotations.items() if alert.annotations.get(k) == v
        }
    return Notification(
        receiver="pagerduty-oncall",
        group_key=group_key,
        status=status,  # type: ignore[arg-type]
        alerts=tuple(alerts),
        group_labels={"alertname": alerts[0].name},
        common_labels=common,
        common_annotations=common_annotations,
        occurrences=occurrences,
        sequence=sequence,
        created_at=datetime(2025, 3, 3, 9, 0, tzinfo=UTC),
    )
