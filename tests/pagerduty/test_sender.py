"""PagerDutySender against the local contract server, through the real pagerduty client."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from slaengine.errors import ConfigError, FatalDeliveryError, RetryableDeliveryError
from slaengine.pagerduty.config import EventsSettings
from slaengine.pagerduty.sender import PagerDutySender

ROUTING_KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
async def sender(pagerduty_server):
    sender = PagerDutySender(ROUTING_KEY, pagerduty_server.base_url, timeout=2.0)
    yield sender
    await sender.aclose()


def alerts_of(server):
    return list(server.state.ledger.alerts.values())


async def test_firing_notification_reaches_the_server_within_one_second(
    sender, pagerduty_server, make_notification
):
    started = time.perf_counter()
    await sender.send(make_notification())
    elapsed = time.perf_counter() - started

    assert elapsed < 1.0
    [event] = pagerduty_server.state.events_log
    assert event["status"] == 202
    body = event["event"]
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == "route/checkout"
    assert body["routing_key"] == "*" + ROUTING_KEY[-4:]  # the dev server redacts its log
    payload = body["payload"]
    assert payload["summary"] == "[HighErrorRate] checkout error ratio 7% over 5m"
    assert payload["severity"] == "critical"
    assert payload["source"] == "slaengine/checkout"
    assert payload["component"] == "checkout"
    assert payload["class"] == "HighErrorRate"
    assert payload["timestamp"] == "2025-03-03T08:55:00+00:00"
    assert payload["custom_details"]["alert_count"] == 1
    assert [link["text"] for link in body["links"]] == ["Runbook", "Dashboard"]


async def test_refire_updates_the_same_alert(sender, pagerduty_server, make_notification):
    await sender.send(make_notification(sequence=1))
    await sender.send(make_notification(occurrences=2, sequence=2))

    [alert] = alerts_of(pagerduty_server)
    assert alert.count == 2
    assert alert.status == "triggered"
    assert len(pagerduty_server.state.ledger.incidents) == 1


async def test_resolve_resolves_the_alert_and_a_later_fire_opens_a_new_one(
    sender, pagerduty_server, make_notification, make_alert
):
    await sender.send(make_notification())
    await sender.send(
        make_notification(make_alert(status="resolved"), status="resolved", sequence=2)
    )
    [alert] = alerts_of(pagerduty_server)
    assert alert.status == "resolved"
    [incident] = pagerduty_server.state.ledger.incidents.values()
    assert incident.status == "resolved"

    await sender.send(make_notification(sequence=3))
    statuses = sorted(a.status for a in alerts_of(pagerduty_server))
    assert statuses == ["resolved", "triggered"]


@pytest.mark.parametrize(
    "status, retry_after, expected_retry_after",
    [
        (429, 7, 7.0),
        (503, None, None),
        (500, 2.5, 2.5),
    ],
    ids=[
        "429 is retryable and carries Retry-After",
        "503 is retryable",
        "500 is retryable with a fractional Retry-After",
    ],
)
async def test_throttling_and_outages_are_retryable(
    sender, pagerduty_server, dev_call, make_notification, status, retry_after, expected_retry_after
):
    fault = {"status": status, "count": 1, "scope": "events"}
    if retry_after is not None:
        fault["retry_after"] = retry_after
    status_code, _ = await dev_call("POST", "/_dev/faults", fault)
    assert status_code == 201

    started = time.perf_counter()
    with pytest.raises(RetryableDeliveryError) as caught:
        await sender.send(make_notification())
    assert time.perf_counter() - started < 1.0  # the client did not sleep and retry inside
    assert caught.value.retry_after == expected_retry_after
    assert str(status) in str(caught.value)
    assert ROUTING_KEY not in str(caught.value)

    await sender.send(make_notification())  # the outage is over: the outbox's retry works
    assert len(alerts_of(pagerduty_server)) == 1


async def test_real_rate_limit_answers_429_as_retryable(pagerduty_server, clock, make_notification):
    pagerduty_server.state.ledger.rate.limit = 3
    sender = PagerDutySender(ROUTING_KEY, pagerduty_server.base_url)
    for n in range(3):
        await sender.send(make_notification(group_key=f"g{n}"))
    with pytest.raises(RetryableDeliveryError) as caught:
        await sender.send(make_notification(group_key="g3"))
    assert caught.value.retry_after == 60.0
    clock.advance(seconds=61)
    await sender.send(make_notification(group_key="g3"))
    await sender.aclose()


async def test_invalid_event_is_fatal_with_the_servers_message(pagerduty_server, make_notification):
    short_key_sender = PagerDutySender("too-short", pagerduty_server.base_url)
    with pytest.raises(FatalDeliveryError) as caught:
        await short_key_sender.send(make_notification())
    message = str(caught.value)
    assert "400" in message
    assert "Event object is invalid" in message
    assert "Length of 'routing_key' is incorrect (should be 32 characters)" in message
    await short_key_sender.aclose()


async def test_unreachable_server_is_retryable(make_notification):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = PagerDutySender(ROUTING_KEY, f"http://127.0.0.1:{port}", timeout=1.0)
    with pytest.raises(RetryableDeliveryError, match="cannot reach PagerDuty"):
        await sender.send(make_notification())
    await sender.aclose()


async def test_send_does_not_block_the_event_loop(pagerduty_server, sender, make_notification):
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.gather(*(sender.send(make_notification(group_key=f"g{n}")) for n in range(5)))
    task.cancel()
    assert ticks > 5
    assert len(alerts_of(pagerduty_server)) == 5


def test_routing_key_never_appears_in_repr():
    sender = PagerDutySender(ROUTING_KEY, "https://events.pagerduty.com")
    assert ROUTING_KEY not in repr(sender)
    assert "redacted" in repr(sender)
    sender.close()


def test_environment_overrides_config_for_key_and_url():
    settings = EventsSettings(url="https://events.eu.pagerduty.com", routing_key="k" * 32)
    env = {
        "SLAENGINE_PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
        "SLAENGINE_PAGERDUTY_EVENTS_URL": "http://127.0.0.1:8025",
    }
    assert settings.resolved(env) == (ROUTING_KEY, "http://127.0.0.1:8025")
    assert settings.resolved({}) == ("k" * 32, "https://events.eu.pagerduty.com")
    sender = PagerDutySender.from_settings(settings, env)
    assert sender.events_url == "http://127.0.0.1:8025"
    sender.close()


@pytest.mark.parametrize(
    "url",
    ["http://events.example.com", "ftp://127.0.0.1"],
    ids=["plain http off loopback", "not http at all"],
)
def test_insecure_base_urls_are_refused(url):
    with pytest.raises(ConfigError, match="must be https"):
        PagerDutySender(ROUTING_KEY, url)


def test_missing_routing_key_is_a_config_error():
    with pytest.raises(ConfigError, match="SLAENGINE_PAGERDUTY_ROUTING_KEY"):
        PagerDutySender.from_settings(EventsSettings(), env={})


async def test_secrets_stay_out_of_logs(pagerduty_server, dev_call, caplog, make_notification):
    caplog.set_level("DEBUG")
    sender = PagerDutySender(ROUTING_KEY, pagerduty_server.base_url)
    await sender.send(make_notification())
    await dev_call("POST", "/_dev/faults", {"status": 503, "count": 1})
    with pytest.raises(RetryableDeliveryError):
        await sender.send(make_notification())
    await sender.aclose()
    assert caplog.records  # the client and the sender did log
    assert ROUTING_KEY not in caplog.text
