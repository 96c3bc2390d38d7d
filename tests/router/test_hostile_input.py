"""Hostile input and disk faults on the alert router (issue 12, defects 4, 5, 6, 8, 9, 12, 14).

Real parts throughout: the router with its sqlite outbox, a real chat webhook server, a real SMTP
server (aiosmtpd), and the HTTP API behind the app's own error middleware.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from prometheus_client import CollectorRegistry, generate_latest
from ruamel.yaml import YAML

from slaengine.alerts import Alert
from slaengine.http.app import create_app
from slaengine.outbox import BackoffPolicy, Outbox
from slaengine.router.chat import ChatSender
from slaengine.router.email import EmailSender
from slaengine.router.http import MAX_INTAKE_ALERTS, add_routes
from slaengine.router.intake import InvalidAlertError, route_alert_record
from slaengine.router.metrics import RouterCollector
from slaengine.router.senders import build_senders
from slaengine.router.service import AlertRouter

from .conftest import (
    T0,
    ChatWebhook,
    FakeClock,
    RecordingSmtpHandler,
    free_port,
    make_alert,
    make_notification,
)

TOKEN = "hostile-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

SEVERITY_ROUTING = """
    delivery: {initial_backoff: 1s, max_backoff: 60s, max_age: 1h}
    route:
      receiver: chat
      group_by: [alertname, service]
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 4h
      routes:
        - matchers: ['severity=~"critical|error"']
          receiver: chat
    receivers:
      - name: chat
        chat: {webhook_url: "%s"}
