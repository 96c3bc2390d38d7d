"""Answer windows from hour buckets: rolling windows, calendar months, percentiles.

A rolling window W at time ``now`` covers the W/1min minutes ending with the
minute that contains ``now``. Hour buckets answer whole hours; their minute
detail answers the partial hours at both ends, so every window is exact to the
minute. Calendar months follow the configured timezone.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from slaengine.config import SloSpec
from slaengine.sli.buckets import HOUR_MS, MINUTE_MS, HourBucket
from slaengine.sli.engine import SliEngine
from slaengine.sli.sketch import LatencySketch

ROLLING_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "7d", "30d")


def rolling_range(window: timedelta, now_ms: int) -> tuple[int, int]:
    end = (now_ms // MINUTE_MS + 1) * MINUTE_MS
    return end - int(window.total_seconds() * 1000), end


def month_range(year: int, month: int, zone: ZoneInfo) -> tuple[int, int]:
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def day_range(day: date, zone: ZoneInfo) -> tuple[int, int]:
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    end = start + timedelta(days=1)  # wall-clock day; DST days are 23 or 25 h
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def _overlap(bucket: HourBucket, start_ms: int, end_ms: int) -> tuple[int, int] | None:
    """Minutes [first, end) of the bucket inside [start_ms, end_ms), or None."""
    lo = max(start_ms, bucket.start_ms)
    hi = min(end_ms, bucket.start_ms + HOUR_MS)
    if lo >= hi:
        return None
    return (lo - bucket.start_ms) // MINUTE_MS, -(-(hi - bucket.start_ms) // MINUTE_MS)


def _hours(engine: SliEngine, slo: str, start_ms: int, end_ms: int) -> list[HourBucket]:
    first, last = start_ms // HOUR_MS, (end_ms - 1) // HOUR_MS
    found: list[HourBucket] = []
    for _, hours in engine.buckets_of(slo):
        if last - first < len(hours):
            found.extend(b for h in range(first, last + 1) if (b := hours.get(h)) is not None)
        else:
            found.extend(b for h, b in hours.items() if first <= h <= last)
    return found


def event_counts(engine: SliEngine, slo: SloSpec, start_ms: int, end_ms: int,
                 include_late: bool = False, now_ms: int | None = None) -> tuple[int, int]:
    """(good, total) events with event time in [start_ms, end_ms)."""
    good = total = 0
    for bucket in _hours(engine, slo.name, start_ms, end_ms):
        bucket_start = bucket.hour * HOUR_MS
        if start_ms <= bucket_start and bucket_start + HOUR_MS <= end_ms:  # a whole hour
            good, total = good + bucket.good, total + bucket.total
            if include_late:
                good, total = good + bucket.late_good, total + bucket.late_total
            continue
        span = _overlap(bucket, start_ms, end_ms)
        if span is not None:
            g, t = bucket.counts_between(*span)
            good, total = good + g, total + t
    if slo.sli == "fulfillment" and now_ms is not None:
        # orders past their deadline but not yet decided by the watermark count as missed now
        for (name, _), tracker in engine.trackers.items():
            if name == slo.name:
                total += sum(1 for c in tracker.overdue_open(now_ms) if start_ms <= c < end_ms)
    return good, total


def uptime_counts(engine: SliEngine, slo: SloSpec, start_ms: int, end_ms: int,
                  now_ms: int | None = None) -> tuple[int, int]:
    """(good minutes, counted minutes) of one-minute slices in [start_ms, end_ms)."""
    good = bad = 0
    traffic_minutes = 0
    first_traffic: int | None = None
    for bucket in _hours(engine, slo.name, start_ms, end_ms):
        span = _overlap(bucket, start_ms, end_ms)
        if span is None:
            continue
        g, b, t = bucket.uptime_slices(slo.slice_good_ratio, *span)
        good, bad, traffic_minutes = good + g, bad + b, traffic_minutes + t
        if t and (first_traffic is None or bucket.start_ms < first_traffic):
            first_traffic = bucket.start_ms + span[0] * MINUTE_MS
    if slo.no_traffic != "ignore" and first_traffic is not None:
        last = min(end_ms, ((now_ms if now_ms is not None else end_ms) // MINUTE_MS + 1) * MINUTE_MS)
        quiet = max(0, (last - max(start_ms, first_traffic)) // MINUTE_MS - traffic_minutes)
        if slo.no_traffic == "good":
            good += quiet
        else:
            bad += quiet
    return good, good + bad


def counts(engine: SliEngine, slo: SloSpec, start_ms: int, end_ms: int,
           include_late: bool = False, now_ms: int | None = None) -> tuple[int, int]:
    if slo.sli == "uptime":
        return uptime_counts(engine, slo, start_ms, end_ms, now_ms)
    return event_counts(engine, slo, start_ms, end_ms, include_late, now_ms)


def merged_sketch(engine: SliEngine, slo: SloSpec, start_ms: int, end_ms: int) -> LatencySketch:
    """Latency sketch of the hours overlapping [start_ms, end_ms) (hour resolution)."""
    merged = LatencySketch()
    for bucket in _hours(engine, slo.name, start_ms, end_ms):
        if bucket.sketch is not None and _overlap(bucket, start_ms, end_ms) is not None:
            merged.merge(bucket.sketch)
    return merged


def months_with_data(engine: SliEngine, slo: str, zone: ZoneInfo) -> list[tuple[int, int]]:
    months = set()
    for _, hours in engine.buckets_of(slo):
        for hour in hours:
            local = datetime.fromtimestamp(hour * 3600, zone)
            months.add((local.year, local.month))
    return sorted(months)


def rolling_percentiles(engine: SliEngine, slo: SloSpec, windows: dict[str, tuple[int, int]],
                        quantiles: tuple[float, ...]) -> dict[str, list[float | None]]:
    """Quantiles of several windows that share their end, merging each hour's sketch once.

    Same result as ``merged_sketch`` per window: hours overlapping [start, end), merged from
    the newest hour backwards and read off as each window's first hour is reached.
    """
    if not windows:
        return {}
    last = (max(end for _, end in windows.values()) - 1) // HOUR_MS
    pending = sorted(((start // HOUR_MS, name) for name, (start, _) in windows.items()), reverse=True)
    series = [hours for _, hours in engine.buckets_of(slo.name)]
    merged = LatencySketch()
    found: dict[str, list[float | None]] = {}
    hour = last
    while pending:
        for hours in series:
            bucket = hours.get(hour)
            if bucket is not None and bucket.sketch is not None:
                merged.merge(bucket.sketch)
        while pending and pending[0][0] == hour:
            found[pending.pop(0)[1]] = [merged.quantile(q) for q in quantiles]
        hour -= 1
    return found
