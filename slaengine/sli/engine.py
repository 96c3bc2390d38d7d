"""SliEngine: applies validated events to hour buckets, idempotently, and tracks what to persist.

Pure: no Kafka. The streaming agents call ``apply_*`` with the source
partition and offset of each event and periodically ``take_changes()`` to
write dirty state to changelog-backed tables; batch mode calls the same
methods while reading a file (one pseudo-partition, offsets = line numbers).
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from slaengine.config import CALENDAR_MONTH, SKETCH_SLIS, SlaConfig, SloSpec
from slaengine.events import (
    Event,
    OrderEvent,
    ProjectionEvent,
    RequestEvent,
    ResourceEvent,
    source_name,
)
from slaengine.sli.buckets import (
    HOUR_MS,
    MINUTE_MS,
    MINUTES_PER_HOUR,
    HourBucket,
    WholeHourSlices,
    merged_slices,
    whole_hour_slices,
)
from slaengine.sli.fulfillment import EXPIRY_MS, Decision, FulfillmentTracker, OrderState
from slaengine.sli.stored_hours import StoredHours

DAY_MS = 24 * HOUR_MS
MINUTE_DETAIL_DAYS = 35  # every standard window (up to 30 d) stays minute-exact at both ends
DETAIL_MARGIN_DAYS = (
    5  # beyond an SLO's own longer window (e.g. 60 d), for `--at` a little in the past
)
MINUTE_SKETCH_DAYS = 2  # latency percentiles are minute-exact for windows up to a day
RETENTION_DAYS = 430  # 13+ past months and a 400-day daily history; older events are dropped

SeriesKey = tuple[str, str]  # (slo name, source) — source = "<topic kind>:<partition>"
# a (source, service)'s watermark clock, and per SLO its requests feed: the series, the good
# status table, whether it is a latency SLO and whether an uptime one
RequestRoute = tuple[str, list[tuple[SloSpec, SeriesKey, list[bool], bool, bool]]]


class SliEngine:
    def __init__(
        self, config: SlaConfig, stored_record: Callable[[str], Any] | None = None
    ) -> None:
        """``stored_record`` (a worker's stage 1): reads back a record ``take_changes`` gave
        and the caller stored. With it, an hour past its minute sketches (two days) leaves
        memory once written, and is read back only for a late event, its compaction (35 days)
        or its retention; a restore decodes only the hours that still have minute sketches.
        13 months of 50 SLOs are otherwise held here and again by the global view."""
        self.config = config
        self.stored_record = stored_record
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
        # per (source, service): its watermark clock and the series (SLO, key, table) it feeds
        self._request_routes: dict[tuple[str, str], RequestRoute] = {}
        self.series: dict[SeriesKey, dict[int, HourBucket]] = defaultdict(dict)
        # hours written and dropped from memory (``stored_record``): compacted ones, those that
        # still have minute counts (compacted later), and those to drop once taken
        self.cold: dict[SeriesKey, array[int]] = {}
        self.cold_detail: dict[SeriesKey, array[int]] = {}
        self.to_drop: set[tuple[str, str, int]] = set()
        # the global view's cold hours (slaengine.sli.stored_hours): reads decode them on demand
        self.stored_hours: StoredHours | None = None
        self._series_by_slo: dict[str, list[tuple[str, dict[int, HourBucket]]]] = {}
        self._indexed_series = -1
        self.archived: dict[SeriesKey, list[int]] = {}  # lifetime (good, total) of pruned buckets
        self.trackers: dict[SeriesKey, FulfillmentTracker] = {}
        self.watermarks: dict[str, int] = {}
        self.dirty_buckets: set[tuple[str, str, int]] = set()
        self.deleted_buckets: set[tuple[str, str, int]] = set()
        self.dirty_watermarks: set[str] = set()
        # first minute with a request, per uptime SLO and source: quiet minutes count from there
        self.first_request: dict[SeriesKey, int] = {}
        self.dirty_first: set[SeriesKey] = set()
        self._midnight_hours: dict[int, bool] = {}
        self.late_dropped = 0  # events older than the retained buckets
        self.applied_events = 0
        self.pipeline_lag_ms: dict[str, int] = {}  # source → processing lag of its latest event
        # (source, projection) → (event time, lag in seconds) of its newest sample; written to the
        # changelog ("l|source|projection") so every worker's global view has every projection
        self.latest_projection_lag: dict[tuple[str, str], tuple[int, float]] = {}
        self.dirty_latest: set[tuple[str, str]] = set()
        # records ``put`` took, per SLO: /metrics evaluates again only the SLOs whose count moved
        self.changes_by_slo: dict[str, int] = defaultdict(int)

    # ---- applying events -------------------------------------------------

    def _advance(self, clock: str, ts_ms: int) -> int:
        """Move an event-time watermark; returns its value before this event.

        Request lateness uses one watermark per source and service (a service's
        events keep their order in one partition, in Kafka and in a file alike);
        order deadlines use one per source.
        """
        previous = self.watermarks.get(clock)
        if previous is None or ts_ms > previous:
            self.watermarks[clock] = ts_ms
            self.dirty_watermarks.add(clock)
        return ts_ms if previous is None else previous

    def source_watermark(self, source: str) -> int | None:
        marks = [ts for clock, ts in self.watermarks.items() if clock.split("/", 1)[0] == source]
        return max(marks) if marks else None

    def _bucket(self, slo: SloSpec, source: str, ts_ms: int) -> HourBucket:
        hour = ts_ms // HOUR_MS
        bucket = self.series[(slo.name, source)].get(hour)
        return bucket if bucket is not None else self._missing_bucket(slo, (slo.name, source), hour)

    def _missing_bucket(self, slo: SloSpec, key: SeriesKey, hour: int) -> HourBucket:
        """The bucket of an hour not in memory: a cold hour read back, else a new one."""
        state = self._take_cold(key, hour)
        bucket = self.series[key][hour] = (
            HourBucket.from_state(state)
            if state is not None
            else HourBucket(hour, with_sketch=slo.sli in SKETCH_SLIS)
        )
        return bucket

    def _take_cold(self, key: SeriesKey, hour: int) -> Any:
        """The stored record of a cold hour, which is no longer cold; None if not cold."""
        if self.stored_record is None:
            return None
        for cold in (self.cold.get(key), self.cold_detail.get(key)):
            if cold is not None and hour in cold:
                cold.remove(hour)
                return self.stored_record(f"b|{key[0]}|{key[1]}|{hour}")
        return None

    def _drop_when_written(self, name: str, source: str, hour: int, bucket: HourBucket) -> None:
        """An hour past its minute sketches leaves memory (at once if already written, else
        once taken)."""
        if self.stored_record is None or bucket.minute_sketches is not None:
            return
        key = (name, source, hour)
        if key in self.dirty_buckets:
            self.to_drop.add(key)
        else:
            self._drop(key)

    def _drop(self, key: tuple[str, str, int]) -> None:
        name, source, hour = key
        bucket = self.series[(name, source)].pop(hour, None)
        self._hold_cold((name, source), hour, bucket is not None and bucket.has_minutes)

    def _hold_cold(self, key: SeriesKey, hour: int, has_minutes: bool) -> None:
        self.series.setdefault(key, {})  # a series maintain() visits
        (self.cold_detail if has_minutes else self.cold).setdefault(key, array("i")).append(hour)

    @staticmethod
    def _expired(ts_ms: int, watermark_ms: int) -> bool:
        """Older than the retained buckets: nothing is left to count it in."""
        return ts_ms // HOUR_MS < (watermark_ms - RETENTION_DAYS * DAY_MS) // HOUR_MS

    def first_request_ms(self, slo: str) -> int | None:
        """The minute of the first request ever seen for ``slo`` (over this engine's sources)."""
        firsts = [ms for (name, _), ms in self.first_request.items() if name == slo]
        return min(firsts) if firsts else None

    def _saw_request(self, slo: str, source: str, ts_ms: int) -> None:
        key = (slo, source)
        minute_ms = ts_ms // MINUTE_MS * MINUTE_MS
        if minute_ms < self.first_request.get(key, minute_ms + 1):
            self.first_request[key] = minute_ms
            self.dirty_first.add(key)

    def _record(self, slo: SloSpec, source: str, ts_ms: int, good: bool, offset: int) -> None:
        bucket = self._bucket(slo, source, ts_ms)
        if offset <= bucket.offset:
            return  # already applied before a crash/rebalance
        bucket.add((ts_ms // MINUTE_MS) % 60, good)
        bucket.offset = offset
        self.dirty_buckets.add((slo.name, source, bucket.hour))

    def apply(
        self,
        event: Event,
        source: str,
        offset: int,
        processed_ms: int | None = None,
        appended_ms: int | None = None,
    ) -> None:
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
        route = self._request_routes.get((source, event.service))
        if route is None:
            route = self._request_route(source, event.service)
        clock, targets = route
        ts_ms = event.ts_ms
        watermark = self._advance(clock, ts_ms)
        # a late event counts in its own minute, in every window, while its hour is retained
        if watermark > ts_ms and self._expired(ts_ms, watermark):
            self.late_dropped += 1
            return
        hour = ts_ms // HOUR_MS
        minute = (ts_ms // MINUTE_MS) % 60
        series = self.series
        for slo, key, good_status, latency, uptime in targets:
            bucket = series[key].get(hour)
            if bucket is None:
                bucket = self._missing_bucket(slo, key, hour)
            if offset <= bucket.offset:
                continue  # already applied before a crash/rebalance
            if latency:
                bucket.add(minute, event.latency_ms <= slo.threshold_ms)  # type: ignore[operator]
                bucket.add_latency(minute, event.latency_ms)
            else:
                bucket.add(minute, good_status[event.status])
                if uptime:
                    self._saw_request(slo.name, source, ts_ms)
            bucket.offset = offset
            self.dirty_buckets.add((slo.name, source, hour))

    def _request_route(self, source: str, service: str) -> RequestRoute:
        """A (source, service)'s watermark clock and the series its requests feed."""
        route = self._request_routes[(source, service)] = (
            f"{source}/{service}",
            [
                (slo, (slo.name, source), table, slo.sli == "latency", slo.sli == "uptime")
                for slo, table in self._request_slos.get(service, ())
            ],
        )
        return route

    def apply_projection(self, event: ProjectionEvent, source: str, offset: int) -> None:
        """A lag sample of a projection, recorded at its own event time like a request."""
        key = (source, event.projection)
        latest = self.latest_projection_lag.get(key)
        if latest is None or event.ts_ms >= latest[0]:
            self.latest_projection_lag[key] = (event.ts_ms, event.lag_ms / 1000)
            self.dirty_latest.add(key)
        if not self.projection_lag:
            return
        watermark = self._advance(f"{source}/{event.projection}", event.ts_ms)
        ts_ms = event.ts_ms
        # like a request: a late sample counts in its own minute, in every window, while retained
        if self._expired(ts_ms, watermark):
            self.late_dropped += 1
            return
        minute = (ts_ms // MINUTE_MS) % 60
        for slo in self.projection_lag:
            if slo.projection is not None and slo.projection != event.projection:
                continue
            bucket = self._bucket(slo, source, ts_ms)
            if offset <= bucket.offset:
                continue  # already applied before a crash/rebalance
            bucket.add(minute, event.lag_ms <= slo.threshold_s * 1000)  # type: ignore[operator]
            bucket.add_latency(minute, event.lag_ms)
            bucket.offset = offset
            self.dirty_buckets.add((slo.name, source, bucket.hour))

    def apply_order(self, event: OrderEvent, source: str, offset: int) -> None:
        # Orders are aged out by the newest *creation* only: a shipment or cancellation read
        # before its order's creation carries a later time and must not expire other orders
        # early (their outcome would then depend on how the orders interleave).
        if event.event == "created":
            self._advance(source, event.ts_ms)
        clock = self.watermarks.get(source)
        for slo in self.fulfillment:
            tracker = self._tracker(slo, source)
            decided = tracker.apply(event, offset)
            expired = tracker.expire(clock, offset) if clock is not None else []
            self._record_decisions(
                slo, source, decided, expired, offset, clock if clock is not None else event.ts_ms
            )

    def _tracker(self, slo: SloSpec, source: str) -> FulfillmentTracker:
        key = (slo.name, source)
        tracker = self.trackers.get(key)
        if tracker is None:
            tracker = self.trackers[key] = FulfillmentTracker(slo.within_ms, self.grace_ms)
        return tracker

    def _record_decisions(
        self,
        slo: SloSpec,
        source: str,
        decided: list[Decision],
        expired: list[Decision],
        offset: int,
        watermark: int,
    ) -> None:
        # one event may decide several orders of the same creation hour: apply them as a group
        # so the per-bucket offset check lets all or none of them through
        grouped: dict[int, list[Decision]] = defaultdict(list)
        for decision in decided:
            if self._expired(decision.created_ms, watermark):
                self.late_dropped += 1
            else:
                grouped[decision.created_ms // HOUR_MS].append(decision)
        for decision in expired:  # consequences of time passing, not late events
            grouped[decision.created_ms // HOUR_MS].append(decision)
        for group in grouped.values():
            bucket = self._bucket(slo, source, group[0].created_ms)
            if offset <= bucket.offset:
                continue
            for decision in group:
                bucket.add((decision.created_ms // MINUTE_MS) % 60, decision.good, decision.count)
            bucket.offset = offset
            self.dirty_buckets.add((slo.name, source, bucket.hour))

    def apply_lag(self, source: str, event_ms: int, processed_ms: int, offset: int) -> None:
        topic = source_name(source)
        lag_s = max(0.0, (processed_ms - event_ms) / 1000)
        for slo in self.lag:
            if slo.topic and slo.topic != topic:
                continue
            assert slo.threshold_s is not None
            self._record(slo, source, processed_ms, lag_s <= slo.threshold_s, offset)

    # ---- maintenance -------------------------------------------------------

    def detail_days(self, slo: SloSpec) -> int:
        """How long minute detail is kept: every window the SLO is asked for stays minute-exact."""
        longest = slo.window_delta if slo.window != CALENDAR_MONTH else None
        return max(
            MINUTE_DETAIL_DAYS,
            -(-(longest or timedelta(0)) // timedelta(days=1)) + DETAIL_MARGIN_DAYS,
        )

    def _contains_local_midnight(self, hour: int) -> bool:
        """Does a day (and so maybe a month) of the configured zone start inside this UTC hour?

        Such hours keep their minute detail for good, so days and months of zones
        with :30 and :45 offsets stay exact after compaction."""
        known = self._midnight_hours.get(hour)
        if known is None:
            end = datetime.fromtimestamp((hour + 1) * 3600 - 1, self.zone)
            midnight = end.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
            known = self._midnight_hours[hour] = hour * 3600 < midnight < (hour + 1) * 3600
        return known

    def maintain(self, reference_ms: int | None = None) -> None:
        """Compact old minute detail and prune buckets past retention (event-time driven).

        Horizons count back from each source's watermark, or from ``reference_ms`` when
        that is earlier (batch mode evaluating ``--at`` a time inside the file).
        """
        for (name, source), hours in self.series.items():
            watermark = self.source_watermark(source)
            if watermark is None:
                continue
            if reference_ms is not None:
                watermark = min(watermark, reference_ms)
            slo = self.slos[name]
            detail_horizon = (watermark - self.detail_days(slo) * DAY_MS) // HOUR_MS
            sketch_horizon = (watermark - MINUTE_SKETCH_DAYS * DAY_MS) // HOUR_MS
            retention_horizon = (watermark - RETENTION_DAYS * DAY_MS) // HOUR_MS
            # hours that no event but a late one changes leave memory (with ``stored_record``)
            drop_horizon = sketch_horizon
            if slo.sli == "fulfillment":  # decisions land until an order expires
                decided_by = slo.within_ms + self.grace_ms + EXPIRY_MS
                drop_horizon = min(drop_horizon, (watermark - decided_by) // HOUR_MS - 1)
            cold, cold_detail = (
                self.cold.get((name, source), ()),
                self.cold_detail.get((name, source), ()),
            )
            expired = [h for h in hours if h < retention_horizon]
            expired += [h for h in (*cold, *cold_detail) if h < retention_horizon]
            for hour in expired:
                bucket = hours.pop(hour, None)
                if bucket is None:
                    state = self._take_cold((name, source), hour)
                    if state is None:
                        continue
                    bucket = HourBucket.from_state(state)
                self.to_drop.discard((name, source, hour))
                archived = self.archived.setdefault((name, source), [0, 0])
                if (
                    slo.sli == "uptime"
                ):  # uptime counts minutes: (good slices, minutes with traffic)
                    good, _, traffic = bucket.uptime_slices(slo.slice_ratio)
                    archived[0] += good
                    archived[1] += traffic
                else:
                    archived[0] += bucket.good
                    archived[1] += bucket.total
                self.deleted_buckets.add((name, source, hour))
                self.dirty_buckets.discard((name, source, hour))
            for hour in [h for h in cold_detail if h < detail_horizon]:
                if not self._contains_local_midnight(hour):  # compacted: read back, written
                    self._missing_bucket(slo, (name, source), hour)
            for hour, bucket in list(hours.items()):
                if hour >= sketch_horizon or self._contains_local_midnight(hour):
                    continue
                if hour < detail_horizon and bucket.has_minutes:
                    bucket.compact(slo.slice_ratio if slo.sli == "uptime" else None)
                    self.dirty_buckets.add((name, source, hour))
                elif bucket.compact_sketches():
                    self.dirty_buckets.add((name, source, hour))
                if hour < drop_horizon:
                    self._drop_when_written(name, source, hour, bucket)

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
            if (name, item_source, hour) in self.to_drop:  # the caller stores it right away
                self.to_drop.discard((name, item_source, hour))
                self._drop((name, item_source, hour))
        for name, item_source, hour in sorted(taken_deleted):
            changes.append((f"b|{name}|{item_source}|{hour}", item_source, None))
            archived = self.archived.get((name, item_source))
            if archived:
                changes.append((f"a|{name}|{item_source}", item_source, list(archived)))
        for (name, item_source), tracker in self.trackers.items():
            if not wanted(item_source):
                continue
            for group in sorted(tracker.dirty):
                changes.append(
                    (f"O|{name}|{item_source}|{group}", item_source, tracker.group_state(group))
                )
            for order_id in sorted(tracker.legacy):  # after its group: a cut flush loses nothing
                changes.append((f"o|{name}|{item_source}|{order_id}", item_source, None))
            tracker.legacy.clear()
            tracker.dirty.clear()
        taken_first = {k for k in self.dirty_first if wanted(k[1])}
        for name, item_source in sorted(taken_first):
            changes.append(
                (f"f|{name}|{item_source}", item_source, self.first_request[(name, item_source)])
            )
        self.dirty_first -= taken_first
        taken_latest = {k for k in self.dirty_latest if wanted(k[0])}
        for item_source, projection in sorted(taken_latest):
            changes.append(
                (
                    f"l|{item_source}|{projection}",
                    item_source,
                    list(self.latest_projection_lag[(item_source, projection)]),
                )
            )
        self.dirty_latest -= taken_latest
        for clock in sorted(taken_clocks):
            changes.append((f"w|{clock}", clock.split("/", 1)[0], self.watermarks[clock]))
        self.dirty_buckets -= taken_buckets
        self.deleted_buckets -= taken_deleted
        self.dirty_watermarks -= taken_clocks
        return changes

    def deletable_keys(self, source: str) -> set[str]:
        """The table keys of ``source`` this engine holds, of the kinds ``take_changes`` may
        delete: hour buckets (pruned past retention), order groups (emptied) and per-order
        records of older versions. Every other kind is only ever overwritten."""
        keys: set[str] = set()
        for (name, item_source), hours in self.series.items():
            if item_source == source:
                keys.update(f"b|{name}|{source}|{hour}" for hour in hours)
        if self.stored_hours is not None:
            keys.update(
                f"b|{name}|{source}|{hour}" for name, hour in self.stored_hours.keys_of(source)
            )
        for (name, item_source), tracker in self.trackers.items():
            if item_source == source:
                keys.update(f"O|{name}|{source}|{group}" for group in tracker.members)
                keys.update(
                    f"o|{name}|{source}|{order_id}"
                    for order_id in tracker.orders
                    if order_id not in tracker.group_of
                )
        return keys

    @staticmethod
    def source_of_key(key: str) -> str:
        """The source partition a table key written by ``take_changes`` belongs to."""
        kind, _, rest = key.partition("|")
        if kind == "w":
            return rest.split("/", 1)[0]
        if kind == "l":
            return rest.split("|", 1)[0]
        return rest.split("|")[1]

    def load(self, key: str, value: Any) -> None:
        """Restore one record written by ``take_changes`` (recovery from the changelog)."""
        kind, _, rest = key.partition("|")
        if value is None:
            return
        if kind == "b":
            name, source, hour = rest.split("|")
            if name not in self.slos:
                return
            if self.slos[name].sli == "uptime" and "mt" in value:
                # state written before "f" records existed: a bucket's traffic bounds the first
                # request
                first = next((m for m, total in enumerate(value["mt"]) if total), None)
                if first is not None:
                    self._saw_request(name, source, int(hour) * HOUR_MS + first * MINUTE_MS)
            if self.stored_record is not None and "ms" not in value:  # read back when needed
                self._hold_cold((name, source), int(hour), "mt" in value)
            else:
                self.series[(name, source)][int(hour)] = HourBucket.from_state(value)
        elif kind == "a":
            name, source = rest.split("|")
            self.archived[(name, source)] = list(value)
        elif kind == "f":
            name, source = rest.split("|")
            series = (name, source)
            self.first_request[series] = min(int(value), self.first_request.get(series, int(value)))
        elif kind == "O":  # the orders of one hour (FulfillmentTracker.group_state)
            name, source, group = rest.split("|")
            if name in self.slos:
                self._tracker(self.slos[name], source).load_group(int(group), value)
        elif kind == "o":  # one order, as older versions wrote them
            name, source, order_id = rest.split("|", 2)
            if name in self.slos:
                self._tracker(self.slos[name], source).load(order_id, value)
        elif kind == "w":
            self.watermarks[rest] = max(int(value), self.watermarks.get(rest, int(value)))
        elif kind == "l":  # the newest sample of a projection (the "latest" lag gauge)
            source, projection = rest.split("|", 1)
            held = self.latest_projection_lag.get((source, projection))
            if held is None or int(value[0]) >= held[0]:
                self.latest_projection_lag[(source, projection)] = (int(value[0]), float(value[1]))

    def put(self, key: str, value: Any) -> None:
        """Set one record as the newest snapshot of it (the global view; ``None`` deletes it).

        The global engine of every worker is fed every partition's records in log order
        (streams.global_view), so each key holds the latest snapshot of its source: never
        added up, a replay after a crash or rebalance cannot count anything twice. A bucket
        snapshot older (by its source offset) than the one held is ignored.
        """
        kind, _, rest = key.partition("|")
        self._count_change(kind, rest)
        if kind == "b":
            name, source, hour_text = rest.split("|")
            hours = self.series.get((name, source))
            if value is None:
                if hours is not None:
                    hours.pop(int(hour_text), None)
                return
            held = hours.get(int(hour_text)) if hours is not None else None
            if held is not None and int(value["o"]) < held.offset:
                return
        elif kind == "O":
            name, source, group = rest.split("|")
            if name in self.slos:  # no expiry is scheduled: a global view only reads
                self._tracker(self.slos[name], source).put_group(int(group), value)
            return
        elif kind == "o":  # older versions' per-order records
            name, source, order_id = rest.split("|", 2)
            if name not in self.slos:
                return
            tracker = self._tracker(self.slos[name], source)
            if value is None:
                if order_id not in tracker.group_of:  # else its group record holds it now
                    tracker.orders.pop(order_id, None)
            else:  # no expiry is scheduled: a global view only reads, its sources expire orders
                tracker.orders[order_id] = OrderState.from_state(value)
            return
        elif kind not in ("a", "f", "l", "w"):
            return  # not SLI state (resources, applied marks)
        if value is not None:
            self.load(key, value)

    def _count_change(self, kind: str, rest: str) -> None:
        """``changes_by_slo`` of the SLO(s) a record of ``kind`` belongs to. Watermarks ("w")
        change no exported number: every window is answered at the reader's clock."""
        if kind in ("a", "b", "f", "o", "O"):  # "<kind>|<slo>|..."
            self.changes_by_slo[rest.split("|", 1)[0]] += 1
        elif kind == "l":  # the newest lag of a projection: the "latest" gauge of each
            for slo in self.projection_lag:
                self.changes_by_slo[slo.name] += 1

    def drop_sources(self, sources: set[str]) -> None:
        """Forget partitions this worker no longer owns (after a rebalance).

        Unflushed changes of those partitions are dropped too: the new owner
        replays them from the last commit, which never runs ahead of the flush.
        """
        self.dirty_buckets = {k for k in self.dirty_buckets if k[1] not in sources}
        self.deleted_buckets = {k for k in self.deleted_buckets if k[1] not in sources}
        self.dirty_watermarks = {
            c for c in self.dirty_watermarks if c.split("/", 1)[0] not in sources
        }
        self.dirty_first = {k for k in self.dirty_first if k[1] not in sources}
        self.dirty_latest = {k for k in self.dirty_latest if k[0] not in sources}
        for key in [k for k in self.first_request if k[1] in sources]:
            del self.first_request[key]
        for key in [k for k in self.series if k[1] in sources]:
            del self.series[key]
        for cold in (self.cold, self.cold_detail):
            for key in [k for k in cold if k[1] in sources]:
                del cold[key]
        self.to_drop = {k for k in self.to_drop if k[1] not in sources}
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

    def lifetime_counts(
        self, slo: SloSpec, now_ms: int | None = None, whole_hours: WholeHourSlices | None = None
    ) -> tuple[int, int] | None:
        """Monotonic (good, total) since the first event, or None when this worker owns none.

        For uptime: good and counted one-minute slices among closed minutes — before
        ``now_ms``'s minute (by default: the newest event minus the grace period) —
        including the quiet minutes since the first request (``no_traffic: good/bad``),
        exactly as the windows count them. ``whole_hours``: see ``whole_hour_slices``.
        """
        series = list(self.buckets_of(slo.name))
        if not series:
            return None
        good = total = 0
        stored = self.stored_hours
        for source, hours in series:
            archived = self.archived.get((slo.name, source), [0, 0])
            good, total = good + archived[0], total + archived[1]
            sums = stored.sums.get((slo.name, source)) if stored is not None else None
            if sums is not None:  # cold hours: compacted, so judged alone (merged_slices)
                good, total = (
                    (good + sums[2], total + sums[3])
                    if slo.sli == "uptime"
                    else (good + sums[0], total + sums[1])
                )
            if slo.sli != "uptime":
                for bucket in hours.values():
                    good += bucket.good
                    total += bucket.total
        if slo.sli != "uptime":
            return good, total
        if now_ms is None:
            newest = max((self.source_watermark(source) or 0) for source, _ in series)
            now_ms = newest - self.grace_ms
        closed_before = now_ms // MINUTE_MS * MINUTE_MS
        by_hour: dict[int, list[HourBucket]] = defaultdict(list)
        for _, hours in series:
            for hour, bucket in hours.items():
                by_hour[hour].append(bucket)
        if stored is not None:  # an hour both held and cold is judged on all its buckets
            for bucket in stored.held_too(slo.name, [source for source, _ in series], by_hour):
                by_hour[bucket.hour].append(bucket)
                slices = bucket.slices or (0, 0, 0)
                good, total = good - slices[0], total - slices[2]  # not in the sums then
        traffic = total  # archived minutes with traffic
        for hour, buckets in by_hour.items():
            end = min(MINUTES_PER_HOUR, (closed_before - hour * HOUR_MS) // MINUTE_MS)
            if end == MINUTES_PER_HOUR:
                g, _, t = whole_hour_slices(buckets, slo.slice_ratio, whole_hours)
                good, traffic = good + g, traffic + t
            elif end > 0:
                g, _, t = merged_slices(buckets, slo.slice_ratio, 0, end)
                good, traffic = good + g, traffic + t
        total = traffic
        first = self.first_request_ms(slo.name)
        if slo.no_traffic != "ignore" and first is not None:
            quiet = max(0, (closed_before - first) // MINUTE_MS - traffic)
            total += quiet
            if slo.no_traffic == "good":
                good += quiet
        return good, total

    def hours_between(
        self, slo: str, first_hour: int, last_hour: int
    ) -> Iterable[list[HourBucket]]:
        """The buckets of every source for each hour in [first_hour, last_hour], hour by hour."""
        by_hour: dict[int, list[HourBucket]] = defaultdict(list)
        for _, hours in self.buckets_of(slo):
            if last_hour - first_hour < len(hours):
                for hour in range(first_hour, last_hour + 1):
                    bucket = hours.get(hour)
                    if bucket is not None:
                        by_hour[hour].append(bucket)
            else:
                for hour, bucket in hours.items():
                    if first_hour <= hour <= last_hour:
                        by_hour[hour].append(bucket)
        for bucket in self.stored_buckets(slo, first_hour, last_hour, sketches=False):
            by_hour[bucket.hour].append(bucket)
        return by_hour.values()

    def stored_buckets(
        self, slo: str, first_hour: int, last_hour: int, sketches: bool = True
    ) -> list[HourBucket]:
        """The global view's cold hours of ``slo`` in [first_hour, last_hour], decoded from
        their store and not kept (slaengine.sli.stored_hours); counts only without
        ``sketches``."""
        stored = self.stored_hours
        if stored is None or not stored.count:
            return []
        return [
            bucket
            for source, _ in self.buckets_of(slo)
            for bucket in stored.buckets((slo, source), first_hour, last_hour, sketches)
        ]

    def has_stored_hours(self, slo: str, first_hour: int, last_hour: int) -> bool:
        stored = self.stored_hours
        return (
            stored is not None
            and stored.count > 0
            and any(
                stored.any_between((slo, source), first_hour, last_hour)
                for source, _ in self.buckets_of(slo)
            )
        )

    def stored_hour_numbers(self, slo: str, first_hour: int, last_hour: int) -> set[int]:
        """The hours of ``slo`` in [first_hour, last_hour] that some source holds cold."""
        stored = self.stored_hours
        if stored is None or not stored.count:
            return set()
        return {
            hour
            for source, _ in self.buckets_of(slo)
            for hour in stored.hours((slo, source), first_hour, last_hour)
        }

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
