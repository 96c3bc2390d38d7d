"""The aggregation every contender computes, and the checks of its results against a reference.

Per service: request counts per event-time minute and a DDSketch p95 of the
latencies (slaengine's ``LatencySketch``: DDSketch's logarithmic mapping, 1 %
relative accuracy, so every contender's p95 is the same number exactly).
The reference is computed in the bench from the generated events; each
contender's summary must equal it. The real worker is checked through its
``/api/v1/slos`` answer instead (it keeps SLO windows, not raw minutes): the
demo config's SLO totals, good counts, uptime minutes and p95 follow from the
same per-minute reference.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from slaengine.sli.sketch import LatencySketch

MINUTE_MS = 60_000
UPTIME_GOOD_RATIO = 0.95  # the demo config's api-uptime slice_good_ratio
LATENCY_THRESHOLD_MS = 500.0  # the demo config's api-latency threshold_ms


def ts_ms(text: str) -> int:
    return round(datetime.fromisoformat(text).timestamp() * 1000)


def is_good_status(status: int) -> bool:
    return status < 500 and status != 429


class Aggregate:
    """Per-minute counts (and good counts) and a latency sketch per service."""

    def __init__(self) -> None:
        self.events = 0
        self.minutes: dict[str, dict[int, list[int]]] = {}  # service -> minute -> [count, good]
        self.sketches: dict[str, LatencySketch] = {}

    def add(self, event: dict[str, Any]) -> None:
        self.events += 1
        service = event["service"]
        minute = ts_ms(event["ts"]) // MINUTE_MS
        per_minute = self.minutes.setdefault(service, {})
        cell = per_minute.get(minute)
        if cell is None:
            cell = per_minute[minute] = [0, 0]
        cell[0] += 1
        cell[1] += is_good_status(event["status"])
        sketch = self.sketches.get(service)
        if sketch is None:
            sketch = self.sketches[service] = LatencySketch()
        sketch.add(float(event["latency_ms"]))

    def add_message(self, value: bytes) -> None:
        """One Kafka message: a JSON event or a JSON array of events (an envelope)."""
        decoded = json.loads(value)
        if isinstance(decoded, list):
            for event in decoded:
                self.add(event)
        else:
            self.add(decoded)

    def summary(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "minutes": {
                service: {str(m): cell for m, cell in sorted(per_minute.items())}
                for service, per_minute in sorted(self.minutes.items())
            },
            "p95_ms": {
                service: sketch.quantile(0.95) for service, sketch in sorted(self.sketches.items())
            },
        }


def reference(events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    aggregate = Aggregate()
    for event in events:
        aggregate.add(event)
    return aggregate.summary()


def differences(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """What differs between two summaries (empty when the contender is exact)."""
    problems = []
    if got["events"] != expected["events"]:
        problems.append(f"events {got['events']} != {expected['events']}")
    for service, minutes in expected["minutes"].items():
        theirs = got["minutes"].get(service, {})
        wrong = [m for m, cell in minutes.items() if list(theirs.get(m, [])) != list(cell)]
        extra = set(theirs) - set(minutes)
        if wrong or extra:
            problems.append(f"{service}: {len(wrong)} minutes differ, {len(extra)} unexpected")
        if got["p95_ms"].get(service) != expected["p95_ms"][service]:
            problems.append(
                f"{service}: p95 {got['p95_ms'].get(service)} != {expected['p95_ms'][service]}"
            )
    return problems


def expected_slo_rows(
    expected: dict[str, Any], latencies_good: dict[str, int]
) -> dict[str, tuple[int, int]]:
    """(good, total) the demo config's SLOs must show over 30 days, from the reference."""

    def totals(service: str) -> tuple[int, int]:
        cells = expected["minutes"].get(service, {}).values()
        return sum(c[1] for c in cells), sum(c[0] for c in cells)

    orders_minutes = expected["minutes"].get("orders-api", {}).values()
    up = sum(1 for count, good in orders_minutes if good / count >= UPTIME_GOOD_RATIO)
    return {
        "api-availability": totals("orders-api"),
        "catalog-availability": totals("catalog-api"),
        "api-latency": (latencies_good.get("orders-api", 0), totals("orders-api")[1]),
        "api-uptime": (up, len(orders_minutes)),
    }


def latency_good_counts(events: Iterable[dict[str, Any]]) -> dict[str, int]:
    good: dict[str, int] = {}
    for event in events:
        if event["latency_ms"] <= LATENCY_THRESHOLD_MS:
            good[event["service"]] = good.get(event["service"], 0) + 1
    return good


def worker_differences(
    expected: dict[str, Any], latencies_good: dict[str, int], answer: dict[str, Any]
) -> list[str]:
    """Compare a worker's ``/api/v1/slos`` answer (30-day rows) with the reference."""
    rows = {row["name"]: row for row in answer["slos"] if row["window"] == "30d"}
    problems = []
    for name, (good, total) in expected_slo_rows(expected, latencies_good).items():
        row = rows.get(name)
        if row is None:
            problems.append(f"{name}: no 30d row")
        elif (row["good"], row["total"]) != (good, total):
            problems.append(f"{name}: good/total {row['good']}/{row['total']} != {good}/{total}")
    p95 = rows.get("api-latency", {}).get("p95_ms")
    if p95 != expected["p95_ms"].get("orders-api"):
        problems.append(f"api-latency p95 {p95} != {expected['p95_ms'].get('orders-api')}")
    return problems
