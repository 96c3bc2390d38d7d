"""Answer windows from hour buckets: rolling windows, calendar months, percentiles.

A window ending at T covers [T − w, T), for every SLI kind; the engine counts
whole minutes, so a T between minute boundaries is answered as the window
ending at the start of T's minute (the minute in progress is not counted yet).
Hour buckets answer whole hours; their minute detail (and, for latency, their
minute sketches) the partial hours at both ends, so windows are exact to the
minute. Calendar months and days follow the configured timezone, to the minute.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from slaengine.config import SloSpec
from slaengine.sli.buckets import (
    HOUR_MS,
    MINUTE_MS,
    MINUTES_PER_HOUR,
    HourBucket,
    WholeHourSlices,
    merged_slices,
    whole_hour_slices,
)
from slaengine.sli.engine import SliEngine
from slaengine.sli.sketch import BinCounts, LatencySketch

ROLLING_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "7d", "30d")


def _reaches_stored(engine: SliEngine, slo: SloSpec, windows: Iterable[tuple[int, int]]) -> bool:
    """Does any window reach an hour the global view holds cold (``?at=`` in the past)?"""
    ranges = list(windows)
    first = min(start for start, _ in ranges) // HOUR_MS
    last = (max(end for _, end in ranges) - 1) // HOUR_MS
    return engine.has_stored_hours(slo.name, first, last)


def minute_floor(ms: int) -> int:
    return ms // MINUTE_MS * MINUTE_MS


def rolling_range(
    window: timedelta, now_ms: int, *, closed_minutes: bool = False
) -> tuple[int, int]:
    """[T − w, T). Minutes are the resolution, so a T between minute boundaries is rounded:
    up for event counts (every event so far counts, so fresh events reach the gauges at once),
    down with ``closed_minutes`` (uptime: a minute is decided only once it is over)."""
    end = minute_floor(now_ms) if closed_minutes else -(-now_ms // MINUTE_MS) * MINUTE_MS
    return end - int(window.total_seconds() * 1000), end


def slo_rolling_range(slo: SloSpec, window: timedelta, now_ms: int) -> tuple[int, int]:
    """``rolling_range`` as ``slo``'s SLI kind answers it."""
    return rolling_range(window, now_ms, closed_minutes=slo.sli == "uptime")


def _overlap(bucket: HourBucket, start_ms: int, end_ms: int) -> tuple[int, int] | None:
    """Minutes [first, end) of the bucket inside [start_ms, end_ms), or None."""
    bucket_start = bucket.hour * HOUR_MS
    lo = max(bucket_start, start_ms)
    hi = min(end_ms, bucket_start + HOUR_MS)
    if lo >= hi:
        return None
    return (lo - bucket_start) // MINUTE_MS, -(-(hi - bucket_start) // MINUTE_MS)


def _hours(
    engine: SliEngine, slo: str, start_ms: int, end_ms: int, sketches: bool = False
) -> list[HourBucket]:
    first, last = start_ms // HOUR_MS, (end_ms - 1) // HOUR_MS
    found: list[HourBucket] = []
    for _, hours in engine.buckets_of(slo):
        if last - first < len(hours):
            found.extend(b for h in range(first, last + 1) if (b := hours.get(h)) is not None)
        else:
            found.extend(b for h, b in hours.items() if first <= h <= last)
    found.extend(engine.stored_buckets(slo, first, last, sketches))  # the view's cold hours
    return found


def _until_now(end_ms: int, now_ms: int | None, *, closed_minutes: bool = False) -> int:
    """Nothing after the evaluation time counts, to the minute (rounded as ``rolling_range``)."""
    if now_ms is None:
        return end_ms
    return min(end_ms, rolling_range(timedelta(0), now_ms, closed_minutes=closed_minutes)[1])


