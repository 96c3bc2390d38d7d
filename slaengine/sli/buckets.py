"""One hour of one SLO from one source partition: the unit of state and of changelog writes.

Minute detail (60 good/total pairs) answers minute-exact rolling windows and
one-minute uptime slices; latency SLOs also keep one sketch per minute for
recent hours, so a 5-minute p95 is the p95 of those 5 minutes. Old buckets are
compacted (minute sketches first, then minute counts) by ``SliEngine.maintain``.
``offset`` is the highest source offset already applied to this bucket:
replays after a crash or rebalance are skipped per bucket, which makes every
update idempotent without trusting Kafka's offset commits.

Size of one changelog record: 2 x 60 integers of minute detail plus, for a
latency SLO, one sketch for the hour and at most 60 minute sketches. A sketch
holds at most one bin per 2 % step of its tracked range (10 µs to 10⁶ ms: 921
bins, see slaengine.sli.sketch) and never more bins than requests, so a record
stays below 61 x 921 bins (≈ 650 kB of JSON) even in the worst case, under
Kafka's default 1 MB message limit; typical records are a few kB.
"""

from __future__ import annotations

from array import array
from fractions import Fraction
from typing import Any

from slaengine.sli.sketch import LatencySketch, bin_key

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
MINUTES_PER_HOUR = 60
# minute counts as C ints: 2 x 304 bytes per hour instead of 2 x 536 for lists (about 5,000 hours
# of minute detail per day at 50 SLOs x 4 partitions, for 35 days, in the stage-1 engine and the
# view)
_NO_MINUTES = array("i", bytes(4 * MINUTES_PER_HOUR))


def _minutes(values: list[int] | None = None) -> array[int]:
    return array("i", values) if values is not None else array("i", _NO_MINUTES)


class HourBucket:
    __slots__ = (
        "good",
        "hour",
        "minute_good",
        "minute_sketches",
        "minute_total",
        "offset",
        "sketch",
        "slices",
        "total",
    )

    def __init__(self, hour: int, *, with_sketch: bool = False) -> None:
        self.hour = hour  # hours since the epoch
        self.offset = -1
        self.good = 0
        self.total = 0
        self.minute_good: array[int] | None = _minutes()
        self.minute_total: array[int] | None = _minutes()
        self.sketch: LatencySketch | None = LatencySketch() if with_sketch else None
        # latency SLOs: one sketch per minute with requests, until compacted
        self.minute_sketches: dict[int, LatencySketch] | None = {} if with_sketch else None
        self.slices: tuple[int, int, int] | None = (
            None  # uptime (good, bad, traffic) kept on compaction
        )

    @property
    def start_ms(self) -> int:
        return self.hour * HOUR_MS

    @property
    def has_minutes(self) -> bool:
        return self.minute_total is not None

    def add(self, minute: int, good: bool, count: int = 1) -> None:
        """Count ``count`` events (negative: withdraw a decision that changed) in ``minute``."""
        self.total += count
        if self.minute_total is not None and self.minute_good is not None:
            self.minute_total[minute] += count
            if good:
                self.minute_good[minute] += count
        if good:
            self.good += count

    def add_latency(self, minute: int, latency_ms: float) -> None:
        assert self.sketch is not None
        key = bin_key(latency_ms)
        self.sketch.add_key(key)
        if self.minute_sketches is not None:
            sketch = self.minute_sketches.get(minute)
            if sketch is None:
                sketch = self.minute_sketches[minute] = LatencySketch()
            sketch.add_key(key)

    def counts_between(self, first_minute: int, end_minute: int) -> tuple[int, int]:
        """(good, total) of minutes [first_minute, end_minute) of this hour.

        A compacted hour only knows its totals: a part of it counts whole when it
        covers at least half the hour, else not at all (nearest-hour resolution).
        """
        if first_minute <= 0 and end_minute >= MINUTES_PER_HOUR:
            return self.good, self.total
        if self.minute_total is None or self.minute_good is None:
            if 2 * (end_minute - first_minute) >= MINUTES_PER_HOUR:
                return self.good, self.total
            return 0, 0
        return sum(self.minute_good[first_minute:end_minute]), sum(
            self.minute_total[first_minute:end_minute]
        )

    def sketch_between(self, first_minute: int, end_minute: int) -> LatencySketch | None:
        """Latency sketch of minutes [first, end): minute-exact while minute sketches are kept,
        else the hour's sketch when the part covers at least half the hour (nearest hour)."""
        parts = self.sketches_between(first_minute, end_minute)
        if parts is None or len(parts) == 1:
            return None if parts is None else parts[0]
        merged = LatencySketch()
        for sketch in parts:
            merged.merge(sketch)
        return merged

    def sketches_between(self, first_minute: int, end_minute: int) -> list[LatencySketch] | None:
        """The sketches whose sum is ``sketch_between``'s (not to be modified): the hour's, or
        the minute sketches of the part; None where it has none."""
        if self.sketch is None:
            return None
        if first_minute <= 0 and end_minute >= MINUTES_PER_HOUR:
            return [self.sketch]
        if self.minute_sketches is None:
            return [self.sketch] if 2 * (end_minute - first_minute) >= MINUTES_PER_HOUR else None
        if all(first_minute <= minute < end_minute for minute in self.minute_sketches):
            return [self.sketch]  # the part holds every latency of the hour (the current hour)
        return [
            sketch
            for minute, sketch in self.minute_sketches.items()
            if first_minute <= minute < end_minute
        ]

    def uptime_slices(
        self, ratio: Fraction, first_minute: int = 0, end_minute: int = MINUTES_PER_HOUR
    ) -> tuple[int, int, int]:
        """(good slices, bad slices, minutes with traffic) among minutes [first, end)."""
        if self.minute_total is None or self.minute_good is None:
            if self.slices is None or 2 * (end_minute - first_minute) < MINUTES_PER_HOUR:
                return 0, 0, 0
            return self.slices
        num, den = ratio.numerator, ratio.denominator
        good = bad = 0
        for minute_good, total in zip(
            self.minute_good[first_minute:end_minute],
            self.minute_total[first_minute:end_minute],
            strict=True,
        ):
            if total:
                if (
                    minute_good * den >= num * total
                ):  # good/total >= ratio, exactly (14/25 at 0.56 is up)
                    good += 1
                else:
                    bad += 1
        return good, bad, good + bad

    def compact_sketches(self) -> bool:
        """Drop the minute sketches (the hour's sketch stays); True if something changed."""
        if self.minute_sketches is None:
            return False
        self.minute_sketches = None
        if self.sketch is not None:
            self.sketch.pack()  # the hour no longer changes, but for late events
        return True

    def compact(self, uptime_ratio: Fraction | None) -> None:
        """Drop minute detail, keeping what month totals and uptime still need."""
        self.compact_sketches()
        if self.minute_total is None:
            return
        if uptime_ratio is not None:
            self.slices = self.uptime_slices(uptime_ratio)
        self.minute_good = self.minute_total = None

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"h": self.hour, "o": self.offset, "g": self.good, "t": self.total}
        if self.minute_total is not None:
            state["mg"] = self.minute_good.tolist()  # type: ignore[union-attr]
            state["mt"] = self.minute_total.tolist()
        if self.sketch is not None:
            state["sk"] = self.sketch.to_state()
        if self.minute_sketches is not None:  # int keys: JSON writes them as strings
            state["ms"] = {m: s.to_state() for m, s in self.minute_sketches.items()}
        if self.slices is not None:
            state["sl"] = list(self.slices)
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> HourBucket:
        bucket = cls(int(state["h"]))
        bucket.offset = int(state["o"])
        # "lg"/"lt": late events kept apart by older versions; they count like any other now
        bucket.good = int(state["g"]) + int(state.get("lg", 0))
        bucket.total = int(state["t"]) + int(state.get("lt", 0))
        bucket.minute_good = _minutes(state["mg"]) if "mg" in state else None
        bucket.minute_total = _minutes(state["mt"]) if "mt" in state else None
        bucket.minute_sketches = (
            {int(m): LatencySketch.from_state(s) for m, s in state["ms"].items()}
            if "ms" in state
            else None
        )
        # packed: a compacted hour (most of a restored year)
        packed = bucket.minute_sketches is None
        bucket.sketch = LatencySketch.from_state(state["sk"], packed) if "sk" in state else None
        bucket.slices = tuple(state["sl"]) if "sl" in state else None  # type: ignore[assignment]
        return bucket


