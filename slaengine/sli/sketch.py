"""Latency percentiles with DDSketch's logarithmic mapping (≤ 1 % relative error), mergeable.

We keep the sketch's bins as a sparse ``{key: count}`` dict instead of a
``ddsketch.DDSketch`` object: adding through the mapping is 4× faster than
``DDSketch.add`` on the hot path, the dict merges by addition across buckets
and workers, and it serialises compactly into the changelog as one flat list
``[zero count, key, count, key, count, ...]`` (built and read back at C speed;
versions before 30 Nov 2026 wrote ``{"z": zero count, "b": {"key": count}}``,
still read).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

import numpy as np
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
    """Bins as a ``{key: count}`` dict while the sketch changes; ``pack`` turns a sketch that
    no longer changes (an hour past its minute sketches) into two sorted arrays, a fifth of
    the memory: 13 months of hours of 50 SLOs are held by the stage-1 engine and again by
    the global view. Any change unpacks it again.

    A sketch's record is a flat list of ints (``to_state``), kept until the sketch changes."""

    __slots__ = ("_bins", "_packed", "_state", "count", "zero_count")

    def __init__(self, bins: dict[int, int] | None = None, zero_count: int = 0) -> None:
        self._bins: dict[int, int] | None = bins if bins is not None else {}
        self._packed: tuple[array[int], array[int]] | None = None  # (sorted keys, counts)
        # to_state's list, kept until the sketch changes: an hour's bucket is written at every
        # flush while its hour is current, and its completed minutes' sketches no longer change
        self._state: list[int] | None = None
        self.zero_count = zero_count
        self.count = zero_count + sum(self._bins.values())

    @property
    def bins(self) -> dict[int, int]:
        """The bins, writable: a packed sketch is unpacked, a sketch read from a record parsed."""
        if self._bins is None:
            if self._packed is not None:
                self._bins = dict(zip(*self._packed, strict=True))
            else:  # read from a record: not parsed until used
                assert self._state is not None
                self._bins = dict(zip(self._state[1::2], self._state[2::2], strict=True))
            self._packed = None
        self._state = None
        return self._bins

    def items(self) -> Iterable[tuple[int, int]]:
        """(key, count) of every bin, read-only (a packed sketch stays packed)."""
        if self._bins is not None:
            return self._bins.items()
        if self._packed is not None:
            return zip(*self._packed, strict=True)
        assert self._state is not None
        return zip(self._state[1::2], self._state[2::2], strict=True)

    @property
    def packed(self) -> bool:
        return self._packed is not None

    def pack(self) -> None:
        if self._bins is None and self._packed is None:
            self._bins = self.bins
        if self._bins is not None:
            keys = sorted(self._bins)
            counts = [self._bins[key] for key in keys]
            wide = counts and max(counts) > 0xFFFF_FFFF  # over 4 billion values in one bin
            self._packed = (array("h", keys), array("q" if wide else "I", counts))
            self._bins = None
            self._state = None

    def add(self, value: float) -> None:
        self.add_key(bin_key(value))

    def add_key(self, key: int | None) -> None:
        """Count one value of bin ``key`` (``bin_key``: computed once for several sketches)."""
        if self._bins is None and self._packed is None:
            self._bins = self.bins  # read from a record: parsed before its list is let go
        self.count += 1
        self._state = None
        if key is None:
            self.zero_count += 1
        else:
            bins = self._bins if self._bins is not None else self.bins
            bins[key] = bins.get(key, 0) + 1

    def merge(self, other: LatencySketch) -> None:
        bins = self.bins
        if not bins:  # into an empty sketch (a window's first part): a copy, at C speed
            self._bins = dict(other.items())
        else:
            for key, count in other.items():
                bins[key] = bins.get(key, 0) + count
        self.zero_count += other.zero_count
        self.count += other.count

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0..1) with DDSketch's rank rule; None when empty."""
        return self.quantiles((q,))[0]

    def quantiles(self, qs: Sequence[float]) -> list[float | None]:
        """``quantile`` of each of ``qs`` (ascending)."""
        counts = BinCounts()
        counts.add(self)
        return counts.quantiles(qs)

    def to_state(self) -> list[int]:
        """``[zero count, key, count, key, count, ...]``; the same list until the sketch changes
        (never modify it). A packed sketch keeps no copy: it is rarely written again."""
        if self._state is not None:
            return self._state
        state = [self.zero_count, *chain.from_iterable(self.items())]
        if self._packed is None:
            self._state = state
        return state

    @classmethod
    def from_state(cls, state: list[int] | dict[str, Any], packed: bool = False) -> LatencySketch:
        """``packed``: for a sketch that no longer changes (``pack``); the bins of a packed
        sketch were written in key order, so its arrays are built without a dict."""
        if isinstance(state, dict):  # as written before 30 Nov 2026
            bins = {int(k): int(v) for k, v in state.get("b", {}).items()}
            sketch = cls(bins, int(state.get("z", 0)))
        else:
            keys, counts = state[1::2], state[2::2]
            if packed and keys == sorted(keys) and len(keys) == len(counts):
                sketch = cls(None, state[0])
                wide = counts and max(counts) > 0xFFFF_FFFF
                sketch._bins, sketch._packed = (
                    None,
                    (array("h", keys), array("q" if wide else "I", counts)),
                )
                sketch.count += sum(counts)
                return sketch
            if not packed and len(keys) == len(counts):
                # the bins stay in the record's list until used: the global view reads every
                # minute sketch of a latency hour again at each flush, a scrape uses a few
                sketch = cls(None, state[0])
                sketch._bins, sketch._state = None, state
                sketch.count += sum(counts)
                return sketch
            sketch = cls(dict(zip(keys, counts, strict=True)), state[0])
        if packed:
            sketch.pack()
        return sketch


