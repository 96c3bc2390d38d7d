"""Notification → Events API v2 event (pure)."""

from __future__ import annotations

import pytest

from slaengine.pagerduty.dev_events import validate_event
from slaengine.pagerduty.events_payload import (
    SUMMARY_LIMIT,
    build_event,
    dedup_key_for,
    map_severity,
    truncate_summary,
)

ROUTING_KEY = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "ours, theirs",
    [
        ("critical", "critical"),
        ("page", "critical"),
        ("error", "error"),
        ("warning", "warning"),
        ("info", "info"),
        ("WARNING", "warning"),
        ("bogus", "warning"),
    ],
    ids=[
        "critical stays critical",
        "page becomes critical",
        "error stays error",
        "warning stays warning",
        "info stays info",
        "case does not matter",
        "unknown severities fall back to warning",
    ],
)
def test_severity_mapping(ours, theirs):
    assert map_severity(ours) == theirs


def test_long_summaries_are_cut_to_the_limit_with_an_ellipsis():
    cut = truncate_summary("x" * 5000)
    assert len(cut) == SUMMARY_LIMIT
    assert cut.endswith("…")
    assert truncate_summary("short") == "short"
    assert truncate_summary("y" * SUMMARY_LIMIT) == "y" * SUMMARY_LIMIT


def test_an_overlong_summary_annotation_still_yields_a_valid_event(make_notification, make_alert):
    alert = make_alert(annotations={"summary": "z" * 3000})
    event = build_event(make_notification(alert))
    assert len(event["payload"]["summary"]) == SUMMARY_LIMIT
    assert validate_event({**event, "routing_key": ROUTING_KEY}) == []


def test_group_takes_the_worst_severity_and_counts_alerts(make_notification, make_alert):
    alerts = (
        make_alert(severity="warning", pod="a"),
        make_alert(severity="page", pod="b"),
        make_alert(severity="info", pod="c", value=None),
    )
    event = build_event(make_notification(*alerts, occurrences=3))
    payload = event["payload"]
    assert payload["severity"] == "critical"
    details = payload["custom_details"]
    assert (details["alert_count"], details["occurrences"]) == (3, 3)
    assert len(details["values"]) == 2  # the alert without a value contributes none
    assert details["labels"] == {"alertname": "HighErrorRate", "service": "checkout"}


def test_slo_label_becomes_the_group(make_notification, make_alert):
    event = build_event(make_notification(make_alert(slo="checkout-availability")))
    assert event["payload"]["group"] == "checkout-availability"
    assert event["payload"]["class"] == "HighErrorRate"


def test_without_annotations_the_summary_names_the_group(make_notification, make_alert):
    event = build_event(make_notification(make_alert(annotations={})))
    assert event["payload"]["summary"] == "[HighErrorRate] 1 alert(s) firing"
    assert "links" not in event


def test_resolved_notifications_become_resolve_events(make_notification, make_alert):
    event = build_event(make_notification(make_alert(status="resolved"), status="resolved"))
    assert event == {"event_action": "resolve", "dedup_key": "route/checkout"}


def test_dedup_keys_longer_than_255_are_hashed_stably():
    long_key = "route/" + "k" * 400
    assert dedup_key_for(long_key) == dedup_key_for(long_key)
    assert len(dedup_key_for(long_key)) <= 255
    assert dedup_key_for(long_key) != dedup_key_for(long_key + "x")
    assert dedup_key_for("route/checkout") == "route/checkout"