"""


def record(labels: dict[str, Any], status: str = "firing", **extra: Any) -> bytes:
    return json.dumps(
        {"labels": labels, "status": status, "starts_at": T0.isoformat(), **extra}
    ).encode()


@pytest.fixture
async def router(
    write_config, chat_webhook: ChatWebhook, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[AlertRouter]:
    config = write_config(SEVERITY_ROUTING % chat_webhook.url)
    router = AlertRouter(
        config, tmp_path / "data", build_senders(config), clock=clock, rng=random.Random(7)
    )
    yield router
    await router.close()


async def tick(router: AlertRouter, clock: FakeClock, seconds: float) -> None:
    clock.advance(seconds)
    await router.run_pending()


# --- defect 4: a non-string label on sla.alerts -------------------------------------------


async def test_a_non_string_label_is_refused_before_it_reaches_the_router(router) -> None:
    alert = Alert(
        labels={"alertname": "HighErrorRate", "severity": 5},  # type: ignore[dict-item]
        status="firing",
        starts_at=T0,
    )
    with pytest.raises(InvalidAlertError, match=r"labels\.severity must be a string, not int"):
        await router.receive(alert)
    assert router.dispatcher.groups.groups == {}


@pytest.mark.parametrize(
    "bad",
    [
        record({"alertname": "X", "severity": 5}),
        record({"alertname": "X", "severity": ["critical"]}),
        record({"alertname": "X", "bad label": "v"}),
        record({"alertname": "X", "severity": "critical"}, status="exploded"),
        record({"alertname": "X", "severity": "critical"}, value=float("nan")),
        json.dumps(
            {
                "labels": {"alertname": "X"},
                "status": "firing",
                "starts_at": "0001-01-01T00:00:00+14:00",
            }
        ).encode(),
        json.dumps({"labels": {"alertname": "X"}, "status": "firing", "starts_at": 5}).encode(),
        b'{"labels": {"alertname": "X"}, "status": "firing", "starts_at": "2025-03-01T12:00:00Z"',
        b"[" * 50_000,
        b"\xff\xfe",
        b"[]",
    ],
    ids=[
        "int severity",
        "list severity",
        "label name",
        "status",
        "NaN value",
        "year 1",
        "numeric time",
        "truncated",
        "deep",
        "not utf-8",
        "not an object",
    ],
)
async def test_a_bad_record_never_stops_the_alerts_agent(
    router, chat_webhook: ChatWebhook, clock: FakeClock, bad: bytes
) -> None:
    assert await route_alert_record(router, bad) is False
    assert router.errors["invalid_alert"] == 1
    good = record({"alertname": "HighErrorRate", "severity": "critical", "service": "checkout"})
    assert await route_alert_record(router, good) is True
    await tick(router, clock, 31)
    assert [p["status"] for p in chat_webhook.accepted] == ["firing"]


# --- defect 5: a failed outbox write never delays a page ----------------------------------


@contextmanager
def disk_full(outbox: Outbox) -> Iterator[None]:
    """A real SQLITE_FULL: the database may not grow by a single page until the block ends."""
    db = outbox._db
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    try:
        yield
    finally:
        db.execute("PRAGMA max_page_count = 1073741823")


def big_alert(**labels: str) -> Alert:
    # an annotation of 12 kB needs new (overflow) pages in any sqlite page size
    alert = make_alert(severity="critical", **labels)
    return Alert(
        labels=alert.labels,
        status="firing",
        starts_at=T0,
        annotations={"summary": "checkout down", "description": "x" * 12_000},
    )


async def test_a_failed_outbox_write_is_retried_on_the_next_tick(
    router, chat_webhook: ChatWebhook, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    await router.receive(big_alert(service="checkout"))
    with disk_full(router.outbox), caplog.at_level(logging.ERROR):
        await tick(router, clock, 31)
    assert chat_webhook.accepted == []
    assert router.outbox.write_failures >= 1
    assert "database or disk is full" in caplog.text
    assert "retrying on the next tick" in caplog.text
    await tick(router, clock, 1)  # the disk has room again
    assert [p["status"] for p in chat_webhook.accepted] == ["firing"]
    registry = CollectorRegistry()
    registry.register(RouterCollector(router.outbox, clock, router.errors))
    scrape = generate_latest(registry).decode()
    assert f"slaengine_alert_outbox_write_failures_total {router.outbox.write_failures}.0" in scrape


async def test_a_restart_after_a_failed_flush_still_sends_the_page(
    write_config, chat_webhook: ChatWebhook, clock: FakeClock, tmp_path: Path
) -> None:
    config = write_config(SEVERITY_ROUTING % chat_webhook.url)
    first = AlertRouter(config, tmp_path / "data", build_senders(config), clock=clock)
    await first.receive(big_alert(service="checkout"))
    with disk_full(first.outbox):
        await tick(first, clock, 31)
        await first.receive(make_alert(service="search"))  # its state write fails too
    await first.close()
    second = AlertRouter(config, tmp_path / "data", build_senders(config), clock=clock)
    try:
        await tick(second, clock, 1)
        assert [p["status"] for p in chat_webhook.accepted] == ["firing"]
    finally:
        await second.close()


async def test_a_refused_state_write_keeps_the_alert_and_saves_it_with_the_flush(
    router, chat_webhook: ChatWebhook, clock: FakeClock
) -> None:
    with disk_full(router.outbox):
        await router.receive(big_alert(service="checkout"))  # does not raise
    await tick(router, clock, 31)
    assert len(chat_webhook.accepted) == 1
    assert router.outbox.load_state("groups")[0]["notified_firing"]


# --- defect 6: no matcher can stall the event loop ----------------------------------------


@pytest.fixture
async def api(aiohttp_client, router: AlertRouter) -> Any:
    app = create_app(
        CollectorRegistry(), api_token=TOKEN, route_setups=[lambda app: add_routes(app, router)]
    )
    return await aiohttp_client(app)


@pytest.mark.timeout(120)
async def test_a_catastrophic_regex_in_a_silence_matches_in_linear_time(
    api, router: AlertRouter, clock: FakeClock
) -> None:
    response = await api.post(
        "/api/v1/silences",
        headers=AUTH,
        json={"matchers": ['alertname=~"(a+)+$"'], "duration": "1h", "created_by": "attacker"},
    )
    assert response.status == 201, await response.text()
    await router.receive(make_alert(name="a" * 28 + "!", service="checkout"))
    started = time.perf_counter()
    await tick(router, clock, 31)  # flushing checks every alert against every silence
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "matcher, reason",
    [
        ('alertname=~"(a)\\1"', "invalid escape sequence"),
        ('alertname=~"(?=a)a"', "invalid perl operator"),
        ('alertname=~"(a{1000}){1000}"', "invalid repetition size"),
    ],
)
async def test_a_pattern_re2_refuses_is_a_clear_400(api, matcher: str, reason: str) -> None:
    response = await api.post(
        "/api/v1/silences",
        headers=AUTH,
        json={"matchers": [matcher], "duration": "1h", "created_by": "ops"},
    )
    assert response.status == 400
    message = (await response.json())["error"]
    assert reason in message and "RE2" in message


# --- defect 8: Alertmanager intake is linear and bounded ----------------------------------


def alertmanager_payload(count: int) -> dict[str, Any]:
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "HighLatency", "severity": "warning", "service": f"svc-{n}"},
            "startsAt": "2025-03-01T11:58:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
        }
        for n in range(count)
    ]
    return {"version": "4", "status": "firing", "receiver": "slaengine", "alerts": alerts}


async def test_an_intake_request_is_one_state_write_whatever_its_size(
    api, router: AlertRouter
) -> None:
    writes = 0
    save_state = router.outbox.save_state

    def counting_save_state(key: str, value: Any) -> None:
        nonlocal writes
        writes += 1
        save_state(key, value)

    router.outbox.save_state = counting_save_state  # type: ignore[method-assign]
    started = time.perf_counter()
    response = await api.post(
        "/api/v1/alertmanager", headers=AUTH, json=alertmanager_payload(MAX_INTAKE_ALERTS)
    )
    elapsed = time.perf_counter() - started
    assert response.status == 200, await response.text()
    assert (await response.json())["alerts"] == MAX_INTAKE_ALERTS
    assert writes == 1
    assert len(router.dispatcher.groups.groups) == MAX_INTAKE_ALERTS
    assert elapsed < 10  # 500 alerts took 7.2 s with one fsync'd snapshot per alert


async def test_an_intake_request_over_the_batch_limit_is_413(api, router: AlertRouter) -> None:
    response = await api.post(
        "/api/v1/alertmanager", headers=AUTH, json=alertmanager_payload(MAX_INTAKE_ALERTS + 1)
    )
    assert response.status == 413
    assert "max_alerts" in (await response.json())["error"]
    assert router.dispatcher.groups.groups == {}


def test_the_shipped_alertmanager_config_bounds_its_batches() -> None:
    path = Path(__file__).parents[2] / "deploy/alertmanager/alertmanager.yml"
    config = YAML(typ="safe").load(path.read_text())
    hooks = [hook for receiver in config["receivers"] for hook in receiver["webhook_configs"]]
    assert hooks and all(0 < hook["max_alerts"] <= MAX_INTAKE_ALERTS for hook in hooks)


# --- defect 9: backoff at any attempt -----------------------------------------------------


@pytest.mark.parametrize("attempt", [1, 60, 1024, 1025, 5000, 10**6])
def test_backoff_is_capped_at_any_attempt(attempt: int) -> None:
    policy = BackoffPolicy(initial=1.0, cap=120.0)
    delay = policy.delay(attempt, None, random.Random(1))
    assert 0 <= delay <= 120.0


# --- defect 12: 400 with the real message, never 500 --------------------------------------


@pytest.mark.parametrize(
    "body, expected",
    [
        (b"[" * 5000 + b"]" * 5000, "nested deeper than 32"),
        (
            b'{"version": "4", "alerts": [], "status": "firing", "n": ' + b"7" * 5000 + b"}",
            "5000 digits",
        ),
        (b'{"version": "4", "status": NaN}', "NaN is not a JSON number"),
        (b'{"version": "4",', "Expecting property name"),
        (b"\xff{}", "not UTF-8"),
        (b"", "empty"),
    ],
)
async def test_bad_json_gets_400_with_the_real_reason(api, body: bytes, expected: str) -> None:
    response = await api.post("/api/v1/alertmanager", headers=AUTH, data=body)
    assert response.status == 400
    assert expected in (await response.json())["error"]


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"starts_at": "0001-01-01T00:00:00+14:00", "duration": "1h"}, "outside 1970..2999"),
        ({"ends_at": "9999-12-31T23:59:59-14:00"}, "ends_at"),
        ({"starts_at": "9999-12-31T23:00:00+00:00", "duration": "2h"}, "starts_at"),
        ({"duration": "99999999999999999999y"}, "duration"),
        ({"duration": "9" * 5000 + "s"}, "duration"),
        ({"duration": 1e300}, "duration"),
    ],
)
async def test_silence_times_out_of_range_get_400(
    api, fields: dict[str, Any], expected: str
) -> None:
    response = await api.post(
        "/api/v1/silences",
        headers=AUTH,
        json={"matchers": ['service="checkout"'], "created_by": "ops", **fields},
    )
    assert response.status == 400, await response.text()
    assert expected in (await response.json())["error"]


async def test_dates_near_year_1_in_alertmanager_alerts_get_400(api) -> None:
    payload = alertmanager_payload(1)
    payload["alerts"][0]["startsAt"] = "0001-01-01T00:00:00+14:00"
    response = await api.post("/api/v1/alertmanager", headers=AUTH, json=payload)
    assert response.status == 400
    assert "starts_at" in (await response.json())["error"]


# --- defect 14: CR/LF and chat markup in labels -------------------------------------------


async def test_cr_lf_in_a_label_never_breaks_e_mail(smtp_server) -> None:
    handler, port = smtp_server
    sender = EmailSender(
        host="127.0.0.1", port=port, sender="slaengine@example.org", to=["oncall@example.org"]
    )
    alert = make_alert(service="checkout\r\nBcc: everyone@example.org")
    notification = make_notification("chat-1", 1)
    notification = type(notification)(
        **{
            **notification.__dict__,
            "alerts": (alert,),
            "group_labels": dict(alert.labels),
            "common_labels": dict(alert.labels),
        }
    )
    await sender.send(notification)
    [envelope] = handler.messages
    assert envelope.rcpt_tos == ["oncall@example.org"]
    message = message_from_bytes(envelope.content)
    assert message["Bcc"] is None
    assert (
        "\n" not in message["Subject"]
        and "checkout Bcc: everyone@example.org" in message["Subject"]
    )


def test_label_values_reach_chat_escaped() -> None:
    alert = make_alert(service="<!channel> & <https://evil.example|click>")
    notification = make_notification("chat-1", 1)
    notification = type(notification)(
        **{
            **notification.__dict__,
            "alerts": (alert,),
            "group_labels": dict(alert.labels),
            "common_labels": dict(alert.labels),
        }
    )
    payload = ChatSender("https://hooks.example/T0/secret").build_payload(notification)
    texts = [
        payload["text"],
        *(a["text"] for a in payload["attachments"]),
        *(a["fallback"] for a in payload["attachments"]),
    ]
    assert all("<" not in text and ">" not in text for text in texts)
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in payload["text"]


# --- faults: SMTP down, then up -----------------------------------------------------------

EMAIL_ROUTING = """
    delivery: {initial_backoff: 1s, max_backoff: 30s, max_age: 1h}
    route: {receiver: mail, group_by: [alertname, service], group_wait: 30s}
    receivers:
      - name: mail
        email: {from: slaengine@example.com, to: [oncall@example.com], host: 127.0.0.1,
                port: %d, timeout: 2s}
