"""``slaengine forecast``: capacity forecast of a ds,y CSV (JSON or text)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

KINDS = ("database", "api_instances", "storage_locations", "event_store", "generic")
TEXT_STEP_DAYS = 30


def positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{raw!r} must be a positive number")
    return value


def horizon(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number of days") from None
    if not 7 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"{raw!r} must be between 7 and 1000 days")
    return value


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "forecast",
        help="forecast a resource from a ds,y CSV",
        description="Fit candidate models, pick one by rolling-origin backtest and project the "
        "series with 80/95 %% intervals, threshold crossings and a recommendation.",
    )
    parser.add_argument(
        "--csv",
        required=True,
        type=Path,
        metavar="FILE",
        help="CSV with columns ds (date or timestamp) and y; finer than daily "
        "is resampled to daily",
    )
    parser.add_argument("--capacity", type=positive_float, help="capacity in the unit of y")
    parser.add_argument(
        "--horizon-days",
        type=horizon,
        default=None,
        help="days to project (default: the config's, 180)",
    )
    parser.add_argument("--format", choices=("json", "text"), default="json")
    parser.add_argument("--resource", help="resource name; its kind comes from the config")
    parser.add_argument("--kind", choices=KINDS, help="resource kind for the recommendation")
    parser.add_argument("--config", type=Path, help="capacity YAML (default: packaged)")
    parser.add_argument(
        "--bounded",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the value cannot exceed the capacity, so the forecast saturates "
        "there (default: yes for storage_locations and api_instances)",
    )
    parser.add_argument(
        "--aggregate",
        choices=("max", "last"),
        default=None,
        help="daily value when the CSV is finer than daily (default max)",
    )
    parser.add_argument("--timezone", default="UTC", help="timezone of calendar days")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from forecasting.config import ResourceSpec, load_capacity_config
    from forecasting.csvinput import read_csv_series
    from forecasting.forecast import forecast_series
    from forecasting.recommend import recommend

    config = load_capacity_config(args.config)
    resource = args.resource or args.csv.stem
    spec = config.spec_for(resource)
    if args.kind:
        spec = ResourceSpec(kind=args.kind, daily_value=spec.daily_value)
    series = read_csv_series(args.csv, args.timezone, args.aggregate or spec.daily_value)
    forecast = forecast_series(
        series,
        resource=resource,
        capacity=args.capacity,
        horizon_days=args.horizon_days or config.horizon_days,
        bounded=spec.is_bounded if args.bounded is None else args.bounded,
    )
    recent = series.filled().values[-config.kinds.api_instances.sustained_days :].tolist()
    recommendation = recommend(forecast, spec, config.kinds, recent)
    result = forecast.to_json(include_rows=True)
    result["recommendation"] = recommendation.to_json()
    if args.format == "json":
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(result))
    return 0


def render_text(result: dict[str, Any]) -> str:
    unit = f" {result['unit']}" if result["unit"] else ""
    lines = [
        f"resource:       {result['resource']} ({result['status']}: {result['message']})",
        f"history:        {result['history_days']} days to {result['last_day']}, "
        f"current {result['current']}{unit}"
        + (f" of {result['capacity']:g}" if result["capacity"] else ""),
    ]
    if result["model"]:
        backtest = result["backtest"] or {}
        lines += [
            (
                f"model:          {result['model']} (backtest sMAPE "
                f"{backtest.get('smape')} %, MASE {backtest.get('mase')})"
            ),
            f"growth/month:   {result['growth_per_month']}{unit}",
        ]
        if result["step_change"]:
            lines.append(
                f"step change:    {result['step_change']['date']} "
                f"({result['step_change']['jump']:+g}{unit}); fitted from "
                f"{result['fitted_from']}"
            )
    for percent, days in result["days_to"].items():
        earliest = result["earliest_days_to"][percent]
        lines.append(f"{percent:>3} % reached:  likely {_days(days)}, earliest {_days(earliest)}")
    rows = result.get("forecast") or []
    if rows:
        lines.append(
            f"{'ds':<12}{'yhat':>14}{'lower80':>14}{'upper80':>14}{'lower95':>14}"
            f"{'upper95':>14}{'linear (ref)':>14}"
        )
        picked = rows[TEXT_STEP_DAYS - 1 :: TEXT_STEP_DAYS]
        if rows[-1] not in picked:
            picked.append(rows[-1])
        for row in picked:
            lines.append(
                f"{row['ds']:<12}"
                + "".join(
                    f"{row[k]:>14.6g}"
                    for k in ("yhat", "lower80", "upper80", "lower95", "upper95", "linear")
                )
            )
    lines.append(f"recommendation: {result['recommendation']['message']}")
    return "\n".join(lines) + "\n"


def _days(days: int | None) -> str:
    return "not projected" if days is None else f"in {days} days"
