"""One hour of one SLO from one source partition: the unit of state and of changelog writes.

Minute detail (60 good/total pairs) answers minute-exact rolling windows and
one-minute uptime slices; after ``MINUTE_DETAIL_DAYS`` a bucket is compacted
to its totals. ``offset`` is the highest source offset already applied to
this bucket: replays after a crash or rebalance are skipped per bucket, which
makes every update idempotent without trusting Kafka's offset commits.
"""

from __future__ import annotations

from typing import Any

from slaengine.sli.sketch import LatencySketch

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
MINUTES_PER_HOUR = 60


class HourBucket:
    __slots__ = (
        "good",
        "hour",
        "late_good",
        "late_total",
        "minute_good",
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
        self.minute_good: list[int] | None = [0] * MINUTES_PER_HOUR
        self.minute_total: list[int] | None = [0] * MINUTES_PER_HOUR
        # events later than the grace period: they count for the month, not for rolling windows
        self.late_good = 0
        self.late_total = 0
        self.sketch: LatencySketch | None = LatencySketch() if with_sketch else None
        self.slices: tuple[int, int, int] | None = None  # uptime (good, bad, traffic) kept on compaction

    @property
    def start_ms(self) -> int:
        return self.hour * HOUR_MS

    def add(self, minute: int, good: bool) -> None:
        self.total += 1
        if self.minute_total is not None and self.minute_good is not None:
            self.minute_total[minute] += 1
            if good:
                self.minute_good[minute] += 1
        if good:
            self.good += 1

    def add_late(self, good: bool) -> None:
        self.late_total += 1
        if good:
            self.late_good += 1

    def counts_between(self, first_minute: int, end_minute: int) -> tuple[int, int]:
        """(good, total) of minutes [first_minute, end_minute) of this hour."""
        if first_minute <= 0 and end_minute >= MINUTES_PER_HOUR:
            return self.good, self.total
        if self.minute_total is None or self.minute_good is None:
            raise ValueError("minute detail was compacted away")
        return sum(self.minute_good[first_minute:end_minute]), sum(self.minute_total[first_minute:end_minute])

    def uptime_slices(self, ratio: float, first_minute: int = 0,
                      end_minute: int = MINUTES_PER_HOUR) -> tuple[int, int, int]:
        """(good slices, bad slices, minutes with traffic) among minutes [first, end)."""
        if self.minute_total is None or self.minute_good is None:
            if self.slices is None:
                return 0, 0, 0
            return self.slices
        good = bad = 0
        for minute in range(first_minute, end_minute):
            total = self.minute_total[minute]
            if total:
                if self.minute_good[minute] >= ratio * total:
                    good += 1
                else:
                    bad += 1
        return good, bad, good + bad

    def compact(self, uptime_ratio: float | None) -> None:
        """Drop minute detail, keeping what month totals and uptime still need."""
        if self.minute_total is None:
            return
        if uptime_ratio is not None:
            self.slices = self.uptime_slices(uptime_ratio)
        self.minute_good = self.minute_total = None

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"h": self.hour, "o": self.offset, "g": self.good, "t": self.total}
        if self.minute_total is not None:
            state["mg"] = self.minute_good
            state["mt"] = self.minute_total
        if self.late_total:
            state["lg"], state["lt"] = self.late_good, self.late_total
        if self.sketch is not None:
            state["sk"] = self.sketch.to_state()
        if self.slices is not None:
            state["sl"] = list(self.slices)
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> HourBucket:
        bucket = cls(int(state["h"]))
        bucket.offset = int(state["o"])
        bucket.good, bucket.total = int(state["g"]), int(state["t"])
        bucket.minute_good = state.get("mg")
        bucket.minute_total = state.get("mt")
        bucket.late_good, bucket.late_total = int(state.get("lg", 0)), int(state.get("lt", 0))
        bucket.sketch = LatencySketch.from_state(state["sk"]) if "sk" in state else None
        bucket.slices = tuple(state["sl"]) if "sl" in state else None  # type: ignore[assignment]
        return bucket
