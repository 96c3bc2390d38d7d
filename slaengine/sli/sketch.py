"""Latency percentiles with DDSketch's logarithmic mapping (≤ 1 % relative error), mergeable.

We keep the sketch's bins as a sparse ``{key: count}`` dict instead of a
``ddsketch.DDSketch`` object: adding through the mapping is 4× faster than
``DDSketch.add`` on the hot path, the dict merges by addition across buckets
and workers, and it serialises compactly into the changelog.
"""

from __future__ import annotations

import math
from typing import Any

from ddsketch.mapping import LogarithmicMapping

RELATIVE_ACCURACY = 0.01
_MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
# The tracked range bounds a sketch to ~930 bins whatever a producer sends: latencies under
# 10 µs count as 0, those over 10⁶ ms (16.7 min) as 10⁶ ms. Good/bad is decided on the exact value.
_MIN_VALUE = 0.01
MAX_VALUE = 1_000_000.0
# LogarithmicMapping.key, inlined with the same float operations (the hot path's largest cost)
_MULTIPLIER = _MAPPING._multiplier
_OFFSET = _MAPPING._offset
_log, _ceil = math.log, math.ceil


def bin_key(value: float) -> int | None:
    """The sketch bin of a value; None for the zero bin (below the tracked range)."""
    if value < _MIN_VALUE:
        return None
    return int(_ceil(_log(min(value, MAX_VALUE), 2) * _MULTIPLIER) + _OFFSET)


class LatencySketch:
    __slots__ = ("bins", "count", "zero_count")

    def __init__(self, bins: dict[int, int] | None = None, zero_count: int = 0) -> None:
        self.bins: dict[int, int] = bins if bins is not None else {}
        self.zero_count = zero_count
        self.count = zero_count + sum(self.bins.values())

    def add(self, value: float) -> None:
        self.add_key(bin_key(value))

    def add_key(self, key: int | None) -> None:
        """Count one value of bin ``key`` (``bin_key``: computed once for several sketches)."""
        self.count += 1
        if key is None:
            self.zero_count += 1
        else:
            self.bins[key] = self.bins.get(key, 0) + 1

    def merge(self, other: LatencySketch) -> None:
        bins = self.bins
        if not bins:  # into an empty sketch (a window's first part): a copy, at C speed
            self.bins = dict(other.bins)
        else:
            for key, count in other.bins.items():
                bins[key] = bins.get(key, 0) + count
        self.zero_count += other.zero_count
        self.count += other.count

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0..1) with DDSketch's rank rule; None when empty."""
        if self.count == 0:
            return None
        rank = q * (self.count - 1)
        seen = self.zero_count
        if seen > rank:
            return 0.0
        for key in sorted(self.bins):
            seen += self.bins[key]
            if seen > rank:
                return float(_MAPPING.value(key))
        return float(_MAPPING.value(max(self.bins)))

    def to_state(self) -> dict[str, Any]:
        return {"z": self.zero_count, "b": {str(k): v for k, v in self.bins.items()}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LatencySketch:
        return cls({int(k): int(v) for k, v in state.get("b", {}).items()}, int(state.get("z", 0)))
