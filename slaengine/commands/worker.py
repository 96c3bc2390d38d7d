"""``slaengine worker``: the Faust worker with slaengine's HTTP API in the same process."""

from __future__ import annotations

import argparse

from slaengine.settings import add_settings_arguments, env_default


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("worker", help="run a stream-processing worker and the HTTP API",
                                   description="Consumes sla.requests, sla.orders and sla.resources, keeps SLIs in "
                                               "changelog-backed tables and serves /health, /metrics and /api.")
    add_settings_arguments(parser)
    parser.add_argument("--worker-id", default=env_default("SLAENGINE_WORKER_ID", "worker-1"),
                        help="name of this worker; separates its local state directory")
    parser.add_argument("--flush-interval", type=float, default=0.5,
                        help="seconds between state flushes per partition (default 0.5)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from slaengine.config import load_sla_config
    from slaengine.settings import settings_from_args
    from streams.runner import run_worker

    config = load_sla_config(args.config)
    settings = settings_from_args(args, worker_id=args.worker_id, flush_interval_s=args.flush_interval)
    return run_worker(settings, config)
