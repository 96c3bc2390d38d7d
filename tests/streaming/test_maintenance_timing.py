"""When a worker compacts and drops old hours (issue 14): every minute, and during a replay
every hour of event time (at most once a second). Maintained only every minute, a replay
held every hour it passed in that minute (days of event time) with its minute sketches, then
rewrote them all in one burst."""

from __future__ import annotations

from slaengine.sli.buckets import HOUR_MS
from streams.app import maintenance_due


def test_a_replay_is_maintained_every_hour_of_event_time_at_most_once_a_second() -> None:
    assert maintenance_due(100.0, 0.0, 0, 0)  # the first flush
    assert maintenance_due(101.0, 100.0, HOUR_MS, 0)  # an hour of event time in a second
    assert not maintenance_due(100.5, 100.0, 10 * HOUR_MS, 0)  # but not twice a second
    assert not maintenance_due(130.0, 100.0, HOUR_MS - 1, 0)  # live traffic: within the hour
    assert maintenance_due(160.0, 100.0, 5, 0)  # every minute anyway