def merged_slices(
    buckets: list[HourBucket],
    ratio: Fraction,
    first_minute: int = 0,
    end_minute: int = MINUTES_PER_HOUR,
) -> tuple[int, int, int]:
    """Uptime slices of one hour held by several sources: a minute is judged on all its requests."""
    if len(buckets) == 1:
        return buckets[0].uptime_slices(ratio, first_minute, end_minute)
    if all(b.minute_total is not None for b in buckets):
        merged = HourBucket(buckets[0].hour)
        for bucket in buckets:
            for minute in range(first_minute, end_minute):
                merged.minute_total[minute] += bucket.minute_total[minute]  # type: ignore[index]
                merged.minute_good[minute] += bucket.minute_good[minute]  # type: ignore[index]
        return merged.uptime_slices(ratio, first_minute, end_minute)
    good = bad = traffic = 0
    for bucket in buckets:
        g, b, t = bucket.uptime_slices(ratio, first_minute, end_minute)
        good, bad, traffic = good + g, bad + b, traffic + t
    return good, bad, traffic


# hour -> (its buckets as (object id, source offset), their slices): see whole_hour_slices
WholeHourSlices = dict[int, tuple[tuple[tuple[int, int], ...], tuple[int, int, int]]]


def whole_hour_slices(
    buckets: list[HourBucket], ratio: Fraction, kept: WholeHourSlices | None = None
) -> tuple[int, int, int]:
    """``merged_slices`` of a whole hour, kept in ``kept`` while the hour's buckets are the
    same objects at the same source offsets (a late event moves a bucket's offset, a snapshot
    the global view puts replaces it): /metrics keeps one per uptime SLO across scrapes, so
    the 30-day windows and the lifetime counter judge only the hours that changed."""
    if kept is None:
        return merged_slices(buckets, ratio)
    key = tuple((id(bucket), bucket.offset) for bucket in buckets)
    held = kept.get(buckets[0].hour)
    if held is None or held[0] != key:
        held = kept[buckets[0].hour] = (key, merged_slices(buckets, ratio))
    return held[1]
