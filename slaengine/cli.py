"""slaengine: SLIs from Kafka events, Prometheus gauges and rules, alert routing, forecasts,
SLA reports.

The command line has one subcommand per module, wired here.

Each command module exposes ``add_parser(subparsers)`` which registers its
parser and sets ``func(args) -> int``. Modules import heavy dependencies
(Faust, statsmodels, reportlab) inside ``func`` so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from slaengine import __version__
from slaengine.errors import SlaEngineError

COMMAND_MODULES = [
    "slaengine.commands.worker",
    "slaengine.commands.produce",
    "slaengine.commands.generate",
    "slaengine.commands.compute",
    "slaengine.commands.report",
    "slaengine.commands.forecast",
    "slaengine.commands.rules",
    "slaengine.router.cli",
    "slaengine.commands.pagerduty",
]


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse that prints ``slaengine: error: ...`` in one line (no usage dump) and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="slaengine", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--version", action="version", version=f"slaengine {__version__}")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=OneLineErrorParser
    )
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except SlaEngineError as err:
        print(f"slaengine {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
