"""SliEngine: applies validated events to hour buckets, idempotently, and tracks what to persist.

Pure: no Kafka. The streaming agents call ``apply_*`` with the source
partition and offset of each event and periodically ``take_changes()`` to
write dirty state to changelog-backed tables; batch mode calls the same
methods while reading a file (one pseudo-partition, offsets = line numbers).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from slaengine.config import SKETCH_SLIS, SlaConfig, SloSpec
from slaengine.events import Event, OrderEvent, ProjectionEvent, RequestEvent, ResourceEvent
from slaengine.sli.buckets import HOUR_MS, MINUTE_MS, HourBucket
from slaengine.sli.fulfillment import Decision, FulfillmentTracker

MINUTE_DETAIL_DAYS = 35  # rolling windows up to 30 d stay minute-exact at both ends
RETENTION_DAYS = 430  # 13+ past months and a 400-day daily history
MONTH_CLOSE_MS = 48 * HOUR_MS  # monthly totals accept late events (and 24 h fulfillment decisions) for two days

SeriesKey = tuple[str, str]  # (slo name, source) — source = "<topic kind>:<partition>"


def source_of(kind: str, partition: int) -> str:
    return f"{kind}:{partition}"


class SliEngine:
    def __init__(self, config: SlaConfig) -> None:
        self.config = config
        self.grace_ms = config.grace_ms
        self.zone = config.zone
        self.slos = {slo.name: slo for slo in config.slos}
        self.fulfillment = [s for s in config.slos if s.sli == "fulfillment"]
        self.lag = [s for s in config.slos if s.sli == "lag"]
        self.projection_lag = [s for s in config.slos if s.sli == "projection_lag"]
        # per service: the SLOs its requests feed, with a status → good lookup table
        self._request_slos: dict[str, list[tuple[SloSpec, list[bool]]]] = defaultdict(list)
        for slo in config.slos:
            if slo.service and slo.sli in ("availability", "latency", "uptime"):
                table = [slo.is_good_status(code) if code >= 100 else False for code in range(600)]
                self._request_slos[slo.service].append((slo, table))
        self._clocks: dict[tuple[str, str], str] = {}
        self.series: dict[SeriesKey, dict[int, HourBucket]] = defaultdict(dict)
        self._series_by_slo: dict[str, list[tuple[str, dict[int, HourBucket]]]] = {}
        self._indexed_series = -1
        self.archived: dict[SeriesKey, list[int]] = {}  # lifetime (good, total) of pruned buckets
        self.trackers: dict[SeriesKey, FulfillmentTracker] = {}
        self.watermarks: dict[str, int] = {}
        self.dirty_buckets: set[tuple[str, str, int]] = set()
        self.deleted_buckets: set[tuple[str, str, int]] = set()
        self.dirty_watermarks: set[str] = set()
        self.late_dropped = 0
        self.applied_events = 0
        self.pipeline_lag_ms: dict[str, int] = {}  # source → processing lag of its latest event
        # (source, projection) → (event time, lag in seconds) of its newest sample; not persisted:
        # the next sample (projections report every few seconds) restores it after a restart
        self.latest_projection_lag: dict[tuple[str, str], tuple[int, float]] = {}

    # ---- applying events -------------------------------------------------

    def _advance(self, clock: str, ts_ms: int) -> int:
        """Move an event-time watermark; returns its value before this event.

        Request lateness uses one watermark per source and service (a service's
        events keep their order in one partition, in Kafka and in a file alike);
        order deadlines use one per source.
        """
        previous = self.watermarks.get(clock, ts_ms)
        if ts_ms > previous or clock not in self.watermarks:
            self.watermarks[clock] = max(ts_ms, previous)
            self.dirty_watermarks.add(clock)
        return previous

    def source_watermark(self, source: str) -> int | None:
        marks = [ts for clock, ts in self.watermarks.items() if clock.split("/", 1)[0] == source]
        return max(marks) if marks else None

    def _bucket(self, slo: SloSpec, source: str, ts_ms: int) -> HourBucket:
        hours = self.series[(slo.name, source)]
        hour = ts_ms // HOUR_MS
        bucket = hours.get(hour)
        if bucket is None:
            bucket = hours[hour] = HourBucket(hour, with_sketch=slo.sli in SKETCH_SLIS)
        return bucket

    def _month_closed(self, ts_ms: int, watermark_ms: int) -> bool:
        local = datetime.fromtimestamp(ts_ms / 1000, self.zone)
        last_day = calendar.monthrange(local.year, local.month)[1]
        month_end = local.replace(day=last_day, hour=0, minute=0, second=0, microsecond=0)
        month_end_ms = int(month_end.timestamp() * 1000) + 24 * HOUR_MS
        return watermark_ms >= month_end_ms + MONTH_CLOSE_MS

    def _record(self, slo: SloSpec, source: str, ts_ms: int, good: bool, offset: int) -> None:
        bucket = self._bucket(slo, source, ts_ms)
        if offset <= bucket.offset:
            return  # already applied before a crash/rebalance
        bucket.add((ts_ms // MINUTE_MS) % 60, good)
        bucket.offset = offset
        self.dirty_buckets.add((slo.name, source, bucket.hour))

    def apply(self, event: Event, source: str, offset: int, processed_ms: int | None = None,
              appended_ms: int | None = None) -> None:
        """Apply one event; ``processed_ms`` (streaming only) feeds the lag SLI, measured from
        ``appended_ms`` (when the event entered Kafka) or else from the event's own time."""
        if isinstance(event, RequestEvent):
            self.apply_request(event, source, offset)
        elif isinstance(event, OrderEvent):
            self.apply_order(event, source, offset)
        elif isinstance(event, ProjectionEvent):
            self.apply_projection(event, source, offset)
        elif not isinstance(event, ResourceEvent):
            raise TypeError(f"not an event: {event!r}")
        if processed_ms is not None:
            event_ms = appended_ms if appended_ms is not None else event.ts_ms
            self.pipeline_lag_ms[source] = processed_ms - event_ms  # slaengine_pipeline_lag_seconds
            if self.lag:
                self.apply_lag(source, event_ms, processed_ms, offset)
        self.applied_events += 1

    def apply_request(self, event: RequestEvent, source: str, offset: int) -> None:
        clock_key = (source, event.service)
        clock = self._clocks.get(clock_key)
        if clock is None:
            clock = self._clocks[clock_key] = f"{source}/{event.service}"
        watermark = self._advance(clock, event.ts_ms)
        ts_ms = event.ts_ms
        late = ts_ms < watermark - self.grace_ms
        if late and self._month_closed(ts_ms, watermark):
            self.late_dropped += 1
            return
        hour = ts_ms // HOUR_MS
        minute = (ts_ms // MINUTE_MS) % 60
        for slo, good_status in self._request_slos.get(event.service, ()):
            hours = self.series[(slo.name, source)]
            bucket = hours.get(hour)
            if bucket is None:
                bucket = hours[hour] = HourBucket(hour, with_sketch=slo.sli == "latency")
            if offset <= bucket.offset:
                continue  # already applied before a crash/rebalance
            if slo.sli == "latency":
                good = event.latency_ms <= slo.threshold_ms  # type: ignore[operator]
                if late:
                    bucket.add_late(good)
                else:
                    bucket.add(minute, good)
                    bucket.sketch.add(event.latency_ms)  # type: ignore[union-attr]
            else:
                good = good_status[event.status]
                if not late:
                    bucket.add(minute, good)
                elif slo.sli == "availability":  # uptime slices ignore too-late requests
                    bucket.add_late(good)
                else:
                    continue
            bucket.offset = offset
            self.dirty_buckets.add((slo.name, source, hour))

    def apply_projection(self, event: ProjectionEvent, source: str, offset: int) -> None:
        """A lag sample of a projection, recorded at its own event time like a request."""
        key = (source, event.projection)
        latest = self.latest_projection_lag.get(key)
        if latest is None or event.ts_ms >= latest[0]:
            self.latest_projection_lag[key] = (event.ts_ms, event.lag_ms / 1000)
        if not self.projection_lag:
            return
        watermark = self._advance(f"{source}/{event.projection}", event.ts_ms)
        ts_ms = event.ts_ms
        late = ts_ms < watermark - self.grace_ms
        if late and self._month_closed(ts_ms, watermark):
            self.late_dropped += 1
            return
        for slo in self.projection_lag:
            if slo.projection is not None and slo.projection != event.projection:
                continue
            bucket = self._bucket(slo, source, ts_ms)
            if offset <= bucket.offset:
                continue  # already applied before a crash/rebalance
            good = event.lag_ms <= slo.threshold_s * 1000  # type: ignore[operator]
            if late:  # like a late request: the month counts it, rolling windows do not
                bucket.add_late(good)
            else:
                bucket.add((ts_ms // MINUTE_MS) % 60, good)
                bucket.sketch.add(event.lag_ms)  # type: ignore[union-attr]
            bucket.offset = offset
            self.dirty_buckets.add((slo.name, source, bucket.hour))

    def apply_order(self, event: OrderEvent, source: str, offset: int) -> None:
        watermark = self._advance(source, event.ts_ms)
        for slo in self.fulfillment:
            tracker = self._tracker(slo, source)
            decided = tracker.apply(event, offset)
            expired = tracker.expire(max(watermark, event.ts_ms), offset)
            self._record_decisions(slo, source, decided, expired, offset, watermark)

    def _tracker(self, slo: SloSpec, source: str) -> FulfillmentTracker:
        key = (slo.name, source)
        tracker = self.trackers.get(key)
        if tracker is None:
            tracker = self.trackers[key] = FulfillmentTracker(slo.within_ms, self.grace_ms)
        return tracker

    def _record_decisions(self, slo: SloSpec, source: str, decided: list[Decision],
                          expired: list[Decision], offset: int, watermark: int) -> None:
        # one event may decide several orders of the same creation hour: apply them as a group
        # so the per-bucket offset check lets all or none of them through
        grouped: dict[int, list[Decision]] = defaultdict(list)
        for decision in decided:
            if self._month_closed(decision.created_ms, watermark):
                self.late_dropped += 1
            else:
                grouped[decision.created_ms // HOUR_MS].append(decision)
        for decision in expired:  # consequences of time passing, not late events: no month check
            grouped[decision.created_ms // HOUR_MS].append(decision)
        for group in grouped.values():
            bucket = self._bucket(slo, source, group[0].created_ms)
            if offset <= bucket.offset:
                continue
            for decision in group:
                bucket.add((decision.created_ms // MINUTE_MS) % 60, decision.good)
            bucket.offset = offset
            self.dirty_buckets.add((slo.name, source, bucket.hour))

    def apply_lag(self, source: str, event_ms: int, processed_ms: int, offset: int) -> None:
        topic = source.split(":", 1)[0]
        lag_s = max(0.0, (processed_ms - event_ms) / 1000)
        for slo in self.lag:
            if slo.topic and slo.topic != topic:
                continue
            assert slo.threshold_s is not None
            self._record(slo, source, processed_ms, lag_s <= slo.threshold_s, offset)

    # ---- maintenance -------------------------------------------------------

    def maintain(self) -> None:
        """Compact old minute detail and prune buckets past retention (event-time driven)."""
        for (name, source), hours in self.series.items():
            watermark = self.source_watermark(source)
            if watermark is None:
                continue
            slo = self.slos[name]
            detail_horizon = (watermark - MINUTE_DETAIL_DAYS * 24 * HOUR_MS) // HOUR_MS
            retention_horizon = (watermark - RETENTION_DAYS * 24 * HOUR_MS) // HOUR_MS
            for hour in [h for h in hours if h < retention_horizon]:
                bucket = hours.pop(hour)
                archived = self.archived.setdefault((name, source), [0, 0])
                archived[0] += bucket.good + bucket.late_good
                archived[1] += bucket.total + bucket.late_total
                self.deleted_buckets.add((name, source, hour))
                self.dirty_buckets.discard((name, source, hour))
            for hour, bucket in hours.items():
                if hour < detail_horizon and bucket.minute_total is not None:
                    bucket.compact(slo.slice_good_ratio if slo.sli == "uptime" else None)
                    self.dirty_buckets.add((name, source, hour))

    # ---- persistence -------------------------------------------------------

    def take_changes(self, source: str | None = None) -> list[tuple[str, str, Any]]:
        """Dirty state (of one source, or all) as (table key, source, value or None to delete).

        Buckets come before order records and watermarks: if a crash cuts a
        flush short, a replayed event is skipped by the buckets that already
        hold it and re-applied to those that do not.
        """
        def wanted(item_source: str) -> bool:
            return source is None or item_source == source

        changes: list[tuple[str, str, Any]] = []
        taken_buckets = {k for k in self.dirty_buckets if wanted(k[1])}
        taken_deleted = {k for k in self.deleted_buckets if wanted(k[1])}
        taken_clocks = {c for c in self.dirty_watermarks if wanted(c.split("/", 1)[0])}
        for name, item_source, hour in sorted(taken_buckets):
            bucket = self.series[(name, item_source)].get(hour)
            if bucket is not None:
                changes.append((f"b|{name}|{item_source}|{hour}", item_source, bucket.to_state()))
        for name, item_source, hour in sorted(taken_deleted):
            changes.append((f"b|{name}|{item_source}|{hour}", item_source, None))
            archived = self.archived.get((name, item_source))
            if archived:
                changes.append((f"a|{name}|{item_source}", item_source, list(archived)))
        for (name, item_source), tracker in self.trackers.items():
            if not wanted(item_source):
                continue
            for order_id in sorted(tracker.dirty):
                order = tracker.orders.get(order_id)
                changes.append((f"o|{name}|{item_source}|{order_id}", item_source,
                                order.to_state() if order else None))
            tracker.dirty.clear()
        for clock in sorted(taken_clocks):
            changes.append((f"w|{clock}", clock.split("/", 1)[0], self.watermarks[clock]))
        self.dirty_buckets -= taken_buckets
        self.deleted_buckets -= taken_deleted
        self.dirty_watermarks -= taken_clocks
        return changes

    @staticmethod
    def source_of_key(key: str) -> str:
        """The source partition a table key written by ``take_changes`` belongs to."""
        kind, _, rest = key.partition("|")
        if kind == "w":
            return rest.split("/", 1)[0]
        return rest.split("|")[1]

    def load(self, key: str, value: Any) -> None:
        """Restore one record written by ``take_changes`` (recovery from the changelog)."""
        kind, _, rest = key.partition("|")
        if value is None:
            return
        if kind == "b":
            name, source, hour = rest.split("|")
            if name in self.slos:
                self.series[(name, source)][int(hour)] = HourBucket.from_state(value)
        elif kind == "a":
            name, source = rest.split("|")
            self.archived[(name, source)] = list(value)
        elif kind == "o":
            name, source, order_id = rest.split("|", 2)
            if name in self.slos:
                self._tracker(self.slos[name], source).load(order_id, value)
        elif kind == "w":
            self.watermarks[rest] = max(int(value), self.watermarks.get(rest, int(value)))

    def drop_sources(self, sources: set[str]) -> None:
        """Forget partitions this worker no longer owns (after a rebalance).

        Unflushed changes of those partitions are dropped too: the new owner
        replays them from the last commit, which never runs ahead of the flush.
        """
        self.dirty_buckets = {k for k in self.dirty_buckets if k[1] not in sources}
        self.deleted_buckets = {k for k in self.deleted_buckets if k[1] not in sources}
        self.dirty_watermarks = {c for c in self.dirty_watermarks if c.split("/", 1)[0] not in sources}
        for key in [k for k in self.series if k[1] in sources]:
            del self.series[key]
        for key in [k for k in self.trackers if k[1] in sources]:
            del self.trackers[key]
        for key in [k for k in self.archived if k[1] in sources]:
            del self.archived[key]
        for clock in [c for c in self.watermarks if c.split("/", 1)[0] in sources]:
            del self.watermarks[clock]
        for key in [k for k in self.latest_projection_lag if k[0] in sources]:
            del self.latest_projection_lag[key]
        for source in sources:
            self.pipeline_lag_ms.pop(source, None)

    def lifetime_counts(self, slo: SloSpec) -> tuple[int, int] | None:
        """Monotonic (good, total) since the first event, or None when this worker owns none.

        For uptime: good and counted one-minute slices among minutes already past
        the grace period (they no longer change).
        """
        series = [(source, hours) for source, hours in self.buckets_of(slo.name)]
        if not series:
            return None
        good = total = 0
        for source, hours in series:
            archived = self.archived.get((slo.name, source), [0, 0])
            good, total = good + archived[0], total + archived[1]
            if slo.sli != "uptime":
                for bucket in hours.values():
                    good += bucket.good + bucket.late_good
                    total += bucket.total + bucket.late_total
                continue
            closed_before = ((self.source_watermark(source) or 0) - self.grace_ms) // MINUTE_MS
            for bucket in hours.values():
                first_minute = bucket.hour * 60
                end = min(60, closed_before - first_minute)
                if end <= 0:
                    continue
                g, _, t = bucket.uptime_slices(slo.slice_good_ratio, 0, end)
                good, total = good + g, total + t
        return good, total

    def buckets_of(self, slo: str) -> Iterator[tuple[str, dict[int, HourBucket]]]:
        if len(self.series) != self._indexed_series:  # a series was added or dropped
            self._series_by_slo = defaultdict(list)
            for (name, source), hours in self.series.items():
                self._series_by_slo[name].append((source, hours))
            self._indexed_series = len(self.series)
        yield from self._series_by_slo.get(slo, ())

    def owned_slos(self) -> list[str]:
        """SLOs with state on this worker (a worker exports only what it owns)."""
        return sorted({name for name, _ in self.series} | {name for name, _ in self.trackers})
