"""Hours of the global view that no default read needs, kept as raw records (issue 14).

Every worker's global view holds every (SLO, source partition) series for the whole
retention (13 months): at 50 SLOs and 4 partitions ~1.9 M hour buckets, most of them
decoded for nothing, since every window a scrape or an alert evaluation reads is within the
SLO's minute detail (35 days or the SLO's window + 5 days, which covers the current calendar
month too). An hour bucket past that horizon and compacted (no minute counts) is *cold*:
its changelog record is kept as bytes in a key-value store — a RocksDB in the worker's data
directory, a dict in tests — and indexed by one byte per hour, with the sums the lifetime
counters need. A read that reaches a cold hour (a past month's report, ``?at=`` in the
past) decodes it from the store and does not keep it, as a Kafka Streams GlobalKTable
serves its keys from its local store.

Pure: the store is anything with ``__getitem__``/``__setitem__``/``__delitem__`` on bytes.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator, MutableMapping
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson

from slaengine.calendar import month_range
from slaengine.sli.buckets import HourBucket

SeriesKey = tuple[str, str]  # (slo name, source)
RECENT_BUCKETS = 20_000  # ~ a month of 7 SLOs x 4 partitions; a few MB to tens of MB

# HourBucket.to_state in compact JSON: hour, offset, good, total first, the uptime slices last
_HEAD = re.compile(rb'\{"h":(-?\d+),"o":(-?\d+),"g":(-?\d+),"t":(-?\d+)[,}]')
_SLICES = re.compile(rb'"sl":\[(-?\d+),(-?\d+),(-?\d+)\]\}$')


def is_compacted(raw: bytes) -> bool:
    """A bucket record without minute counts (nor minute sketches), without decoding it."""
    return b'"mt"' not in raw and b'"ms"' not in raw


def _numbers(raw: bytes) -> tuple[int, int, int, int, tuple[int, int, int] | None] | None:
    """(hour, source offset, good, total, uptime slices) read from a compacted record's text,
    without decoding its sketch; None for a record in another shape (older versions' late
    counts), which is decoded instead."""
    head = _HEAD.match(raw)
    if head is None or b'"lg"' in raw or b'"lt"' in raw:
        return None
    hour, offset, good, total = (int(number) for number in head.groups())
    found = _SLICES.search(raw)
    slices = (int(found[1]), int(found[2]), int(found[3])) if found is not None else None
    return hour, offset, good, total, slices


def summary(raw: bytes) -> tuple[int, int, int, int, int]:
    """(source offset, good, total, good slices, minutes with traffic) of a compacted bucket
    record, read without decoding its sketch; a record in another shape is decoded."""
    numbers = _numbers(raw)
    if numbers is None:
        bucket = HourBucket.from_state(orjson.loads(raw))
        good, _, traffic = bucket.slices or (0, 0, 0)
        return bucket.offset, bucket.good, bucket.total, good, traffic
    _, offset, good, total, slices = numbers
    good_slices, _, traffic = slices or (0, 0, 0)
    return offset, good, total, good_slices, traffic


def counts_only(raw: bytes) -> HourBucket:
    """A compacted bucket record as a bucket without its sketch (``summary``'s numbers)."""
    numbers = _numbers(raw)
    if numbers is None:
        bucket = HourBucket.from_state(orjson.loads(raw))
        bucket.sketch = None
        return bucket
    hour, offset, good, total, slices = numbers
    bucket = HourBucket(hour)
    bucket.offset, bucket.good, bucket.total, bucket.slices = offset, good, total, slices
    bucket.minute_good = bucket.minute_total = None
    return bucket


class _HourFlags:
    """Which hours of one series are stored: one byte per hour from ``base``."""

    __slots__ = ("base", "flags")

    def __init__(self, hour: int) -> None:
        self.base = hour
        self.flags = bytearray(1)

    def __contains__(self, hour: int) -> bool:
        index = hour - self.base
        return 0 <= index < len(self.flags) and self.flags[index] == 1

    def set(self, hour: int, value: int) -> None:
        if hour < self.base:
            self.flags[:0] = bytes(self.base - hour)
            self.base = hour
        index = hour - self.base
        if index >= len(self.flags):
            self.flags.extend(bytes(index + 1 - len(self.flags)))
        self.flags[index] = value

    def between(self, first: int, last: int) -> Iterator[int]:
        """Stored hours in [first, last], in order."""
        flags, base = self.flags, self.base
        index = max(0, first - base)
        end = min(len(flags), last - base + 1)
        while index < end:
            index = flags.find(1, index, end)
            if index < 0:
                return
            yield base + index
            index += 1


class StoredHours:
    """The cold hours of an engine's series: raw records in ``store``, one flag per hour and
    per-series sums (good, total, good slices, minutes with traffic) in memory."""

    def __init__(self, store: MutableMapping[bytes, bytes], recent: int = RECENT_BUCKETS) -> None:
        self.store = store
        self.flags: dict[SeriesKey, _HourFlags] = {}
        self.sums: dict[SeriesKey, list[int]] = {}
        self.count = 0
        # the buckets decoded last: a past month is read for its counts, then its percentiles
        self.recent: OrderedDict[tuple[SeriesKey, int], HourBucket] = OrderedDict()
        self.recent_limit = recent

    @staticmethod
    def _key(series: SeriesKey, hour: int) -> bytes:
        return f"{series[0]}|{series[1]}|{hour}".encode()

    def holds(self, series: SeriesKey, hour: int) -> bool:
        flags = self.flags.get(series)
        return flags is not None and hour in flags

    def raw(self, series: SeriesKey, hour: int) -> bytes:
        return bytes(self.store[self._key(series, hour)])

    def add(self, series: SeriesKey, hour: int, raw: bytes) -> None:
        """Store a compacted record of an hour not held (``remove`` a held one first)."""
        self.recent.pop((series, hour), None)
        self.store[self._key(series, hour)] = raw
        flags = self.flags.get(series)
        if flags is None:
            flags = self.flags[series] = _HourFlags(hour)
        flags.set(hour, 1)
        self._count(series, summary(raw), 1)
        self.count += 1

    def remove(self, series: SeriesKey, hour: int) -> None:
        self.recent.pop((series, hour), None)
        key = self._key(series, hour)
        self._count(series, summary(bytes(self.store[key])), -1)
        del self.store[key]
        self.flags[series].set(hour, 0)
        self.count -= 1

    def _count(self, series: SeriesKey, numbers: tuple[int, ...], sign: int) -> None:
        sums = self.sums.setdefault(series, [0, 0, 0, 0])
        for index, number in enumerate(numbers[1:]):
            sums[index] += sign * number

    def hours(self, series: SeriesKey, first: int, last: int) -> Iterator[int]:
        flags = self.flags.get(series)
        return flags.between(first, last) if flags is not None else iter(())

    def any_between(self, series: SeriesKey, first: int, last: int) -> bool:
        return next(self.hours(series, first, last), None) is not None

    def counts_bucket(self, series: SeriesKey, hour: int) -> HourBucket:
        """A stored hour with its counts and uptime slices only (no sketch), read without
        decoding the record: what every count of a past month needs. Not kept."""
        bucket = self.recent.get((series, hour))
        return bucket if bucket is not None else counts_only(self.raw(series, hour))

    def bucket(self, series: SeriesKey, hour: int) -> HourBucket:
        """A stored hour decoded (kept among the ``recent_limit`` decoded last)."""
        # single calls on ``recent`` only: the report scheduler reads from a thread too
        recent = self.recent
        bucket = recent.pop((series, hour), None)
        if bucket is None:
            bucket = HourBucket.from_state(orjson.loads(self.raw(series, hour)))
        recent[(series, hour)] = bucket
        while len(recent) > self.recent_limit:
            try:
                recent.popitem(last=False)
            except KeyError:
                break
        return bucket

    def buckets(
        self, series: SeriesKey, first: int, last: int, sketches: bool = True
    ) -> Iterator[HourBucket]:
        """The stored hours in [first, last] decoded; without ``sketches``: counts only."""
        read = self.bucket if sketches else self.counts_bucket
        for hour in list(self.hours(series, first, last)):
            yield read(series, hour)

    def months(self, series: SeriesKey, zone: ZoneInfo) -> set[tuple[int, int]]:
        """The local months (year, month) holding a stored hour of ``series``."""
        flags = self.flags.get(series)
        if flags is None:
            return set()
        found = set()
        hour, end = flags.base, flags.base + len(flags.flags)
        while hour < end:
            hour = flags.flags.find(1, hour - flags.base) + flags.base
            if hour < flags.base:
                break
            local = datetime.fromtimestamp(hour * 3600, zone)
            found.add((local.year, local.month))
            last = datetime.fromtimestamp(hour * 3600 + 3599, zone)
            found.add((last.year, last.month))
            next_year, next_month = last.year + (last.month == 12), last.month % 12 + 1
            hour = max(hour + 1, month_range(next_year, next_month, zone)[0] // 3_600_000)
        return found

    def every_hour(self, series: SeriesKey) -> Iterator[int]:
        flags = self.flags.get(series)
        if flags is None:
            return iter(())
        return flags.between(flags.base, flags.base + len(flags.flags))

    def keys_of(self, source: str) -> Iterator[tuple[str, int]]:
        """(SLO name, hour) of every stored hour of ``source``."""
        for name, item_source in list(self.flags):
            if item_source == source:
                for hour in self.every_hour((name, source)):
                    yield name, hour

    def held_too(self, name: str, sources: list[str], held: Iterable[int]) -> Iterator[HourBucket]:
        """The cold buckets of ``name`` at hours also ``held`` decoded (by another source):
        rare, since a cold hour is past the horizon where every source compacts its hours."""
        ends = [
            (source, flags.base + len(flags.flags))
            for source in sources
            if (flags := self.flags.get((name, source))) is not None
        ]
        if not ends:
            return
        newest = max(end for _, end in ends)
        old = [hour for hour in held if hour < newest]
        for source, end in ends:
            for hour in old:
                if hour < end and self.holds((name, source), hour):
                    yield self.bucket((name, source), hour)
