"""Realistic synthetic traffic for a month, deterministic for a seed (``slaengine generate``).

Diurnal request volume per service, short 5xx bursts and a few full outages,
long-tailed (log-normal) latencies, orders that ship after a log-normal delay
(a few late, a few cancelled), slowly growing resources sampled hourly, and
read-model projection lag samples (one a minute per projection, ~0.15 s with a
long tail) with one slow-projection incident. Events come out in time order.
Projection samples use their own random stream, so the other events of a seed
are the same with or without them.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from slaengine.calendar import next_month, parse_month

MINUTE_MS = 60_000
ENDPOINTS = ("GET /orders/{id}", "POST /orders", "GET /orders", "GET /health")
# the read models of the shop; AvailableStock reports its lag, OrderList its source's time
PROJECTIONS = ("AvailableStock", "OrderList")


@dataclass(frozen=True)
class Incident:
    service: str
    start_ms: int
    minutes: int
    error_ratio: float  # 1.0 = full outage
    latency_factor: float = 1.0


@dataclass(frozen=True)
class SlowProjection:
    projection: str
    start_ms: int
    minutes: int
    lag_ms: float  # typical lag during the incident


@dataclass
class TrafficPlan:
    start: datetime
    end: datetime
    seed: int = 1
    services: tuple[str, ...] = ("orders-api", "catalog-api")
    requests_per_minute: float = 6.0  # mean per service; the diurnal curve moves it ±60 %
    orders_per_hour: float = 30.0
    incidents: list[Incident] = field(default_factory=list)
    projections: tuple[str, ...] = PROJECTIONS
    projection_samples_per_minute: int = 1  # per projection; 0 = no projection samples
    slow_projections: list[SlowProjection] | None = None  # None: one seeded incident

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


def plan_incidents(plan: TrafficPlan) -> list[Incident]:
    """A few outages and 5xx bursts at seeded random times (the first service always has an
    outage)."""
    rng = random.Random(plan.seed * 7919)
    minutes = (plan.end_ms - plan.start_ms) // MINUTE_MS
    incidents = []
    for index, service in enumerate(plan.services):
        outages = 2 if index == 0 else 1
        for _ in range(outages):
            start = plan.start_ms + rng.randrange(60, max(61, minutes - 120)) * MINUTE_MS
            incidents.append(Incident(service, start, rng.randint(8, 25), 1.0, 3.0))
        for _ in range(max(1, minutes // 4000)):
            start = plan.start_ms + rng.randrange(0, max(1, minutes - 5)) * MINUTE_MS
            incidents.append(
                Incident(service, start, rng.randint(1, 4), rng.uniform(0.05, 0.3), 1.5)
            )
    return sorted(incidents, key=lambda i: i.start_ms)


def plan_slow_projections(plan: TrafficPlan) -> list[SlowProjection]:
    """One slow-projection incident (the first projection, 20-40 minutes at 3-12 s behind)."""
    if not plan.projections:
        return []
    rng = random.Random(plan.seed * 104_729)
    minutes = (plan.end_ms - plan.start_ms) // MINUTE_MS
    start = plan.start_ms + rng.randrange(0, max(1, minutes - 45)) * MINUTE_MS
    return [
        SlowProjection(plan.projections[0], start, rng.randint(20, 40), rng.uniform(3000, 12000))
    ]


def _projection_samples(
    plan: TrafficPlan, slow: list[SlowProjection], minute_start: int, rng: random.Random
) -> list[tuple[int, dict[str, Any]]]:
    samples = []
    for index, projection in enumerate(plan.projections):
        for _ in range(plan.projection_samples_per_minute):
            ts = minute_start + rng.randrange(MINUTE_MS)
            lag = rng.lognormvariate(math.log(150), 0.6)
            for incident in slow:
                if (
                    incident.projection == projection
                    and incident.start_ms <= ts < incident.start_ms + incident.minutes * MINUTE_MS
                ):
                    lag = incident.lag_ms * rng.uniform(0.7, 1.3)
            body: dict[str, Any] = {"ts": _iso(ts), "projection": projection}
            if index % 2 == 0:
                body["lag_ms"] = round(lag, 1)
            else:  # the other form of the contract: when the source event was appended
                body["source_ts"] = _iso(ts - int(lag))
            samples.append((ts, body))
    return samples


def _diurnal(ts_ms: int) -> float:
    hour = (ts_ms / 3_600_000) % 24
    return 1.0 + 0.6 * math.sin((hour - 9) / 24 * 2 * math.pi)


def _active(incidents: list[Incident], service: str, ts_ms: int) -> Incident | None:
    for incident in incidents:
        if (
            incident.service == service
            and incident.start_ms <= ts_ms < incident.start_ms + incident.minutes * MINUTE_MS
        ):
            return incident
    return None


def _iso(ts_ms: int) -> str:
    return (
        datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{ts_ms % 1000:03d}Z"
    )


def generate_events(plan: TrafficPlan) -> Iterator[dict[str, Any]]:
    """All events of the plan, in event-time order."""
    rng = random.Random(plan.seed)
    projection_rng = random.Random(plan.seed * 15_485_863)
    incidents = plan.incidents or plan_incidents(plan)
    slow = (
        plan.slow_projections if plan.slow_projections is not None else plan_slow_projections(plan)
    )
    scheduled: list[tuple[int, int, dict[str, Any]]] = []  # heap of future order events
    sequence = 0
    order_number = 0
    for minute_start in range(plan.start_ms, plan.end_ms, MINUTE_MS):
        batch: list[tuple[int, dict[str, Any]]] = []
        for service in plan.services:
            incident = _active(incidents, service, minute_start)
            mean = plan.requests_per_minute * _diurnal(minute_start)
            for _ in range(_poisson(rng, mean)):
                ts = minute_start + rng.randrange(MINUTE_MS)
                failing = incident is not None and rng.random() < incident.error_ratio
                status = (
                    rng.choice((500, 502, 503))
                    if failing
                    else (
                        429 if rng.random() < 0.0005 else rng.choice((200, 200, 200, 201, 204, 404))
                    )
                )
                factor = incident.latency_factor if incident else 1.0
                latency = round(rng.lognormvariate(math.log(80), 0.7) * factor, 2)
                batch.append(
                    (
                        ts,
                        {
                            "ts": _iso(ts),
                            "service": service,
                            "endpoint": rng.choice(ENDPOINTS),
                            "status": status,
                            "latency_ms": latency,
                            "request_id": f"r{plan.seed}-{ts}-{rng.randrange(10**6)}",
                        },
                    )
                )
        for _ in range(_poisson(rng, plan.orders_per_hour / 60 * _diurnal(minute_start))):
            order_number += 1
            created = minute_start + rng.randrange(MINUTE_MS)
            order_id = f"o-{plan.seed}-{order_number:07d}"
            warehouse = rng.choice(("ams-1", "fra-2", "lon-1"))
            batch.append(
                (
                    created,
                    {
                        "ts": _iso(created),
                        "order_id": order_id,
                        "event": "created",
                        "warehouse": warehouse,
                    },
                )
            )
            for ts, kind in _order_future(rng, created):
                if ts < plan.end_ms:
                    sequence += 1
                    heapq.heappush(
                        scheduled,
                        (
                            ts,
                            sequence,
                            {
                                "ts": _iso(ts),
                                "order_id": order_id,
                                "event": kind,
                                "warehouse": warehouse,
                            },
                        ),
                    )
        while scheduled and scheduled[0][0] < minute_start + MINUTE_MS:
            ts, _, body = heapq.heappop(scheduled)
            batch.append((ts, body))
        if minute_start % 3_600_000 == 0:
            batch.extend((minute_start, body) for body in _resources(plan, minute_start, rng))
        if plan.projection_samples_per_minute > 0:
            batch.extend(_projection_samples(plan, slow, minute_start, projection_rng))
        batch.sort(key=lambda item: item[0])
        for _, body in batch:
            yield body


def _order_future(rng: random.Random, created: int) -> list[tuple[int, str]]:
    allocated = created + int(rng.uniform(1, 30) * MINUTE_MS)
    roll = rng.random()
    if roll < 0.02:
        return [
            (allocated, "allocated"),
            (allocated + int(rng.uniform(0.5, 6) * 3_600_000), "cancelled"),
        ]
    hours = rng.lognormvariate(math.log(7), 0.55) if roll > 0.05 else rng.uniform(24.5, 40)
    return [(allocated, "allocated"), (created + int(hours * 3_600_000), "shipped")]


def _resources(plan: TrafficPlan, ts: int, rng: random.Random) -> list[dict[str, Any]]:
    days = (ts - plan.start_ms) / 86_400_000
    iso = _iso(ts)
    return [
        {
            "ts": iso,
            "resource": "database_size",
            "value": round(45 + days * 5 / 30 + rng.gauss(0, 0.05), 3),
            "unit": "GB",
            "capacity": 100,
        },
        {
            "ts": iso,
            "resource": "event_store_size",
            "value": int(5_000_000 + days * 15_000 + rng.gauss(0, 500)),
            "unit": "events",
            "capacity": 10_000_000,
        },
        {
            "ts": iso,
            "resource": "storage_locations",
            "value": int(880 + days * 40 / 30),
            "unit": "locations",
            "capacity": 1000,
        },
        {
            "ts": iso,
            "resource": "api_cpu",
            "value": round(45 + 20 * _diurnal(ts) + rng.gauss(0, 3), 2),
            "unit": "percent",
            "capacity": 100,
            "labels": {"service": plan.services[0]},
        },
    ]


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def plan_for_month(month: str, seed: int, **kwargs: Any) -> TrafficPlan:
    """A month of traffic in UTC; ValueError when ``month`` is not ``YYYY-MM``."""
    first = parse_month(month)
    following = next_month(first)
    return TrafficPlan(
        start=datetime(first.year, first.month, 1, tzinfo=UTC),
        end=datetime(following.year, following.month, 1, tzinfo=UTC),
        seed=seed,
        **kwargs,
    )


def plan_for_days(end: datetime, days: float, seed: int, **kwargs: Any) -> TrafficPlan:
    end = end.replace(second=0, microsecond=0)
    return TrafficPlan(start=end - timedelta(days=days), end=end, seed=seed, **kwargs)


@dataclass(frozen=True)
class HostileTiming:
    """Timing faults real producers have, layered on a generated log
    (``generate --hostile-timing``).

    ``silences``: periods in which the first service sends nothing at all (a total outage that
    stops traffic); ``late_ratio``: requests that arrive 15 min – 3 h after their time (beyond
    the grace period); ``reordered_ratio``: orders whose shipment or cancellation arrives before
    their creation.
    """

    silences: int = 2
    late_ratio: float = 0.01
    reordered_ratio: float = 0.1


def with_hostile_timing(
    events: list[dict[str, Any]], seed: int, timing: HostileTiming = HostileTiming()
) -> list[dict[str, Any]]:
    """The events of a time-ordered log with silences, late requests and reordered order events."""
    rng = random.Random(seed * 104_729)
    if not events:
        return []
    first_ms, last_ms = _ms(events[0]["ts"]), _ms(events[-1]["ts"])
    services = [e["service"] for e in events if "service" in e]
    silent_service = services[0] if services else None
    silences = []
    for _ in range(timing.silences):
        start = rng.randrange(first_ms, max(first_ms + 1, last_ms - 3 * 3_600_000))
        silences.append((start, start + rng.randint(30, 120) * MINUTE_MS))
    kept = [
        e
        for e in events
        if not (
            e.get("service") == silent_service
            and any(lo <= _ms(e["ts"]) < hi for lo, hi in silences)
        )
    ]
    # order events: the decisive one of some orders moves to just before the order's creation
    position = {}
    for index, event in enumerate(kept):
        if event.get("event") == "created":
            position[event["order_id"]] = index
    moved: dict[int, list[dict[str, Any]]] = {}
    late: list[tuple[int, dict[str, Any]]] = []
    out_of_place: set[int] = set()
    for index, event in enumerate(kept):
        if (
            event.get("event") in ("shipped", "cancelled")
            and event["order_id"] in position
            and rng.random() < timing.reordered_ratio
        ):
            moved.setdefault(position[event["order_id"]], []).append(event)
            out_of_place.add(index)
        elif "service" in event and rng.random() < timing.late_ratio:
            arrival = _ms(event["ts"]) + rng.randint(15, 180) * MINUTE_MS
            late.append((arrival, event))
            out_of_place.add(index)
    late.sort(key=lambda item: item[0])
    result: list[dict[str, Any]] = []
    pending = 0
    for index, event in enumerate(kept):
        if index in moved:
            result.extend(moved[index])
        if index in out_of_place:
            continue
        while pending < len(late) and late[pending][0] <= _ms(event["ts"]):
            result.append(late[pending][1])
            pending += 1
        result.append(event)
    result.extend(event for _, event in late[pending:])
    return result


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)
