"""``slaengine compute``: SLIs of an event log in batch mode (same engine as the workers)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from slaengine.errors import SlaEngineError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compute",
        help="compute SLIs, budgets and percentiles from an NDJSON event log",
        description="Batch mode: the streaming engine's code over an NDJSON(.gz) event log.",
    )
    parser.add_argument("--events", type=Path, required=True, help="NDJSON or NDJSON.gz event log")
    parser.add_argument("--config", type=Path, required=True, help="SLO config (slo.yaml)")
    parser.add_argument(
        "--at",
        help="evaluate windows ending at this ISO-8601 time "
        "(default: the end of the newest event's minute)",
    )
    parser.add_argument("--format", choices=("json", "text"), default="json")
    parser.set_defaults(func=run)


EARLIEST_AT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_AHEAD = timedelta(minutes=5)  # the same bounds as event timestamps (docs/events.md)


def _in_range(moment: datetime, now: datetime) -> bool:
    try:
        return EARLIEST_AT <= moment <= now + LATEST_AHEAD
    except OverflowError:
        return False


def parse_iso_ms(text: str, now: datetime | None = None) -> int:
    """``--at``: an ISO-8601 time from 2000 up to five minutes from now (one-line error
    otherwise)."""
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        at_ms = int(parsed.timestamp() * 1000)
    except (ValueError, OverflowError):
        raise SlaEngineError(
            f"--at must be an ISO-8601 time like 2026-10-31T23:59:00Z, got {text!r}"
        ) from None
    if not _in_range(parsed, now or datetime.now(UTC)):
        raise SlaEngineError(
            f"--at {text} is outside the range slaengine evaluates "
            f"(from {EARLIEST_AT:%Y-%m-%d} to five minutes from now)"
        )
    return at_ms


def run(args: argparse.Namespace) -> int:
    from slaengine.batch import helper_process, run_batch
    from slaengine.config import load_sla_config
    from slaengine.sli.results import evaluate_all

    config = load_sla_config(args.config)
    at_ms = parse_iso_ms(args.at) if args.at else None
    with helper_process() as helper:  # no forecast here: no resource events kept
        now_ms = int(time.time() * 1000)
        result = run_batch(
            args.events, config, now_ms, at_ms=at_ms, keep_resources=False, helper=helper
        )
    if at_ms is None:  # the end of the newest event's minute: every event is inside the windows
        newest = max(result.engine.watermarks.values(), default=None)
        at_ms = (newest // 60_000 + 1) * 60_000 if newest is not None else int(time.time() * 1000)
    rows = [row.to_json() for row in evaluate_all(result.engine, at_ms)]
    document = {
        "at": datetime.fromtimestamp(at_ms / 1000, UTC).isoformat().replace("+00:00", "Z"),
        "events": {
            "valid": result.valid,
            "invalid": result.invalid_total,
            "invalid_by_reason": dict(sorted(result.invalid.items())),
            "late_dropped": result.engine.late_dropped,
        },
        "slos": rows,
    }
    if args.format == "json":
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"at {document['at']}: {result.valid} valid events, {result.invalid_total} invalid")
        print(f"{'SLO':28} {'window':16} {'value':>9} {'target':>7} {'budget left':>11}  status")
        for row in rows:
            value = "-" if row["value"] is None else f"{row['value']:.3f}%"
            print(
                f"{row['name']:28} {row['window']:16} {value:>9} {row['target']:>6}% "
                f"{row['error_budget_remaining'] * 100:>10.1f}%  {row['status']}"
            )
    return 0
