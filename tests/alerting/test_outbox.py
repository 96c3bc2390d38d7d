"""The outbox and backoff on their own: queue heads, replays, dead letters, durable sequences."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from slaengine.alerting.delivery import BackoffPolicy
from slaengine.alerting.outbox import Outbox

from .conftest import make_notification as notification


def test_only_queue_heads_are_due_and_replays_are_ignored(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", max_age_seconds=3600)
    batch = [(notification("a", 1), ["chat/chat"]), (notification("a", 2, "resolved"), ["chat/chat"]),
             (notification("b", 1), ["chat/chat", "mail/email"])]
    assert outbox.enqueue(batch, now=0) == 4
    assert outbox.enqueue(batch, now=5) == 0  # same notification ids: nothing new
    due = outbox.due(now=0)
    assert sorted((d.channel, d.notification.notification_id) for d in due) == [
        ("chat/chat", "a:1"), ("chat/chat", "b:1"), ("mail/email", "b:1")]
    head = next(d for d in due if d.notification.group_key == "a")
    assert outbox.mark_failed(head, now=1, error="503", retry_in=10)
    assert [d.notification.notification_id for d in outbox.due(now=5)
            if d.notification.group_key == "a"] == []  # a:2 waits behind its trigger
    outbox.mark_delivered(replace(head, attempts=1), now=11)
    assert [d.notification.notification_id for d in outbox.due(now=11)
            if d.notification.group_key == "a"] == ["a:2"]


def test_a_delivery_failing_past_max_age_is_dead(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", max_age_seconds=100)
    outbox.enqueue([(notification("a", 1), ["chat/chat"])], now=0)
    (head,) = outbox.due(now=0)
    assert outbox.mark_failed(head, now=90, error="503", retry_in=60)
    assert outbox.due(now=99) == [] and len(outbox.due(now=100)) == 1  # last try at max_age
    assert not outbox.mark_failed(head, now=100, error="503", retry_in=60)
    assert outbox.history()[0]["state"] == "dead"
    assert outbox.stats()["chat/chat"].counters == {"retried": 1, "failed": 1}


def test_sequences_and_deliveries_survive_reopening(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", max_age_seconds=100)
    assert [outbox.next_sequence("a") for _ in range(3)] == [1, 2, 3]
    outbox.enqueue([(notification("a", 3), ["chat/chat"])], now=0, state=("groups", [{"x": 1}]))
    outbox.close()
    reopened = Outbox(tmp_path / "o.sqlite3", max_age_seconds=100)
    assert reopened.next_sequence("a") == 4
    assert reopened.load_state("groups") == [{"x": 1}]
    assert reopened.due(now=0)[0].notification == notification("a", 3)


@pytest.mark.parametrize(("attempt", "retry_after", "low", "high"), [
    (1, None, 0, 1), (3, None, 0, 4), (20, None, 0, 60), (1, 30.0, 30, 30), (8, 5.0, 5, 60)],
    ids=["first retry within the initial backoff", "doubling per attempt",
         "capped at max_backoff", "Retry-After is honoured", "jitter above Retry-After"])
def test_backoff_is_capped_exponential_with_full_jitter(attempt, retry_after, low, high) -> None:
    policy = BackoffPolicy(initial=1, cap=60)
    rng = random.Random(1)
    delays = [policy.delay(attempt, retry_after, rng) for _ in range(200)]
    assert all(low <= d <= high for d in delays)
    if retry_after is None:
        assert max(delays) > 0.7 * high and min(delays) < 0.3 * high  # spread, not fixed
