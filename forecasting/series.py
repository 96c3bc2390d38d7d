"""Daily series per resource, built from resource events (pure, JSON-serialisable state).

The stream keeps, per resource and calendar day in the configured timezone, the last and the
maximum observed value, plus the latest capacity, unit and labels. ``to_state``/``from_state``
give a compact dict the lead stores in a changelog-backed table.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import numpy as np

from slaengine.calendar import zone_of
from slaengine.errors import ConfigError, InvalidEventError

DailyAggregate = Literal["max", "last"]
DEFAULT_RETENTION_DAYS = 3 * 365  # a yearly cycle needs ~1.5 years plus a backtest horizon


@dataclass(frozen=True)
class DailySeries:
    """One value per calendar day from ``start``; NaN marks a day without observations."""

    start: date
    values: np.ndarray
    unit: str = ""
    capacity: float | None = None

    def __len__(self) -> int:
        return int(self.values.size)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=len(self) - 1)

    @property
    def observed_days(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.values)))

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(len(self))]

    def filled(self) -> DailySeries:
        """Leading/trailing empty days dropped, gaps inside linearly interpolated."""
        known = np.flatnonzero(~np.isnan(self.values))
        if known.size == 0:
            return DailySeries(self.start, np.empty(0), self.unit, self.capacity)
        first, last = int(known[0]), int(known[-1])
        window = self.values[first : last + 1]
        inside = np.arange(window.size)
        mask = ~np.isnan(window)
        filled = np.interp(inside, inside[mask], window[mask])
        return DailySeries(self.start + timedelta(days=first), filled, self.unit, self.capacity)


@dataclass
class ResourceDays:
    """Per-day last and max values of one resource; the unit of state per Kafka key."""

    first_day: int | None = None  # proleptic ordinal of the first kept day
    last: list[float | None] = field(default_factory=list)
    peak: list[float | None] = field(default_factory=list)
    capacity: float | None = None
    unit: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    newest_ts: float | None = None  # epoch seconds of the latest event of the newest day

    @property
    def newest_day(self) -> int | None:
        return None if self.first_day is None else self.first_day + len(self.last) - 1

    def observe(
        self,
        day: int,
        ts: float,
        value: float,
        *,
        capacity: float | None = None,
        unit: str | None = None,
        labels: Mapping[str, str] | None = None,
        retention_days: int | None = DEFAULT_RETENTION_DAYS,
    ) -> None:
        newest = self.newest_day
        if self.first_day is None or newest is None:
            self.first_day, self.last, self.peak = day, [None], [None]
            newest = day
        if retention_days is not None and day <= newest - retention_days:
            return  # older than the retention window: nothing to keep
        if day > newest:
            self.last.extend([None] * (day - newest))
            self.peak.extend([None] * (day - newest))
            self.newest_ts = None
        elif day < self.first_day:
            missing = self.first_day - day
            self.last[:0] = [None] * missing
            self.peak[:0] = [None] * missing
            self.first_day = day
        index = day - self.first_day
        peak = self.peak[index]
        self.peak[index] = value if peak is None else max(peak, value)
        is_newest_day = index == len(self.last) - 1
        # Events of one resource share a partition, so late ones are rare; a late event on
        # the newest day must not overwrite a later reading.
        if is_newest_day and (self.newest_ts is None or ts >= self.newest_ts):
            self.last[index] = value
            self.newest_ts = ts
            if capacity is not None:
                self.capacity = capacity
            if unit:
                self.unit = unit
            if labels is not None:
                self.labels = dict(labels)
        elif self.last[index] is None:
            self.last[index] = value
        self._trim(retention_days)

    def _trim(self, retention_days: int | None) -> None:
        if retention_days is None or len(self.last) <= retention_days:
            return
        drop = len(self.last) - retention_days
        del self.last[:drop], self.peak[:drop]
        assert self.first_day is not None
        self.first_day += drop

    def series(self, aggregate: DailyAggregate = "max") -> DailySeries:
        if self.first_day is None:
            return DailySeries(date.today(), np.empty(0), self.unit, self.capacity)
        chosen = self.peak if aggregate == "max" else self.last
        values = np.array([np.nan if v is None else v for v in chosen], dtype=float)
        return DailySeries(date.fromordinal(self.first_day), values, self.unit, self.capacity)

    def to_state(self) -> dict[str, Any]:
        # The max equals the last value on most days of a growing series: store null then.
        peak = [None if p == v else p for p, v in zip(self.peak, self.last, strict=True)]
        state: dict[str, Any] = {"d0": self.first_day, "last": self.last, "max": peak}
        if self.capacity is not None:
            state["cap"] = self.capacity
        if self.unit:
            state["unit"] = self.unit
        if self.labels:
            state["labels"] = self.labels
        if self.newest_ts is not None:
            state["ts"] = self.newest_ts
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ResourceDays:
        last = list(state.get("last") or [])
        peak = [v if p is None else p for p, v in zip(state.get("max") or [], last, strict=True)]
        return cls(
            first_day=state.get("d0"),
            last=last,
            peak=peak,
            capacity=state.get("cap"),
            unit=state.get("unit", ""),
            labels=dict(state.get("labels") or {}),
            newest_ts=state.get("ts"),
        )


class ResourceHistory:
    """Daily history of every resource; days are calendar days in ``timezone``."""

    def __init__(
        self, timezone: str = "UTC", retention_days: int | None = DEFAULT_RETENTION_DAYS
    ) -> None:
        self.timezone = timezone
        self.retention_days = retention_days
        try:
            self._zone = zone_of(timezone)
        except ValueError as err:
            raise ConfigError(str(err), field="timezone") from None
        self._resources: dict[str, ResourceDays] = {}

    def observe(
        self,
        resource: str,
        ts: datetime,
        value: float,
        capacity: float | None = None,
        unit: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        if not math.isfinite(value):
            raise InvalidEventError(
                "value_not_finite", f"{resource}: value must be a finite number"
            )
        if capacity is not None and not (math.isfinite(capacity) and capacity > 0):
            raise InvalidEventError("bad_capacity", f"{resource}: capacity must be positive")
        aware = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)  # naive means UTC
        day = aware.astimezone(self._zone).date().toordinal()
        days = self._resources.setdefault(resource, ResourceDays())
        days.observe(
            day,
            aware.timestamp(),
            float(value),
            capacity=capacity,
            unit=unit,
            labels=labels,
            retention_days=self.retention_days,
        )

    def __contains__(self, resource: object) -> bool:
        return resource in self._resources

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._resources))

    def days(self, resource: str) -> ResourceDays:
        return self._resources[resource]

    def restore(self, resource: str, days: ResourceDays) -> None:
        """Put back a resource's persisted days (recovery from a changelog)."""
        self._resources[resource] = days

    def forget(self, resource: str) -> None:
        """Drop a resource (its partition moved to another worker)."""
        self._resources.pop(resource, None)

    def series(self, resource: str, aggregate: DailyAggregate = "max") -> DailySeries:
        return self._resources[resource].series(aggregate)

    def to_state(self) -> dict[str, Any]:
        return {
            "tz": self.timezone,
            "keep": self.retention_days,
            "resources": {name: d.to_state() for name, d in self._resources.items()},
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ResourceHistory:
        history = cls(state.get("tz", "UTC"), state.get("keep", DEFAULT_RETENTION_DAYS))
        for name, days in (state.get("resources") or {}).items():
            history._resources[name] = ResourceDays.from_state(days)
        return history

    @classmethod
    def from_resource_days(
        cls, resources: Mapping[str, ResourceDays], timezone: str = "UTC"
    ) -> ResourceHistory:
        """A history over per-resource states, e.g. the values of a table keyed by resource."""
        history = cls(timezone)
        history._resources = dict(resources)
        return history