_LOWEST_KEY = -230  # bin_key(_MIN_VALUE): the tracked range's bins are -230 … 691
_TRACKED_KEYS = 922


class BinCounts:
    """A sum of sketches as one count per bin, dense (numpy): adding a sketch, adding two sums
    and reading quantiles run at C speed, where merging ``{key: count}`` dicts and sorting the
    bins cost a Python step per bin. Window percentiles (``query.rolling_percentiles``) add a
    window's minute and hour sketches here; ``LatencySketch.quantiles`` reads through it too
    (one rank rule). Bins outside the tracked range (records of older versions) widen it."""

    __slots__ = ("counts", "lowest_key", "zero_count")

    def __init__(self) -> None:
        self.counts = np.zeros(_TRACKED_KEYS, np.int64)  # counts[i]: bin lowest_key + i
        self.lowest_key = _LOWEST_KEY
        self.zero_count = 0

    def copy(self) -> BinCounts:
        other = BinCounts.__new__(BinCounts)
        other.counts, other.lowest_key = self.counts.copy(), self.lowest_key
        other.zero_count = self.zero_count
        return other

    def add(self, sketch: LatencySketch) -> None:
        self.zero_count += sketch.zero_count
        if sketch._bins is not None:
            size = len(sketch._bins)
            if not size:
                return
            keys = np.fromiter(sketch._bins.keys(), np.int64, size)
            counts = np.fromiter(sketch._bins.values(), np.int64, size)
        elif sketch._packed is None:  # read from a record, not parsed
            assert sketch._state is not None
            if len(sketch._state) < 3:
                return
            keys = np.array(sketch._state[1::2], np.int64)
            counts = np.array(sketch._state[2::2], np.int64)
        else:
            packed_keys, packed_counts = sketch._packed
            if not packed_keys:
                return
            keys = np.frombuffer(packed_keys, np.dtype(packed_keys.typecode)).astype(np.int64)
            counts = np.frombuffer(packed_counts, np.dtype(packed_counts.typecode))
        index = keys - self.lowest_key
        if index.min() < 0 or index.max() >= len(self.counts):
            self._widen(int(keys.min()), int(keys.max()))
            index = keys - self.lowest_key
        self.counts[index] += counts  # a sketch's keys are distinct

    def add_counts(self, other: BinCounts) -> None:
        self.zero_count += other.zero_count
        self._widen(other.lowest_key, other.lowest_key + len(other.counts) - 1)
        start = other.lowest_key - self.lowest_key
        self.counts[start : start + len(other.counts)] += other.counts

    def _widen(self, lowest: int, highest: int) -> None:
        """Hold bins ``lowest`` … ``highest`` too."""
        low = min(lowest, self.lowest_key)
        high = max(highest, self.lowest_key + len(self.counts) - 1)
        if low == self.lowest_key and high == self.lowest_key + len(self.counts) - 1:
            return
        counts = np.zeros(high - low + 1, np.int64)
        start = self.lowest_key - low
        counts[start : start + len(self.counts)] = self.counts
        self.counts, self.lowest_key = counts, low

    def quantiles(self, qs: Sequence[float]) -> list[float | None]:
        """The q-quantile of each of ``qs`` (ascending) with DDSketch's rank rule: the value of
        the first bin whose running count (the zero bin first) exceeds q × (count − 1); None
        when empty."""
        assert list(qs) == sorted(qs), "quantiles are read in one ascending pass"
        running = self.counts.cumsum()
        count = self.zero_count + int(running[-1])
        if count == 0:
            return [None] * len(qs)
        running += self.zero_count  # exact integers, compared with each float rank
        ranks = [q * (count - 1) for q in qs]
        indexes = running.searchsorted(ranks, side="right").tolist()
        return [
            0.0 if self.zero_count > rank else float(_MAPPING.value(self.lowest_key + index))
            for rank, index in zip(ranks, indexes, strict=True)
        ]
