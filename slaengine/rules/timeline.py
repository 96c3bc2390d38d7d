"""Per-minute (good, total) timelines and an in-memory ``SliSource`` over them.

Used to replay the same traffic through the evaluator and through promtool:
a minute's events count in every window whose trailing range contains the
minute's end, which is what ``rate()`` over per-minute counter samples sees.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate


@dataclass(frozen=True)
class MinuteCounts:
    at: datetime  # end of the minute
    good: float
    total: float


@dataclass
class TimelineSliSource:
    """``SliSource`` over per-SLO timelines and fixed gauge samples (tests and replays)."""

    timelines: Mapping[str, list[MinuteCounts]]
    gauges: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._times = {slo: [m.at for m in minutes] for slo, minutes in self.timelines.items()}
        # prefix sums keep a 30-day window O(log n) per query
        self._good = {
            slo: list(accumulate((m.good for m in ms), initial=0.0))
            for slo, ms in self.timelines.items()
        }
        self._total = {
            slo: list(accumulate((m.total for m in ms), initial=0.0))
            for slo, ms in self.timelines.items()
        }

    def window_counts(self, slo: str, window: timedelta, now: datetime) -> tuple[float, float]:
        times = self._times.get(slo)
        if not times:
            return 0.0, 0.0
        start = bisect.bisect_right(times, now - window)
        end = bisect.bisect_right(times, now)
        good, total = self._good[slo], self._total[slo]
        return good[end] - good[start], total[end] - total[start]

    def gauge_samples(self, metric: str) -> list[tuple[dict[str, str], float]]:
        return list(self.gauges.get(metric, []))


def build_timeline(
    start: datetime, phases: Iterable[tuple[int, float, float]]
) -> list[MinuteCounts]:
    """``[(minutes, good_per_minute, total_per_minute), ...]`` -> consecutive minutes from
    ``start``."""
    out: list[MinuteCounts] = []
    at = start
    for minutes, good, total in phases:
        for _ in range(minutes):
            out.append(MinuteCounts(at, good, total))
            at += timedelta(minutes=1)
    return out
