"""``slaengine worker``: the Faust worker with slaengine's HTTP API in the same process."""

from __future__ import annotations

import argparse

from slaengine.settings import add_settings_arguments, add_worker_arguments


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run a stream-processing worker and the HTTP API",
        description="Consumes sla.requests, sla.orders and sla.resources, keeps SLIs in "
        "changelog-backed tables and serves /health, /metrics and /api.",
    )
    add_settings_arguments(parser)
    add_worker_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from slaengine.config import load_sla_config
    from slaengine.settings import settings_from_args
    from streams.runner import run_worker

    config = load_sla_config(args.config)
    settings = settings_from_args(args)
    return run_worker(settings, config)
