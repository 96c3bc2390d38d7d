"""An outbox carried to another process (streams.router writes it to sla.router-state)."""

from __future__ import annotations

import json
from pathlib import Path

from slaengine.outbox import Outbox
from slaengine.router.service import NOTIFICATIONS

from .conftest import make_notification as notification


def test_pending_deliveries_sequences_and_state_move_finished_ones_stay(tmp_path: Path) -> None:
    old = Outbox(tmp_path / "old.sqlite3", max_age_seconds=3600, codec=NOTIFICATIONS)
    assert [old.next_sequence("a") for _ in range(2)] == [1, 2]
    old.enqueue(
        [
            (notification("a", 1), ["chat/chat"]),
            (notification("a", 2, "resolved"), ["chat/chat"]),
            (notification("b", 1), ["pd/pagerduty"]),
        ],
        now=10,
        state=("groups", [{"g": 1}]),
    )
    head_a = next(d for d in old.due(now=10) if d.item.group_key == "a")
    old.mark_delivered(head_a, now=11)
    (head_b,) = [d for d in old.due(now=11) if d.item.group_key == "b"]
    old.mark_failed(head_b, now=12, error="503", retry_in=30)
    carried = json.loads(json.dumps(old.export_portable()))  # as written to Kafka

    new = Outbox(tmp_path / "new.sqlite3", max_age_seconds=3600, codec=NOTIFICATIONS)
    new.import_portable(carried)

    def queue(outbox: Outbox, now: float) -> list[tuple[object, ...]]:
        return [(d.channel, d.item, d.attempts, d.enqueued_at) for d in outbox.due(now)]

    assert (
        queue(new, 12) == queue(old, 12) == [("chat/chat", notification("a", 2, "resolved"), 0, 10)]
    )
    [retried] = [d for d in new.due(now=42) if d.item.group_key == "b"]
    assert (retried.item, retried.attempts, retried.enqueued_at) == (notification("b", 1), 1, 10)
    assert new.next_sequence("a") == 3  # notification ids never repeat on the new owner
    assert new.load_state("groups") == [{"g": 1}]
    assert [h["notification_id"] for h in new.history()] == ["a:2", "b:1"]
