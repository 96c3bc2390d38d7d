"""Fixtures of the alert-router tests: an injected clock, a real chat webhook server and a real
SMTP server on 127.0.0.1, and routing configs written as YAML like users write them."""

from __future__ import annotations

import asyncio
import socket
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from slaengine.alerts import Alert, Notification
from slaengine.router.config import RoutingConfig, load_routing_config

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_alert(
    name: str = "HighLatency",
    status: str = "firing",
    severity: str = "warning",
    starts_at: datetime = T0,
    **labels: str,
) -> Alert:
    return Alert(
        labels={"alertname": name, "severity": severity, **labels},
        status=status,  # type: ignore[arg-type]
        starts_at=starts_at,
        annotations={"summary": f"{name} on {labels.get('service', '?')}"},
        ends_at=starts_at if status == "resolved" else None,
    )


def make_notification(key: str, sequence: int, status: str = "firing") -> Notification:
    alert = make_alert(service=key, status=status)
    return Notification(
        receiver="chat",
        group_key=key,
        status=status,  # type: ignore[arg-type]
        alerts=(alert,),
        group_labels={"service": key},
        common_labels=dict(alert.labels),
        common_annotations={},
        occurrences=1,
        sequence=sequence,
        created_at=T0,
    )


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], RoutingConfig]:
    def write(text: str) -> RoutingConfig:
        path = tmp_path / "routing.yaml"
        path.write_text(textwrap.dedent(text))
        return load_routing_config(path)

    return write


CHAT_ROUTING = """
    delivery: {initial_backoff: 1s, max_backoff: 60s, max_age: 1h}
    route:
      receiver: chat
      group_by: [alertname, service]
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 4h
    receivers:
      - name: chat
        chat: {webhook_url: "%s"}
"""


@dataclass
class ChatWebhook:
    """A Slack-style webhook that records what it accepted; ``answer`` decides each reply."""

    url: str = ""
    accepted: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    answer: Callable[[dict[str, Any]], tuple[int, dict[str, str]]] = lambda payload: (200, {})
    delay: float = 0.0  # real seconds before answering, so a test can catch a send in flight
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    hold: asyncio.Event | None = None  # if set, accepted requests wait for it before answering

    async def handle(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.attempts += 1
        self.arrived.set()
        await asyncio.sleep(self.delay)
        status, headers = self.answer(payload)
        if status < 300:
            assert request.headers["Idempotency-Key"] == payload["notification_id"]
            self.accepted.append(payload)
            if self.hold is not None:
                await self.hold.wait()
            return web.Response(text="ok")
        return web.Response(status=status, headers=headers, text="slow down")

    def ids(self) -> list[str]:
        return [payload["notification_id"] for payload in self.accepted]


@pytest.fixture
async def chat_webhook(aiohttp_server: Any) -> ChatWebhook:
    hook = ChatWebhook()
    app = web.Application()
    app.router.add_post("/hooks/T000/secret-token", hook.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    hook.url = str(server.make_url("/hooks/T000/secret-token"))
    return hook


class RecordingSmtpHandler:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.reply = "250 Message accepted for delivery"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply.startswith("250"):
            self.messages.append(envelope)
        return self.reply


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[RecordingSmtpHandler, int]]:
    handler = RecordingSmtpHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
