"""``slaengine report``: render the monthly SLA report of one month to a PDF file.

slaengine report --month 2026-10 --events events.jsonl --config slo.yaml --out report.pdf
slaengine report ... --format csv|json --out figures.csv   (the numbers behind the PDF)
"""

from __future__ import annotations

import argparse
import importlib.util
from datetime import UTC, date, datetime
from pathlib import Path


def month_argument(text: str) -> date:
    """argparse type: a malformed month is a usage error (exit 2, one line)."""
    from slaengine.report.errors import ReportRequestError
    from slaengine.report.months import parse_month

    try:
        return parse_month(text)
    except ReportRequestError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "report",
        help="render the monthly SLA report PDF",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument(
        "--month",
        required=True,
        type=month_argument,
        metavar="YYYY-MM",
        help="the month to report (must have started)",
    )
    parser.add_argument(
        "--events",
        required=True,
        type=Path,
        metavar="FILE",
        help="events file (JSON lines) the SLIs are computed from",
    )
    parser.add_argument(
        "--config",
        required=True,
        type=Path,
        metavar="FILE",
        help="SLO config (slo.yaml) with the report: section",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="file to write")
    parser.add_argument(
        "--format",
        choices=("pdf", "csv", "json"),
        default="pdf",
        help="pdf (default), or the PDF's figures as csv or json",
    )
    parser.add_argument(
        "--style",
        type=Path,
        metavar="FILE",
        help="report style YAML (default templates/report_style.yaml)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace, now: datetime | None = None) -> int:
    from slaengine.report.errors import ReportDataError
    from slaengine.report.export import render_export
    from slaengine.report.formatting import format_headline
    from slaengine.report.months import ensure_not_future
    from slaengine.report.pdf import write_report
    from slaengine.report.styles import DEFAULT_STYLE_PATH, load_report_style

    for name in ("events", "config"):
        path: Path = getattr(args, name)
        if not path.is_file():
            raise ReportDataError(f"--{name} {path}: no such file")
    if not args.out.parent.is_dir():
        raise ReportDataError(f"--out {args.out}: folder {args.out.parent} does not exist")
    style = load_report_style(args.style or DEFAULT_STYLE_PATH)
    # The latest timezone (UTC+14) decides "future", so no real month is ever refused here;
    # the collector applies the config's own timezone to the data.
    ensure_not_future(args.month, now or datetime.now(UTC), "Pacific/Kiritimati")
    if importlib.util.find_spec("slaengine.report.collect") is None:
        raise ReportDataError(
            "the report data collector (slaengine.report.collect) is not installed in this build"
        )
    from slaengine.report.collect import build_month_report  # type: ignore[import-not-found]

    report = build_month_report(args.events, args.config, args.month)
    if args.format == "pdf":
        write_report(report, args.out, style)
    else:
        args.out.write_bytes(render_export(report, args.format))
    for slo in report.slos:
        print(format_headline(slo))
    print(f"wrote {args.out}")
    return 0
