"""The outbox and backoff on their own: queue heads, replays, dead letters, durable sequences."""

from __future__ import annotations

import logging
import random
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from slaengine.outbox import BackoffPolicy, Outbox
from slaengine.router.metrics import RouterCollector
from slaengine.router.service import NOTIFICATIONS, OUTBOX_FILE, AlertRouter

from .conftest import CHAT_ROUTING, FakeClock, make_alert
from .conftest import make_notification as notification


def test_only_queue_heads_are_due_and_replays_are_ignored(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", max_age_seconds=3600, codec=NOTIFICATIONS)
    batch = [
        (notification("a", 1), ["chat/chat"]),
        (notification("a", 2, "resolved"), ["chat/chat"]),
        (notification("b", 1), ["chat/chat", "mail/email"]),
    ]
    assert outbox.enqueue(batch, now=0) == 4
    assert outbox.enqueue(batch, now=5) == 0  # same notification ids: nothing new
    due = outbox.due(now=0)
    assert sorted((d.channel, d.item.notification_id) for d in due) == [
        ("chat/chat", "a:1"),
        ("chat/chat", "b:1"),
        ("mail/email", "b:1"),
    ]
    head = next(d for d in due if d.item.group_key == "a")
    assert outbox.mark_failed(head, now=1, error="503", retry_in=10)
    assert [
        d.item.notification_id for d in outbox.due(now=5) if d.item.group_key == "a"
    ] == []  # a:2 waits behind its trigger
    outbox.mark_delivered(replace(head, attempts=1), now=11)
    assert [d.item.notification_id for d in outbox.due(now=11) if d.item.group_key == "a"] == [
        "a:2"
    ]


def test_a_delivery_failing_past_max_age_is_dead(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", max_age_seconds=100, codec=NOTIFICATIONS)
    outbox.enqueue([(notification("a", 1), ["chat/chat"])], now=0)
    (head,) = outbox.due(now=0)
    assert outbox.mark_failed(head, now=90, error="503", retry_in=60)
    assert outbox.due(now=99) == [] and len(outbox.due(now=100)) == 1  # last try at max_age
    assert not outbox.mark_failed(head, now=100, error="503", retry_in=60)
    assert outbox.history()[0]["state"] == "dead"
    assert outbox.stats()["chat/chat"].counters == {"retried": 1, "failed": 1}


def test_sequences_and_deliveries_survive_reopening(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", max_age_seconds=100, codec=NOTIFICATIONS)
    assert [outbox.next_sequence("a") for _ in range(3)] == [1, 2, 3]
    outbox.enqueue([(notification("a", 3), ["chat/chat"])], now=0, state=("groups", [{"x": 1}]))
    outbox.close()
    reopened = Outbox(tmp_path / "o.sqlite3", max_age_seconds=100, codec=NOTIFICATIONS)
    assert reopened.next_sequence("a") == 4
    assert reopened.load_state("groups") == [{"x": 1}]
    assert reopened.due(now=0)[0].item == notification("a", 3)


@pytest.mark.parametrize(
    ("attempt", "retry_after", "low", "high"),
    [(1, None, 0, 1), (3, None, 0, 4), (20, None, 0, 60), (1, 30.0, 30, 30), (8, 5.0, 5, 60)],
    ids=[
        "first retry within the initial backoff",
        "doubling per attempt",
        "capped at max_backoff",
        "Retry-After is honoured",
        "jitter above Retry-After",
    ],
)
def test_backoff_is_capped_exponential_with_full_jitter(attempt, retry_after, low, high) -> None:
    policy = BackoffPolicy(initial=1, cap=60)
    rng = random.Random(1)
    delays = [policy.delay(attempt, retry_after, rng) for _ in range(200)]
    assert all(low <= d <= high for d in delays)
    if retry_after is None:
        assert max(delays) > 0.7 * high and min(delays) < 0.3 * high  # spread, not fixed


def test_a_damaged_entry_is_quarantined_and_the_queues_move_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 16: a payload that no longer decodes used to make every ``due`` raise, so the
    router delivered nothing at all any more."""
    outbox = Outbox(tmp_path / "o.sqlite3", max_age_seconds=3600, codec=NOTIFICATIONS)
    outbox.enqueue(
        [
            (notification("a", 1), ["chat/chat"]),
            (notification("a", 2, "resolved"), ["chat/chat"]),
            (notification("b", 1), ["chat/chat"]),
        ],
        now=0,
    )
    outbox._db.execute(
        "UPDATE deliveries SET payload = '{\"receiver\": 1}' WHERE notification_id = 'a:1'"
    )
    with caplog.at_level(logging.ERROR):
        due = outbox.due(now=0)
    assert sorted(d.item.notification_id for d in due) == ["a:2", "b:1"]
    assert [(h["notification_id"], h["state"]) for h in outbox.history()] == [
        ("a:1", "damaged"),
        ("a:2", "pending"),
        ("b:1", "pending"),
    ]
    assert outbox.damaged == 1 and outbox.stats()["chat/chat"].counters == {"damaged": 1}
    assert "damaged notification outbox entry" in caplog.text
    registry = CollectorRegistry()
    registry.register(RouterCollector(outbox, FakeClock()))
    assert (
        registry.get_sample_value(
            "slaengine_alert_deliveries_damaged_total", {"receiver": "chat", "integration": "chat"}
        )
        == 1
    )
    assert [d.item.notification_id for d in outbox.pending(now=0)] == ["a:2", "b:1"]


async def test_a_router_starts_on_a_damaged_outbox_file(
    write_config, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 16: a file that is no longer a database used to stop the router from starting."""
    config = write_config(CHAT_ROUTING % "http://127.0.0.1:9/hook")
    (tmp_path / OUTBOX_FILE).write_bytes(b"\x00" * 8192)
    with caplog.at_level(logging.ERROR):
        router = AlertRouter(config, tmp_path, {}, clock=FakeClock())
    try:
        assert "damaged notification outbox file" in caplog.text
        [kept] = tmp_path.glob(f"{OUTBOX_FILE}.damaged-*")
        assert kept.read_bytes() == b"\x00" * 8192
        await router.receive(make_alert(service="api"))  # and it routes
        assert router.outbox.load_state("groups")
    finally:
        await router.close()
