"""Inhibition (shipped default rules) and silences, including expiry and persistence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from slaengine.alerts import Alert, Notification
from slaengine.router.config import DEFAULT_ROUTING_FILE, load_routing_config
from slaengine.router.dispatcher import AlertDispatcher
from slaengine.router.silences import InvalidSilenceError, SilenceNotFoundError, SilenceStore

from .conftest import T0, make_alert


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def sequence_counter():
    counts: dict[str, int] = {}

    def next_sequence(key: str) -> int:
        counts[key] = counts.get(key, 0) + 1
        return counts[key]

    return next_sequence


def default_dispatcher(silences: SilenceStore | None = None) -> AlertDispatcher:
    return AlertDispatcher(
        load_routing_config(DEFAULT_ROUTING_FILE), silences or SilenceStore(), sequence_counter()
    )


def step(dispatcher: AlertDispatcher, start: int, until: int) -> list[Notification]:
    return [n for s in range(start, until + 1, 10) for n in dispatcher.flush_due(at(s))]


PAGE_BURN = make_alert(
    "SloErrorBudgetBurn", severity="critical", service="checkout", slo="availability", window="1h"
)
TICKET_BURN = make_alert(
    "SloErrorBudgetBurn", severity="warning", service="checkout", slo="availability", window="1d"
)
OTHER_SLO_TICKET = make_alert(
    "SloErrorBudgetBurn", severity="warning", service="checkout", slo="latency", window="1d"
)


@pytest.mark.parametrize(
    ("source", "target", "muted"),
    [
        (PAGE_BURN, TICKET_BURN, True),
        (PAGE_BURN, OTHER_SLO_TICKET, False),
        (
            make_alert("ServiceDown", severity="critical", service="checkout"),
            make_alert("HighLatency", severity="warning", service="checkout"),
            True,
        ),
        (
            make_alert("ServiceDown", severity="critical", service="search"),
            make_alert("HighLatency", severity="warning", service="checkout"),
            False,
        ),
        (
            Alert(
                labels={
                    "alertname": "B",
                    "severity": "critical",
                    "sloth_severity": "page",
                    "sloth_id": "checkout-availability",
                },
                status="firing",
                starts_at=T0,
            ),
            Alert(
                labels={
                    "alertname": "B",
                    "severity": "warning",
                    "sloth_severity": "ticket",
                    "sloth_id": "checkout-availability",
                },
                status="firing",
                starts_at=T0,
            ),
            True,
        ),
    ],
    ids=[
        "a page-level burn alert mutes the ticket-level one of the same SLO",
        "it leaves another SLO's ticket alone",
        "a service-down alert mutes that service's latency alerts",
        "but not another service's",
        "Sloth page/ticket alerts of the same sloth_id",
    ],
)
def test_default_inhibit_rules(source: Alert, target: Alert, muted: bool) -> None:
    dispatcher = default_dispatcher()
    dispatcher.receive(source, at(0))
    dispatcher.receive(target, at(0))
    notified = {a.fingerprint for n in step(dispatcher, 0, 60) for a in n.alerts}
    assert source.fingerprint in notified
    assert (target.fingerprint not in notified) is muted


def test_inhibited_alert_notifies_when_the_source_resolves() -> None:
    dispatcher = default_dispatcher()
    dispatcher.receive(PAGE_BURN, at(0))
    dispatcher.receive(TICKET_BURN, at(0))
    early = step(dispatcher, 0, 60)
    assert [(n.receiver, a.labels["window"]) for n in early for a in n.alerts] == [
        ("pagerduty-high", "1h")
    ]
    dispatcher.receive(
        make_alert(
            "SloErrorBudgetBurn",
            status="resolved",
            severity="critical",
            service="checkout",
            slo="availability",
            window="1h",
        ),
        at(100),
    )
    later = step(dispatcher, 100, 700)
    assert sorted((n.receiver, n.status) for n in later) == [
        ("pagerduty-high", "resolved"),
        ("team-warnings", "firing"),
    ]


def test_silenced_alert_is_tracked_and_notifies_after_expiry(tmp_path: Path) -> None:
    store = SilenceStore(tmp_path / "silences.json")
    dispatcher = default_dispatcher(store)
    silence = store.create(['service="checkout"'], at(0), at(600), "alice", "deploy", at(0))
    dispatcher.receive(make_alert("HighLatency", service="checkout"), at(0))
    dispatcher.receive(make_alert("HighLatency", service="search"), at(0))
    during = step(dispatcher, 0, 590)
    assert [n.group_labels["service"] for n in during] == ["search"]
    after = step(dispatcher, 600, 1200)  # silence expired; alert still firing
    assert [n.group_labels["service"] for n in after] == ["checkout"]
    assert (
        SilenceStore(tmp_path / "silences.json").listing(at(1200), True)[0].silence_id
        == silence.silence_id
    )


def test_expiring_a_silence_through_the_store_unmutes_at_once(tmp_path: Path) -> None:
    store = SilenceStore(tmp_path / "silences.json")
    dispatcher = default_dispatcher(store)
    silence = store.create(['alertname="HighLatency"'], at(0), at(7200), "bob", "", at(0))
    dispatcher.receive(make_alert("HighLatency", service="checkout"), at(0))
    assert step(dispatcher, 0, 300) == []
    store.expire(silence.silence_id, at(310))
    assert store.listing(at(311)) == []
    reopened = SilenceStore(tmp_path / "silences.json")
    assert reopened.listing(at(311), include_expired=True)[0].state(at(311)) == "expired"
    assert len(step(dispatcher, 310, 700)) == 1


def test_maintenance_window_from_config(write_config) -> None:
    config = write_config("""
        route: {receiver: chat, group_wait: 0s}
        receivers: [{name: chat, chat: {}}]
        silences:
          - matchers: ['service="db"']
            starts_at: 2025-03-01T12:05:00Z
            ends_at: 2025-03-01T12:10:00Z
            comment: failover test
    """)
    store = SilenceStore(None, config.silences)
    dispatcher = AlertDispatcher(config, store, sequence_counter())
    dispatcher.receive(make_alert("Down", service="db"), at(310))
    assert dispatcher.flush_due(at(310)) == []
    assert len(dispatcher.flush_due(at(610))) == 1
    with pytest.raises(InvalidSilenceError, match=r"routing\.yaml"):
        store.expire("config-0", at(320))


@pytest.mark.parametrize(
    ("matchers", "ends", "author", "reason"),
    [
        ([], 600, "a", "at least one matcher"),
        (['service=~".*"'], 600, "a", "must not match the empty string"),
        (["nonsense"], 600, "a", "invalid matcher"),
        (['service="x"'], -10, "a", "after starts_at"),
        (['service="x"'], 600, " ", "created_by"),
    ],
    ids=[
        "no matchers",
        "matches everything",
        "unparsable matcher",
        "ends before it starts",
        "anonymous",
    ],
)
def test_invalid_silences_are_refused(matchers, ends, author, reason) -> None:
    with pytest.raises(InvalidSilenceError, match=reason):
        SilenceStore().create(matchers, at(0), at(ends), author, "", at(0))


def test_unknown_silence_cannot_be_expired() -> None:
    with pytest.raises(SilenceNotFoundError):
        SilenceStore().expire("nope", at(0))
