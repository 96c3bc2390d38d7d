"""Resource history kept per source partition, persisted next to the SLI state.

Each resource's daily series is one table record ``r|<resource>`` carrying the
highest applied offset, so replays after a crash are skipped like SLI buckets.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from forecasting.series import ResourceDays, ResourceHistory
from slaengine.errors import InvalidEventError
from slaengine.events import ResourceEvent


class ResourceState:
    def __init__(self, timezone: str) -> None:
        self.history = ResourceHistory(timezone)
        self.offsets: dict[str, int] = {}
        self.sources: dict[str, str] = {}
        self.dirty: set[str] = set()
        self.rejected = 0

    def observe(self, event: ResourceEvent, source: str, offset: int) -> None:
        if offset <= self.offsets.get(event.resource, -1):
            return  # replayed
        try:
            self.history.observe(
                event.resource,
                datetime.fromtimestamp(event.ts_ms / 1000, UTC),
                event.value,
                event.capacity,
                event.unit,
                event.labels,
            )
        except (InvalidEventError, ValueError, OverflowError, OSError):
            # events.py already rejects such times and numbers; this guards anything that slips
            # past it (year 0 once raised here and stopped the agent)
            self.rejected += 1
            return
        self.offsets[event.resource] = offset
        self.sources[event.resource] = source
        self.dirty.add(event.resource)

    def take_changes(self, source: str) -> list[tuple[str, dict[str, Any]]]:
        taken = sorted(r for r in self.dirty if self.sources.get(r) == source)
        self.dirty.difference_update(taken)
        return [
            (f"r|{r}", {"s": source, "o": self.offsets[r], "d": self.history.days(r).to_state()})
            for r in taken
        ]

    def load(self, key: str, value: dict[str, Any]) -> None:
        resource = key.split("|", 1)[1]
        self.history.restore(resource, ResourceDays.from_state(value["d"]))
        self.offsets[resource] = int(value["o"])
        self.sources[resource] = value["s"]

    def drop_sources(self, sources: set[str]) -> None:
        for resource in [r for r, s in self.sources.items() if s in sources]:
            self.history.forget(resource)
            self.offsets.pop(resource, None)
            self.sources.pop(resource, None)
            self.dirty.discard(resource)