"""


async def test_alert_mail_waits_out_an_smtp_outage_and_nothing_is_lost(
    write_config, clock: FakeClock, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens yet: the SMTP server is down
    config = write_config(EMAIL_ROUTING % port)
    router = AlertRouter(
        config, tmp_path / "data", build_senders(config), clock=clock, rng=random.Random(5)
    )
    try:
        await router.receive(make_alert(severity="critical", service="checkout\r\nBcc: x@y.z"))
        await router.receive(
            make_alert(name="HighErrorRate", severity="critical", service="search")
        )
        for _ in range(5):  # 5 minutes of failed attempts
            await tick(router, clock, 60)
        retried = sum(s.counters.get("retried", 0) for s in router.outbox.stats().values())
        assert retried >= 5
        assert [h["state"] for h in router.outbox.history()] == ["pending", "pending"]

        handler = RecordingSmtpHandler()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()  # the server is back
        try:
            for _ in range(3):
                await tick(router, clock, 30)
        finally:
            controller.stop()
        assert [h["state"] for h in router.outbox.history()] == ["delivered", "delivered"]
    finally:
        await router.close()
    subjects = sorted(message_from_bytes(m.content)["Subject"] for m in handler.messages)
    assert subjects == [
        "[FIRING:1] HighErrorRate search (critical)",
        "[FIRING:1] HighLatency checkout Bcc: x@y.z (critical)",
    ]
    assert all(m.rcpt_tos == ["oncall@example.com"] for m in handler.messages)
