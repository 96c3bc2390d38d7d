"""``slaengine produce``: publish an NDJSON event log to Kafka."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from slaengine.settings import add_kafka_arguments


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "produce",
        help="publish events from an NDJSON file to Kafka",
        description="Each line is published keyed by service (or request_id) / order_id / "
        "resource; without --topic each event goes to the topic of its kind.",
    )
    parser.add_argument("file", type=Path, help="NDJSON or NDJSON.gz file")
    parser.add_argument("--topic", help="publish every line to this topic (default: by event kind)")
    add_kafka_arguments(parser)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="envelope up to N consecutive events of one partition into a JSON array "
        "message (each event still lands on the partition of its own key)",
    )
    parser.add_argument(
        "--request-key",
        choices=("service", "request_id"),
        default="service",
        help="key of request events: service (default; one partition per service) or "
        "request_id (a busy service spreads over every partition and worker)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from slaengine.errors import SlaEngineError
    from slaengine.events import SOURCE_NAMES
    from slaengine.kafka_io import partition_counts, plan_messages, publish

    if not args.file.exists():
        raise SlaEngineError(f"no such file: {args.file}")
    if args.batch_size < 1 or args.partitions < 1:
        raise SlaEngineError("--batch-size and --partitions must be at least 1")
    topics = [args.topic] if args.topic else [f"{args.topic_prefix}{kind}" for kind in SOURCE_NAMES]
    partitions = (
        asyncio.run(partition_counts(args.bootstrap, topics, args.partitions))
        if args.batch_size > 1
        else {}
    )
    messages = plan_messages(
        args.file, args.topic, args.topic_prefix, args.batch_size, partitions, args.request_key
    )
    with tqdm(unit="msg", desc="producing", disable=args.no_progress) as progress:
        sent = asyncio.run(publish(args.bootstrap, messages, on_sent=progress.update))
    print(f"published {sent} messages from {args.file}")
    return 0
