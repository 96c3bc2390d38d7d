"""Group timing, dedup and re-fire counting, driven by explicit ``now`` values."""

from __future__ import annotations

from datetime import timedelta

import pytest

from slaengine.alerts import Alert, Notification
from slaengine.router.dispatcher import AlertDispatcher
from slaengine.router.silences import SilenceStore

from .conftest import T0, make_alert

ROUTING = """
    global: {refire_window: 5m}
    route:
      receiver: chat
      group_by: [alertname, service]
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 4h
    receivers:
      - {name: chat, chat: {}}
"""


class Counter:
    def __init__(self) -> None:
        self.last: dict[str, int] = {}

    def __call__(self, key: str) -> int:
        self.last[key] = self.last.get(key, 0) + 1
        return self.last[key]


@pytest.fixture
def dispatcher(write_config) -> AlertDispatcher:
    return AlertDispatcher(write_config(ROUTING), SilenceStore(), Counter())


def play(
    dispatcher: AlertDispatcher,
    events: dict[int, Alert],
    until: int,
    start: int = 0,
    step: int = 10,
) -> list[Notification]:
    """Step time from ``start`` to ``until``: file each event at its second, then flush."""
    out = []
    for second in range(start, until + 1, step):
        for when in [w for w in events if second - step < w <= second or w == second == start]:
            dispatcher.receive(events[when], at(when))
        out.extend(dispatcher.flush_due(at(second)))
    return out


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def test_group_wait_batches_alerts_then_repeats_after_repeat_interval(dispatcher) -> None:
    dispatcher.receive(make_alert(service="api", instance="a"), at(0))
    dispatcher.receive(make_alert(service="api", instance="b"), at(20))
    assert dispatcher.flush_due(at(29)) == []
    first = dispatcher.flush_due(at(30))
    assert len(first) == 1 and len(first[0].alerts) == 2 and first[0].status == "firing"
    assert first[0].group_labels == {"alertname": "HighLatency", "service": "api"}
    assert "instance" not in first[0].common_labels
    quiet = [n for s in range(40, 4 * 3600, 60) for n in dispatcher.flush_due(at(s))]
    assert quiet == []  # nothing changed before repeat_interval
    repeated = [n for s in range(4 * 3600, 4 * 3600 + 600, 60) for n in dispatcher.flush_due(at(s))]
    assert [n.sequence for n in repeated] == [2]


def test_a_new_alert_in_a_notified_group_waits_for_group_interval(dispatcher) -> None:
    dispatcher.receive(make_alert(service="api", instance="a"), at(0))
    assert len(dispatcher.flush_due(at(30))) == 1
    dispatcher.receive(make_alert(service="api", instance="b"), at(60))
    assert dispatcher.flush_due(at(329)) == []
    update = dispatcher.flush_due(at(330))
    assert len(update) == 1 and len(update[0].alerts) == 2


def test_duplicate_firing_then_resolve_gives_one_trigger_and_one_resolve(dispatcher) -> None:
    firing, resolved = make_alert(service="api"), make_alert(service="api", status="resolved")
    sent = play(dispatcher, {0: firing, 5: firing, 100: firing, 400: resolved}, until=3600)
    assert [(n.status, n.sequence) for n in sent] == [("firing", 1), ("resolved", 2)]
    assert len({n.group_key for n in sent}) == 1
    assert sent[1].alerts[0].status == "resolved"


def test_a_resolve_before_the_first_notification_tells_nobody(dispatcher) -> None:
    sent = play(
        dispatcher,
        {0: make_alert(service="api"), 10: make_alert(service="api", status="resolved")},
        until=600,
    )
    assert sent == []


def test_refire_within_window_is_the_same_incident(dispatcher) -> None:
    firing, resolved = make_alert(service="api"), make_alert(service="api", status="resolved")
    first = play(dispatcher, {0: firing, 60: resolved}, until=400)
    second = play(dispatcher, {340: firing}, start=340, until=900)  # 4m40s after resolving
    assert [n.status for n in first] == ["firing", "resolved"]
    assert [(n.status, n.occurrences) for n in second] == [("firing", 2)]
    assert second[0].group_key == first[0].group_key and second[0].sequence == 3


def test_refire_after_the_window_is_a_new_incident(dispatcher) -> None:
    firing, resolved = make_alert(service="api"), make_alert(service="api", status="resolved")
    play(dispatcher, {0: firing, 60: resolved}, until=400)
    later = play(dispatcher, {1000: firing}, start=1000, until=1400)
    assert [(n.status, n.occurrences) for n in later] == [("firing", 1)]


def test_resolve_of_an_alert_never_seen_firing_is_ignored(dispatcher) -> None:
    sent = play(
        dispatcher,
        {
            0: make_alert(service="api", status="resolved"),
            10: make_alert(service="api", status="pending"),
        },
        until=600,
    )
    assert sent == []


def test_state_survives_a_snapshot_round_trip(write_config, dispatcher) -> None:
    dispatcher.receive(make_alert(service="api"), at(0))
    assert len(dispatcher.flush_due(at(30))) == 1
    dispatcher.receive(make_alert(service="api", status="resolved"), at(40))
    reborn = AlertDispatcher(write_config(ROUTING), SilenceStore(), Counter())
    reborn.restore(dispatcher.snapshot())
    resolved = reborn.flush_due(at(330))
    assert [(n.status, len(n.alerts)) for n in resolved] == [("resolved", 1)]
