"""``slaengine rules generate`` (SLO specs -> Prometheus rules) and ``slaengine validate``."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from slaengine.durations import parse_duration


def _label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"invalid label {text!r}: use key=value")
    return key, value


def _period(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def add_parser(subparsers: Any) -> None:
    rules = subparsers.add_parser("rules", help="generate Prometheus rules from SLO specs")
    rules_sub = rules.add_subparsers(
        dest="rules_command", metavar="ACTION", required=True, parser_class=type(rules)
    )
    generate = rules_sub.add_parser(
        "generate", help="SLO specs (Sloth prometheus/v1, OpenSLO, slaengine config) -> rules"
    )
    generate.add_argument("--input", "-i", required=True, type=Path, help="SLO spec file")
    generate.add_argument("--out", "-o", required=True, help="rule file to write ('-' for stdout)")
    generate.add_argument("--disable-alerts", action="store_true", help="no alerting rules")
    generate.add_argument("--disable-recordings", action="store_true", help="no recording rules")
    generate.add_argument(
        "-l",
        "--extra-labels",
        dest="extra_labels",
        action="append",
        type=_label,
        default=[],
        metavar="KEY=VALUE",
        help="label added to every recording rule (repeatable)",
    )
    generate.add_argument(
        "--default-slo-period",
        type=_period,
        default=timedelta(days=30),
        metavar="DURATION",
        help="SLO period, e.g. 30d or 28d (default 30d)",
    )
    generate.add_argument(
        "--slo-period-windows-path",
        type=Path,
        metavar="DIR",
        help="directory of AlertWindows files replacing the built-in ones",
    )
    generate.add_argument(
        "--alert-rules",
        type=Path,
        metavar="PATH",
        help="alert_rules YAML file or directory: add threshold/no-data rules",
    )
    generate.set_defaults(func=run_generate)

    validate = subparsers.add_parser(
        "validate", help="validate SLO specs, alert_rules and AlertWindows files"
    )
    validate.add_argument(
        "paths", nargs="+", type=Path, metavar="FILE", help="files or directories (*.yaml, *.yml)"
    )
    validate.add_argument(
        "--default-slo-period",
        type=_period,
        default=timedelta(days=30),
        metavar="DURATION",
        help="SLO period the specs must fit (default 30d)",
    )
    validate.set_defaults(func=run_validate)


def run_generate(args: argparse.Namespace) -> int:
    from slaengine import __version__
    from slaengine.rules.pipeline import generate_rules_text

    text = generate_rules_text(
        args.input,
        version=__version__,
        period=args.default_slo_period,
        windows_dir=args.slo_period_windows_path,
        extra_labels=dict(args.extra_labels),
        disable_alerts=args.disable_alerts,
        disable_recordings=args.disable_recordings,
        alert_rules=args.alert_rules,
    )
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from slaengine.errors import SlaEngineError
    from slaengine.rules.pipeline import validate_file, yaml_files

    failures = 0
    files = yaml_files(args.paths)
    for path in files:
        try:
            summary = validate_file(path, period=args.default_slo_period)
        except SlaEngineError as err:
            failures += 1
            print(f"slaengine validate: error: {err}", file=sys.stderr)
        else:
            print(f"{path}: ok ({summary})")
    if not files:
        print("slaengine validate: error: no *.yaml or *.yml files found", file=sys.stderr)
        return 1
    return 1 if failures else 0