def event_counts(
    engine: SliEngine,
    slo: SloSpec,
    start_ms: int,
    end_ms: int,
    include_late: bool = False,
    now_ms: int | None = None,
) -> tuple[int, int]:
    """(good, total) events with event time in [start_ms, end_ms) (up to ``now_ms``).

    Late events are in their own minute like any other (``include_late`` is kept for callers).
    """
    end_ms = _until_now(end_ms, now_ms)
    good = total = 0
    if end_ms <= start_ms:
        return good, total
    for bucket in _hours(engine, slo.name, start_ms, end_ms):
        bucket_start = bucket.hour * HOUR_MS
        if start_ms <= bucket_start and bucket_start + HOUR_MS <= end_ms:  # a whole hour
            good, total = good + bucket.good, total + bucket.total
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


# (hour, first minute, end minute) -> uptime slices of that part of the hour, for the windows of
# one evaluation (they share their end: the current hour's part is the same for most of them)
PartSlices = dict[tuple[int, int, int], tuple[int, int, int]]


def uptime_counts(
    engine: SliEngine,
    slo: SloSpec,
    start_ms: int,
    end_ms: int,
    now_ms: int | None = None,
    whole_hours: WholeHourSlices | None = None,
    parts: PartSlices | None = None,
) -> tuple[int, int]:
    """(good minutes, counted minutes) of one-minute slices in [start_ms, end_ms) (up to
    ``now_ms``).

    Minutes with requests are judged on their requests. With ``no_traffic: good/bad``
    every minute without requests from the minute of the first request ever seen
    (for this SLO) up to the window end counts as up/down; before it nothing counts.
    ``whole_hours`` (for one SLO, see ``whole_hour_slices``) lets several windows, and
    several evaluations, judge each whole hour once; ``parts`` (one evaluation's, same state)
    each part of an hour.
    """
    end_ms = _until_now(end_ms, now_ms, closed_minutes=True)
    good = bad = traffic = 0
    if end_ms <= start_ms:
        return 0, 0
    ratio = slo.slice_ratio
    for buckets in engine.hours_between(slo.name, start_ms // HOUR_MS, (end_ms - 1) // HOUR_MS):
        span = _overlap(buckets[0], start_ms, end_ms)
        if span is None:
            continue
        if whole_hours is not None and span == (0, MINUTES_PER_HOUR):
            slices = whole_hour_slices(buckets, ratio, whole_hours)
        elif parts is not None:
            part = (buckets[0].hour, *span)
            held = parts.get(part)
            slices = parts[part] = (
                held if held is not None else merged_slices(buckets, ratio, *span)
            )
        else:
            slices = merged_slices(buckets, ratio, *span)
        g, b, t = slices
        good, bad, traffic = good + g, bad + b, traffic + t
    first = engine.first_request_ms(slo.name)
    if slo.no_traffic != "ignore" and first is not None:
        counted_from = minute_floor(max(start_ms, first))
        quiet = max(0, (end_ms - counted_from) // MINUTE_MS - traffic)
        if slo.no_traffic == "good":
            good += quiet
        else:
            bad += quiet
    return good, good + bad


def counts(
    engine: SliEngine,
    slo: SloSpec,
    start_ms: int,
    end_ms: int,
    include_late: bool = False,
    now_ms: int | None = None,
    whole_hours: WholeHourSlices | None = None,
    parts: PartSlices | None = None,
) -> tuple[int, int]:
    if slo.sli == "uptime":
        return uptime_counts(engine, slo, start_ms, end_ms, now_ms, whole_hours, parts)
    return event_counts(engine, slo, start_ms, end_ms, include_late, now_ms)


def rolling_counts(
    engine: SliEngine,
    slo: SloSpec,
    windows: dict[str, tuple[int, int]],
    now_ms: int,
    whole_hours: WholeHourSlices | None = None,
) -> dict[str, tuple[int, int]]:
    """``counts`` of several windows that share their end, reading each hour once.

    Same result as ``counts`` per window: hours are summed from the newest backwards and
    each window is read off at the hour it starts in, adding the part of that hour inside
    it. Uptime (quiet minutes) and fulfillment (overdue orders) are counted per window.
    """
    if (
        slo.sli in ("uptime", "fulfillment")
        or not windows
        or _reaches_stored(engine, slo, windows.values())
    ):
        parts: PartSlices = {}
        return {
            name: counts(
                engine, slo, start, end, now_ms=now_ms, whole_hours=whole_hours, parts=parts
            )
            for name, (start, end) in windows.items()
        }
    end = _until_now(max(end for _, end in windows.values()), now_ms)
    pending = sorted(((start, name) for name, (start, _) in windows.items()), reverse=True)
    series = [hours for _, hours in engine.buckets_of(slo.name)]
    first_hour, last_hour = pending[-1][0] // HOUR_MS, (end - 1) // HOUR_MS
    held = sorted(
        {hour for hours in series for hour in hours if first_hour <= hour <= last_hour},
        reverse=True,
    )

    def part_of_hour(hour: int, start_ms: int) -> tuple[int, int]:
        good = total = 0
        for hours in series:
            bucket = hours.get(hour)
            span = _overlap(bucket, start_ms, end) if bucket is not None else None
            if bucket is not None and span is not None:
                g, t = bucket.counts_between(*span)
                good, total = good + g, total + t
        return good, total

    later_good = later_total = 0  # the hours after the current window's first hour
    found: dict[str, tuple[int, int]] = {}
    next_held = 0
    for start, name in pending:  # the shortest window first
        start_hour = start // HOUR_MS
        while next_held < len(held) and held[next_held] > start_hour:
            g, t = part_of_hour(held[next_held], held[next_held] * HOUR_MS)
            later_good, later_total = later_good + g, later_total + t
            next_held += 1
        if start >= end:
            found[name] = (0, 0)
            continue
        g, t = part_of_hour(start_hour, start)
        found[name] = (later_good + g, later_total + t)
    return found


def merged_sketch(
    engine: SliEngine, slo: SloSpec, start_ms: int, end_ms: int, now_ms: int | None = None
) -> LatencySketch:
    """Latency sketch of exactly the minutes in [start_ms, end_ms) (up to ``now_ms``).

    Minute sketches answer partial hours while kept (two days); an older partial
    hour counts whole when at least half of it is inside the window.
    """
    end_ms = _until_now(end_ms, now_ms)
    merged = LatencySketch()
    if end_ms <= start_ms:
        return merged
    for bucket in _hours(engine, slo.name, start_ms, end_ms, sketches=True):
        span = _overlap(bucket, start_ms, end_ms)
        if span is not None:
            part = bucket.sketch_between(*span)
            if part is not None:
                merged.merge(part)
    return merged


def months_with_data(
    engine: SliEngine, slo: str, zone: ZoneInfo, now_ms: int | None = None
) -> list[tuple[int, int]]:
    """Local months (year, month) holding data, each hour assigned by its minutes' local time.

    For an uptime SLO that counts quiet minutes (``no_traffic: good/bad``), given ``now_ms``,
    every month from its first request on has data, even one without a single request.
    """
    months = set()
    spec = engine.slos.get(slo)
    first_request = engine.first_request_ms(slo)
    if (
        spec is not None
        and spec.no_traffic != "ignore"
        and first_request is not None
        and now_ms is not None
    ):
        since = datetime.fromtimestamp(first_request / 1000, zone)
        until = datetime.fromtimestamp(now_ms / 1000, zone)
        year, number = since.year, since.month
        while (year, number) <= (until.year, until.month):
            months.add((year, number))
            year, number = year + (number == 12), number % 12 + 1
    stored = engine.stored_hours
    for source, hours in engine.buckets_of(slo):
        if stored is not None:  # the global view's cold hours
            months |= stored.months((slo, source), zone)
        for hour, bucket in hours.items():
            first = datetime.fromtimestamp(hour * 3600, zone)
            last = datetime.fromtimestamp(hour * 3600 + 3599, zone)
            if (first.year, first.month) == (last.year, last.month) or bucket.minute_total is None:
                months.add((first.year, first.month))
                months.add((last.year, last.month))
                continue
            for minute, total in enumerate(bucket.minute_total):  # an hour a month starts in
                if total:
                    local = datetime.fromtimestamp(hour * 3600 + minute * 60, zone)
                    months.add((local.year, local.month))
    return sorted(months)


ClosedHourSketches = dict[str, tuple[tuple[tuple[int, int, int], ...], BinCounts]]


def rolling_percentiles(
    engine: SliEngine,
    slo: SloSpec,
    windows: dict[str, tuple[int, int]],
    quantiles: tuple[float, ...],
    closed_hours: ClosedHourSketches | None = None,
) -> dict[str, list[float | None]]:
    """Quantiles of several windows that share their end, adding each hour's sketch once.

    Same result as ``merged_sketch`` per window: the closed hours are summed from the newest
    backwards, and each window is read off at the hour it starts in, adding the newest
    (current) hour up to the end and the part of its first hour inside it. The sums are
    dense bin counts (``BinCounts``: C speed, no dict merges).
    ``closed_hours`` (per SLO, kept by the caller across evaluations): each window's summed
    closed hours, reused while the buckets of those hours are the same objects at the same
    source offsets (a late event or a snapshot the global view puts changes them), so a
    30-day window does not add 720 hour sketches at every evaluation.
    """
    if not windows:
        return {}
    if _reaches_stored(engine, slo, windows.values()):  # cold hours are not kept: per window
        return {
            name: merged_sketch(engine, slo, start, end).quantiles(quantiles)
            for name, (start, end) in windows.items()
        }
    end = max(end for _, end in windows.values())
    pending = sorted(((start, name) for name, (start, _) in windows.items()), reverse=True)
    series = [hours for _, hours in engine.buckets_of(slo.name)]

    def add_part_of_hour(target: BinCounts, hour: int, start_ms: int) -> None:
        for hours in series:
            bucket = hours.get(hour)
            span = _overlap(bucket, start_ms, end) if bucket is not None else None
            parts = bucket.sketches_between(*span) if bucket is not None and span else None
            for part in parts or ():
                target.add(part)

    def buckets_key(closed: list[int]) -> tuple[tuple[int, int, int], ...]:
        return tuple(
            (hour, id(bucket), bucket.offset)
            for hour in closed
            for hours in series
            if (bucket := hours.get(hour)) is not None
        )

    # only hours that hold data are visited: a 30-day window is 720 hours, most of them empty
    first_hour, last_hour = pending[-1][0] // HOUR_MS, (end - 1) // HOUR_MS
    closed = sorted(
        {hour for hours in series for hour in hours if first_hour <= hour < last_hour},
        reverse=True,
    )
    current = BinCounts()  # the newest hour, up to the end
    add_part_of_hour(current, last_hour, last_hour * HOUR_MS)
    merged = BinCounts()  # the closed hours after the current window's first hour
    found: dict[str, list[float | None]] = {}
    next_closed = 0
    for start, name in pending:  # the shortest window first
        start_hour = start // HOUR_MS
        upto = next_closed
        while upto < len(closed) and closed[upto] > start_hour:
            upto += 1
        kept = None
        if closed_hours is not None:
            key = buckets_key(closed[:upto])
            kept = closed_hours.get(name)
            kept = kept if kept is not None and kept[0] == key else None
        if kept is not None:
            merged = kept[1].copy()
        else:
            for hour in closed[next_closed:upto]:
                add_part_of_hour(merged, hour, hour * HOUR_MS)
            if closed_hours is not None:
                closed_hours[name] = (key, merged.copy())
        next_closed = upto
        window = merged.copy()
        if start_hour < last_hour:
            window.add_counts(current)
        if start < end:
            add_part_of_hour(window, start_hour, start)
        found[name] = window.quantiles(quantiles)
    return found
