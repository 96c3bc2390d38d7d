"""Incident timelines (pure) and the durable incident log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slaengine.pagerduty.incidents import IncidentLog, build_timelines, summarize_response
from slaengine.pagerduty.webhook import IncidentEvent

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def event(
    event_type: str,
    minutes: float,
    incident: str = "PI1",
    event_id: str | None = None,
    key: str = "route/checkout",
) -> IncidentEvent:
    return IncidentEvent(
        event_id=event_id or f"{incident}-{event_type}-{minutes}",
        event_type=f"incident.{event_type}",
        occurred_at=T0 + timedelta(minutes=minutes),
        incident_id=incident,
        incident_key=key,
        title="checkout errors",
        urgency="high",
        service_name="checkout",
    )


def test_timeline_measures_from_trigger_to_first_ack_and_last_resolve():
    events = [
        event("resolved", 50),
        event("acknowledged", 7),
        event("triggered", 0),
        event("escalated", 5),
        event("acknowledged", 20),
        event("resolved", 45),
    ]
    [timeline] = build_timelines(events)
    assert timeline.time_to_acknowledge == timedelta(minutes=7)
    assert timeline.time_to_resolve == timedelta(minutes=50)
    assert timeline.escalations == 1


def test_redelivered_events_count_once():
    escalated = event("escalated", 5, event_id="same")
    [timeline] = build_timelines([event("triggered", 0), escalated, escalated])
    assert timeline.escalations == 1
    assert timeline.time_to_acknowledge is None and timeline.time_to_resolve is None


def test_without_a_trigger_no_durations_are_claimed():
    [timeline] = build_timelines([event("acknowledged", 3), event("resolved", 9)])
    assert timeline.triggered_at is None
    assert timeline.time_to_acknowledge is None and timeline.time_to_resolve is None


def test_response_summary_averages_over_incidents_that_reached_each_state():
    events = [
        event("triggered", 0, "A"),
        event("acknowledged", 4, "A"),
        event("resolved", 30, "A"),
        event("triggered", 60, "B"),
        event("acknowledged", 68, "B"),
        event("triggered", 90, "C"),
    ]
    stats = summarize_response(build_timelines(events))
    assert (stats.incidents, stats.acknowledged, stats.resolved) == (3, 2, 1)
    assert stats.mean_time_to_acknowledge == timedelta(minutes=6)
    assert stats.mean_time_to_resolve == timedelta(minutes=30)


def test_incident_log_survives_a_restart_and_ignores_duplicates(tmp_path):
    log = IncidentLog.in_data_dir(tmp_path)
    assert log.record(event("triggered", 0)) is True
    assert log.record(event("acknowledged", 3)) is True
    assert log.record(event("acknowledged", 3)) is False
    log.close()

    reopened = IncidentLog.in_data_dir(tmp_path)
    [timeline] = reopened.timelines()
    assert timeline.time_to_acknowledge == timedelta(minutes=3)
    assert timeline.incident_key == "route/checkout"
    reopened.close()


def test_incident_log_selects_incidents_by_trigger_month(tmp_path):
    log = IncidentLog(tmp_path / "log.sqlite3")
    for minutes, incident in ((-3 * 24 * 60, "FEB"), (0, "MAR"), (29 * 24 * 60, "APR")):
        log.record(event("triggered", minutes, incident))
    march = log.timelines(
        since=datetime(2025, 3, 1, tzinfo=UTC), until=datetime(2025, 4, 1, tzinfo=UTC)
    )
    assert [t.incident_id for t in march] == ["MAR"]
    assert [e.incident_id for e in log.events(["APR"])] == ["APR"]
    log.close()
