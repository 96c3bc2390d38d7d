"""How long a 50-SLO monthly report takes to render, against the 2 s goal and the 10 s requirement.

    python bench/report_render.py [--slos 50] [--runs 5] [--out /tmp/bench-report.pdf]

Builds a synthetic October with uptime, availability, latency and fulfillment SLOs
(31 daily points each, latency percentiles, worst windows), incidents, fulfillment by
day, lag, three capacity forecasts and a 12-month trend, then times ``render_report``
(median of the runs, after one warm-up) next to a 5-SLO report in the same process.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np

from slaengine.report.model import (
    CapacitySection,
    DayPoint,
    DayRatio,
    ForecastRow,
    IncidentRow,
    LagSummary,
    MonthPoint,
    MonthReport,
    ProjectionLag,
    SloMonth,
    WorstWindow,
)
from slaengine.report.pdf import render_report

TARGET_SECONDS = 2.0
REQUIRED_SECONDS = 10.0
MONTH = date(2026, 10, 1)
KINDS = ("uptime", "availability", "latency", "fulfillment")


def synthetic_slo(index: int, rng: np.random.Generator) -> SloMonth:
    kind = KINDS[index % len(KINDS)]
    target = {"uptime": 99.9, "availability": 99.5, "latency": 99.0, "fulfillment": 95.0}[kind]
    days, windows = [], []
    for day in range(1, 32):
        total = 1440 if kind == "uptime" else int(rng.integers(5_000, 50_000))
        bad_rate = (1 - target / 100) * float(rng.gamma(1.2, 0.6))
        bad = min(total, int(total * bad_rate))
        p50 = p95 = p99 = None
        if kind == "latency":
            p50 = float(rng.normal(180, 10))
            p95, p99 = p50 * 2.2, p50 * 3.1
        days.append(
            DayPoint(
                MONTH.replace(day=day),
                total - bad,
                total,
                100.0 * (total - bad) / total,
                p50,
                p95,
                p99,
            )
        )
        start = datetime(2026, 10, day, 3, tzinfo=UTC)
        windows.append(WorstWindow(start, start + timedelta(hours=1), 100.0 * (1 - 3 * bad_rate)))
    good, total = sum(p.good for p in days), sum(p.total for p in days)
    attained = 100.0 * good / total
    consumed = (total - good) / ((1 - target / 100) * total)
    status = "breached" if attained < target else "at-risk" if consumed > 0.75 else "met"
    latency = {"p50_ms": 180.0, "p95_ms": 396.0, "p99_ms": 558.0} if kind == "latency" else {}
    return SloMonth(
        name=f"{kind}-{index:02d}",
        display_name=f"Service {index:02d}",
        sli=kind,  # type: ignore[arg-type]
        service=f"svc-{index % 7}",
        target=target,
        attained=attained,
        status=status,  # type: ignore[arg-type]
        budget_consumed=consumed,
        budget_remaining=1 - consumed,
        previous_attained=attained - 0.01,
        daily=tuple(days),
        worst_windows=tuple(sorted(windows, key=lambda w: w.value_percent)[:3]),
        latency_threshold_ms=500.0 if kind == "latency" else None,
        **latency,
    )


def synthetic_capacity(name: str, rng: np.random.Generator) -> CapacitySection:
    start = date(2026, 7, 1)
    history = tuple(
        (start + timedelta(days=i), 200 + 1.5 * i + float(rng.normal(0, 5))) for i in range(120)
    )
    last = history[-1]
    forecast = tuple(
        ForecastRow(
            last[0] + timedelta(days=s),
            last[1] + 1.5 * s,
            last[1] + 1.5 * s - 4 * s**0.5,
            last[1] + 1.5 * s + 4 * s**0.5,
            last[1] + 1.5 * s - 6 * s**0.5,
            last[1] + 1.5 * s + 6 * s**0.5,
        )
        for s in range(1, 91)
    )
    return CapacitySection(
        name,
        "GiB",
        600.0,
        "Holt linear trend",
        history,
        forecast,
        {80: 60.0, 90: 100.0, 100: None},
        45.0,
        "Grow the volume by 25%.",
    )


def synthetic_report(slo_count: int, seed: int = 1) -> MonthReport:
    rng = np.random.default_rng(seed)
    slos = tuple(synthetic_slo(i, rng) for i in range(slo_count))
    incidents = tuple(
        IncidentRow(
            f"Incident {i}",
            "critical" if i % 3 == 0 else "warning",
            datetime(2026, 10, 1 + i, 4, tzinfo=UTC),
            datetime(2026, 10, 1 + i, 5, 12, tzinfo=UTC),
            timedelta(minutes=3),
            timedelta(minutes=72),
        )
        for i in range(20)
    )
    trend = tuple(
        MonthPoint(
            slo.name,
            date(2025 + (m + 10) // 12, (m + 10) % 12 + 1, 1),
            min(100.0, slo.target + float(rng.normal(0.02, 0.05))),
            slo.target,
        )
        for slo in slos
        for m in range(12)
    )
    return MonthReport(
        organisation="Bench Org",
        service_name="Bench platform",
        month=MONTH,
        timezone="Europe/Berlin",
        generated_at=datetime(2026, 11, 1, 5, tzinfo=UTC),
        slos=slos,
        incidents=incidents,
        fulfillment_by_day=tuple(
            DayRatio(MONTH.replace(day=d), 960 + d, 1000) for d in range(1, 32)
        ),
        lag_summary=LagSummary(
            5.0, tuple(ProjectionLag(f"projection-{i}", 0.5, 2.0, 40.0, 99.9) for i in range(4))
        ),
        capacity=tuple(synthetic_capacity(f"volume-{i}", rng) for i in range(3)),
        trend=trend,
        definitions={
            slo.name: f"good / total {slo.sli} events, target {slo.target}%" for slo in slos
        },
    )


def time_render(report: MonthReport, runs: int) -> tuple[float, int]:
    size = len(render_report(report))  # warm-up: fonts, style file, imports
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        render_report(report)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--slos", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", help="also write the benchmark PDF here, to look at it")
    args = parser.parse_args()
    small, large = synthetic_report(5), synthetic_report(args.slos)
    small_seconds, _ = time_render(small, args.runs)
    large_seconds, size = time_render(large, args.runs)
    if args.out:
        with open(args.out, "wb") as handle:
            handle.write(render_report(large))
    print(f"render  5 SLOs: {small_seconds:.3f} s (median of {args.runs})")
    print(
        f"render {args.slos} SLOs: {large_seconds:.3f} s (median of {args.runs}), "
        f"{size / 1024:.0f} KiB, {large_seconds / args.slos * 1000:.1f} ms per SLO"
    )
    print(
        f"ratio to the {TARGET_SECONDS:.0f} s goal:        {large_seconds / TARGET_SECONDS:.3f} "
        f"({'met' if large_seconds < TARGET_SECONDS else 'MISSED'})"
    )
    print(
        f"ratio to the {REQUIRED_SECONDS:.0f} s requirement: "
        f"{large_seconds / REQUIRED_SECONDS:.3f} "
        f"({'met' if large_seconds < REQUIRED_SECONDS else 'MISSED'})"
    )
    print(f"scaling {args.slos} vs 5 SLOs: x{large_seconds / small_seconds:.1f}")


if __name__ == "__main__":
    main()
