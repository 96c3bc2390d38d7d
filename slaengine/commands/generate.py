"""``slaengine generate``: realistic synthetic events for a month (deterministic per seed)."""

from __future__ import annotations

import argparse
import gzip
import json
from datetime import UTC
from pathlib import Path

from slaengine.errors import SlaEngineError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="write a month of realistic synthetic events as NDJSON",
        description="Diurnal requests with 5xx bursts and outages, long-tailed latencies, "
        "orders with shipping delays and cancellations, growing resources, "
        "read-model projection lag samples with a slow-projection incident.",
    )
    parser.add_argument("--month", help="calendar month, e.g. 2026-10")
    parser.add_argument("--days", type=float, help="instead of --month: this many days ending now")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same events)")
    parser.add_argument(
        "--out", type=Path, required=True, help="output NDJSON file (.gz to compress)"
    )
    parser.add_argument(
        "--requests-per-minute",
        type=float,
        default=6.0,
        help="mean requests per minute and service (default 6)",
    )
    parser.add_argument(
        "--orders-per-hour", type=float, default=30.0, help="mean orders per hour (default 30)"
    )
    parser.add_argument(
        "--hostile-timing",
        action="store_true",
        help="add silent periods, requests arriving up to 3 h late and order events "
        "arriving before their order's creation (held in memory)",
    )
    parser.add_argument(
        "--projection-samples-per-minute",
        type=int,
        default=1,
        metavar="N",
        help="lag samples per minute and projection (default 1; 0 for none)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from datetime import datetime

    from tqdm import tqdm

    from slaengine.synthetic import generate_events, plan_for_days, plan_for_month
    from slaengine.synthetic import with_hostile_timing as hostile

    if bool(args.month) == bool(args.days):
        raise SlaEngineError("give exactly one of --month (e.g. 2026-10) or --days")
    if args.projection_samples_per_minute < 0:
        raise SlaEngineError("--projection-samples-per-minute must be 0 or more")
    options = {
        "requests_per_minute": args.requests_per_minute,
        "orders_per_hour": args.orders_per_hour,
        "projection_samples_per_minute": args.projection_samples_per_minute,
    }
    try:
        plan = (
            plan_for_month(args.month, args.seed, **options)
            if args.month
            else plan_for_days(datetime.now(UTC), args.days, args.seed, **options)
        )
    except ValueError as err:
        raise SlaEngineError(str(err)) from err
    if plan.end > datetime.now(UTC) and args.month:
        raise SlaEngineError(
            f"month {args.month} has not ended yet; events may not lie in the future"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if args.out.suffix == ".gz" else open
    minutes = int((plan.end - plan.start).total_seconds() // 60)
    count = 0
    with (
        opener(args.out, "wt", encoding="utf-8") as out,
        tqdm(total=minutes, unit="min", desc="generating", disable=args.no_progress) as progress,
    ):
        last_minute = None
        events = generate_events(plan)
        if args.hostile_timing:
            events = iter(hostile(list(events), args.seed))
        for event in events:
            out.write(json.dumps(event, separators=(",", ":")) + "\n")
            count += 1
            minute = event["ts"][:16]
            if minute != last_minute:
                progress.update(1)
                last_minute = minute
    print(
        f"wrote {count} events ({plan.start:%Y-%m-%d %H:%M} to {plan.end:%Y-%m-%d %H:%M} UTC) to "
        f"{args.out}"
    )
    return 0
