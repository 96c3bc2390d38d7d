"""Time to forecast 100 resource series (model selection backtests included) on one core.

Target: under 10 s for 100 series of 400 days, a third of them with a weekly pattern (which
adds the weekly candidates); ``--days 1095`` (the stream's retention) adds the yearly ones.
Prints the time and the ratio to the target; run pinned to one core:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 taskset -c 0 python bench/forecast_speed.py [--days
    1095]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from datetime import date

import numpy as np

from forecasting.forecast import forecast_series
from forecasting.series import DailySeries

TARGET_SECONDS = 10.0


def make_series(count: int, days: int, seed: int) -> list[DailySeries]:
    """Resource-like series: linear or accelerating growth, weekly load patterns, flat ones."""
    rng = np.random.default_rng(seed)
    t = np.arange(days, dtype=float)
    out = []
    for i in range(count):
        level = rng.uniform(10, 1000)
        growth = rng.uniform(0, 0.004) * level * rng.choice([1.0, 1.0, 0.0])
        y = level + growth * t + np.cumsum(rng.normal(0, 0.002 * level, days))
        if i % 3 == 0:  # weekday/weekend load pattern
            y += 0.05 * level * np.where(t % 7 >= 5, -1.0, 0.4)
        if i % 5 == 0:  # accelerating
            y += 0.5 * growth * t**2 / days
        y += rng.normal(0, 0.003 * level, days)
        out.append(DailySeries(date(2026, 1, 1), y, "GB", float(level * 3)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--horizon-days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    series = make_series(args.series, args.days, args.seed)
    forecast_series(series[0], horizon_days=args.horizon_days)  # imports and warm-up, untimed
    started, cpu_started = time.perf_counter(), time.process_time()
    models: Counter[str] = Counter()
    for i, one in enumerate(series):
        result = forecast_series(one, resource=f"r{i}", horizon_days=args.horizon_days)
        models[result.model or result.status] += 1
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    per_series_ms = 1000 * elapsed / len(series)
    print(
        f"{len(series)} series x {args.days} days, horizon {args.horizon_days}: "
        f"{elapsed:.2f} s wall, {cpu:.2f} s CPU ({per_series_ms:.0f} ms/series); "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"target {TARGET_SECONDS:.0f} s for 100 series; ratio time/target = "
        f"{elapsed * 100 / len(series) / TARGET_SECONDS:.2f} (< 1 meets it)"
    )
    print("models chosen: " + ", ".join(f"{k} {v}" for k, v in models.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
