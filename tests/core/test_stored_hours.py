"""Cold hours of the global view (slaengine.sli.stored_hours): raw records read without
decoding their sketches, indexed one byte per hour, summed for the lifetime counters."""

from __future__ import annotations

import json
from fractions import Fraction

from slaengine.sli.buckets import HourBucket
from slaengine.sli.stored_hours import StoredHours, is_compacted, summary


def record(bucket: HourBucket) -> bytes:
    return json.dumps(bucket.to_state(), separators=(",", ":")).encode()


def compacted(hour: int, good: int, total: int, *, uptime: bool, sketch: bool) -> HourBucket:
    bucket = HourBucket(hour, with_sketch=sketch)
    for minute in range(total):
        bucket.add(minute % 60, minute < good)
        if sketch:
            bucket.add_latency(minute % 60, 10.0 + minute)
    bucket.offset = 1000 + hour
    bucket.compact(Fraction(9, 10) if uptime else None)
    return bucket


def test_the_summary_read_from_the_raw_record_is_the_decoded_buckets() -> None:
    for uptime, sketch in ((True, False), (False, True), (False, False)):
        bucket = compacted(490_000, 70, 90, uptime=uptime, sketch=sketch)
        raw = record(bucket)
        assert is_compacted(raw)
        decoded = HourBucket.from_state(json.loads(raw))
        slices = decoded.slices or (0, 0, 0)
        expected = (decoded.offset, decoded.good, decoded.total, slices[0], slices[2])
        assert summary(raw) == expected
    # an older version's late counts ("lg"/"lt") count like any other: read by decoding
    state = {"h": 490_001, "o": 7, "g": 3, "t": 4, "lg": 2, "lt": 5}
    assert summary(json.dumps(state, separators=(",", ":")).encode()) == (7, 5, 9, 0, 0)
    detailed = HourBucket(490_002)
    detailed.add(3, True)
    assert not is_compacted(record(detailed))


def test_hours_added_before_the_first_and_removed_keep_the_index_and_sums_exact() -> None:
    store: dict[bytes, bytes] = {}
    held = StoredHours(store, recent=2)
    series = ("api-uptime", "requests:1")
    buckets = {h: compacted(h, h % 7, 9, uptime=True, sketch=False) for h in (500, 480, 530, 481)}
    for hour, bucket in buckets.items():  # the second hour lies before the first one's
        held.add(series, hour, record(bucket))
    held.remove(series, 530)
    assert list(held.hours(series, 0, 10_000)) == [480, 481, 500]
    assert list(held.hours(series, 481, 499)) == [481]
    assert not held.holds(series, 530) and held.holds(series, 480)
    kept = [buckets[h] for h in (480, 481, 500)]
    assert held.sums[series] == [
        sum(b.good for b in kept),
        sum(b.total for b in kept),
        sum(b.slices[0] for b in kept),  # type: ignore[index]
        sum(b.slices[2] for b in kept),  # type: ignore[index]
    ]
    assert [b.to_state() for b in held.buckets(series, 0, 10_000)] == [b.to_state() for b in kept]
    assert len(held.recent) == 2 and len(store) == held.count == 3
