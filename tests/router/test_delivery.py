"""Durable delivery against a real chat webhook on 127.0.0.1, on an injected clock:
retry storms, restarts mid-delivery, dead letters, ordering and no duplicates."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from slaengine.router.metrics import RouterCollector
from slaengine.router.senders import build_senders
from slaengine.router.service import AlertRouter

from .conftest import CHAT_ROUTING, ChatWebhook, FakeClock, make_alert

SERVICES = [f"svc-{index}" for index in range(6)]


def open_router(
    write_config,
    chat_webhook: ChatWebhook,
    clock: FakeClock,
    data_dir: Path,
    routing: str = CHAT_ROUTING,
) -> AlertRouter:
    config = write_config(routing % chat_webhook.url)
    return AlertRouter(config, data_dir, build_senders(config), clock=clock, rng=random.Random(7))


async def advance(router: AlertRouter, clock: FakeClock, seconds: int, step: int = 5) -> None:
    for _ in range(0, seconds, step):
        clock.advance(step)
        await router.run_pending()


def assert_in_order_once(hook: ChatWebhook) -> dict[str, list[tuple[int, str]]]:
    assert len(hook.ids()) == len(set(hook.ids())), "a notification was delivered twice"
    per_key: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for payload in hook.accepted:
        per_key[payload["group_key"]].append(
            (int(payload["notification_id"].rsplit(":", 1)[1]), payload["status"])
        )
    for key, sent in per_key.items():
        assert [seq for seq, _ in sent] == sorted(seq for seq, _ in sent), f"{key} out of order"
    return per_key


async def test_ten_minute_429_503_storm_then_recovery_delivers_everything_once(
    write_config, chat_webhook: ChatWebhook, clock: FakeClock, tmp_path: Path
) -> None:
    outage_ends = clock.now.timestamp() + 600
    flip = iter(range(10**6))

    def answer(payload: dict[str, Any]) -> tuple[int, dict[str, str]]:
        if clock.now.timestamp() < outage_ends:
            return (429, {"Retry-After": "20"}) if next(flip) % 2 else (503, {})
        return 200, {}

    chat_webhook.answer = answer
    router = open_router(write_config, chat_webhook, clock, tmp_path)
    for service in SERVICES:
        await router.receive(make_alert(service=service))
    await advance(router, clock, 120)
    for service in SERVICES[:3]:  # resolve half while the receiver is still down
        await router.receive(make_alert(service=service, status="resolved"))
    await advance(router, clock, 240)
    for service in SERVICES[:1]:  # one re-fires within the refire window (4 min after resolving)
        await router.receive(make_alert(service=service))
    await advance(router, clock, 900)

    per_key = assert_in_order_once(chat_webhook)
    statuses = sorted(tuple(status for _, status in sent) for sent in per_key.values())
    assert statuses == sorted(
        [("firing", "resolved", "firing")] + [("firing", "resolved")] * 2 + [("firing",)] * 3
    )
    refired = next(p for p in chat_webhook.accepted if p["occurrences"] == 2)
    assert refired["status"] == "firing"
    assert chat_webhook.attempts > len(chat_webhook.accepted) + 20  # the storm really happened
    stats = router.outbox.stats()["chat/chat"]
    assert stats.pending == 0 and stats.counters["delivered"] == len(chat_webhook.accepted)
    assert stats.counters["retried"] == chat_webhook.attempts - len(chat_webhook.accepted)
    await router.close()


async def test_graceful_restart_mid_delivery_loses_and_repeats_nothing(
    write_config, chat_webhook: ChatWebhook, clock: FakeClock, tmp_path: Path
) -> None:
    chat_webhook.delay = 0.02  # each request takes real time: close() finds some in flight
    chat_webhook.answer = lambda payload: (
        (503, {}) if clock.now.timestamp() % 120 < 60 else (200, {})
    )
    router = open_router(write_config, chat_webhook, clock, tmp_path)
    for service in SERVICES:
        await router.receive(make_alert(service=service))
    await advance(router, clock, 40)
    for service in SERVICES:
        await router.receive(make_alert(service=service, status="resolved"))
    clock.advance(300)
    router.start(tick=0.001)
    chat_webhook.arrived.clear()
    await asyncio.wait_for(chat_webhook.arrived.wait(), 5)
    await router.close()  # waits for the in-flight sends, then releases the outbox
    before_restart = len(chat_webhook.accepted)

    reopened = open_router(write_config, chat_webhook, clock, tmp_path)
    await advance(reopened, clock, 1200)
    history = reopened.outbox.history()
    await reopened.close()

    assert 1 <= before_restart < 2 * len(SERVICES)
    per_key = assert_in_order_once(chat_webhook)
    assert sorted(len(sent) for sent in per_key.values()) == [2] * len(SERVICES)
    assert all(sent[-1][1] == "resolved" for sent in per_key.values())
    assert {row["state"] for row in history} == {"delivered"}


async def test_crash_mid_send_redelivers_with_the_same_idempotency_key(
    write_config, chat_webhook: ChatWebhook, clock: FakeClock, tmp_path: Path
) -> None:
    chat_webhook.hold = asyncio.Event()  # the response never reaches the router before it "crashes"
    router = open_router(write_config, chat_webhook, clock, tmp_path)
    await router.receive(make_alert(service="api"))
    clock.advance(31)
    step = asyncio.create_task(router.run_pending())
    while not chat_webhook.accepted:
        await asyncio.sleep(0.001)
    step.cancel()  # what a kill -9 leaves behind: sent, never marked delivered
    chat_webhook.hold.set()
    chat_webhook.hold = None
    router.outbox.close()

    reopened = open_router(write_config, chat_webhook, clock, tmp_path)
    await advance(reopened, clock, 10)
    await reopened.close()
    ids = chat_webhook.ids()
    assert len(ids) == 2 and len(set(ids)) == 1  # at-least-once, deduplicable by the receiver


async def test_alerts_waiting_in_group_wait_survive_a_restart(
    write_config, chat_webhook: ChatWebhook, clock: FakeClock, tmp_path: Path
) -> None:
    router = open_router(write_config, chat_webhook, clock, tmp_path)
    await router.receive(make_alert(service="api"))
    await advance(router, clock, 10)
    await router.close()
    reopened = open_router(write_config, chat_webhook, clock, tmp_path)
    await reopened.receive(make_alert(service="api"))  # replayed by Kafka after the restart
    await advance(reopened, clock, 600)
    await reopened.close()
    assert [p["status"] for p in chat_webhook.accepted] == ["firing"]


DEAD_ROUTING = CHAT_ROUTING.replace("max_age: 1h", "max_age: 10m")


@pytest.mark.parametrize(
    ("status", "attempts_at_least", "attempts_at_most"),
    [(503, 5, 40), (400, 1, 1)],
    ids=[
        "a receiver down longer than max_age: dead after retrying",
        "a receiver rejecting the payload: dead at once",
    ],
)
async def test_dead_notifications_are_counted_and_unblock_their_queue(
    write_config,
    chat_webhook: ChatWebhook,
    clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    status: int,
    attempts_at_least: int,
    attempts_at_most: int,
) -> None:
    chat_webhook.answer = lambda payload: (
        (status, {}) if payload["status"] == "firing" else (200, {})
    )
    router = open_router(write_config, chat_webhook, clock, tmp_path, DEAD_ROUTING)
    registry = CollectorRegistry()
    registry.register(RouterCollector(router.outbox, clock))
    await router.receive(make_alert(service="api"))
    await advance(router, clock, 60)
    labels = {"receiver": "chat", "integration": "chat"}
    waiting = 1 if status == 503 else 0  # a fatal answer is final at once
    assert registry.get_sample_value("slaengine_alert_outbox_depth", labels) == waiting
    assert registry.get_sample_value(
        "slaengine_alert_outbox_oldest_pending_age_seconds", labels
    ) == pytest.approx(60 - 30 if waiting else 0, abs=5)
    await router.receive(make_alert(service="api", status="resolved"))
    await advance(router, clock, 3600)

    assert attempts_at_least <= chat_webhook.attempts - 1 <= attempts_at_most
    assert [p["status"] for p in chat_webhook.accepted] == ["resolved"]
    assert "DEAD NOTIFICATION" in caplog.text
    assert registry.get_sample_value("slaengine_alert_deliveries_failed_total", labels) == 1
    assert registry.get_sample_value("slaengine_alert_deliveries_total", labels) == 1
    assert registry.get_sample_value("slaengine_alert_outbox_depth", labels) == 0
    await router.close()
