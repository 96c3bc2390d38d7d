"""Where the global view's memory goes after a history, by file and line (issue 14).

    python bench/view_memory.py SLO_CONFIG EVENTS.ndjson [--partitions 4] [--top 15]

Applies the log to a stage-1 engine as ``bench/state_memory.py`` does (round robin by line over
``--partitions`` partitions of each topic), compacts it, and puts one flush of everything — the
newest record of every key, what a compacted changelog holds — through a real ``GlobalView``
(JSON bytes, as read from Kafka; nothing is read from Kafka) under tracemalloc. Prints the
view's traced memory, the largest allocation sites and the hour buckets it holds decoded.
``--cold-dir DIR``: the view keeps its cold hours in a RocksDB there (as a worker does).
The bench's files: ``python bench/worker_vs_peers.py --history-only --history-months 1
--history-slos 50`` leaves ``slo-50.yaml`` and ``history.ndjson`` in its work directory.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import tracemalloc
from pathlib import Path
from typing import Any

from slaengine.batch import iter_lines, kind_of_event
from slaengine.config import load_sla_config
from slaengine.events import SOURCE_NAMES, decode_read, read_message
from slaengine.ingest import apply_decoded
from slaengine.sli.engine import SliEngine
from streams.global_view import GlobalView


def changelog_records(engine: SliEngine) -> list[tuple[bytes, bytes | None]]:
    """One flush of everything, encoded as the stage-1 tables write it."""
    return [
        (
            json.dumps(key).encode(),
            None if value is None else json.dumps(value, separators=(",", ":")).encode(),
        )
        for key, _, value in engine.take_changes()
    ]


def view_of(config: Any, records: list[tuple[bytes, bytes | None]], **kwargs: Any) -> GlobalView:
    view = GlobalView(config, "unused:9092", [], 4, **kwargs)
    for key, value in records:
        view.apply(key, value)
    view.settle()
    return view


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config")
    parser.add_argument("events")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--cold-dir", type=Path, default=None)
    args = parser.parse_args()
    config = load_sla_config(args.config)
    now_ms = int(time.time() * 1000) + 10**12  # accept every timestamp of the log
    engine = SliEngine(config)
    started = time.process_time()
    for number, raw in iter_lines(args.events):
        message = read_message(raw)
        kind = kind_of_event(message.document)
        source = f"{SOURCE_NAMES[kind]}:{number % args.partitions}"
        apply_decoded(engine, decode_read(kind, message, now_ms), source, number)
    engine.maintain()
    records = changelog_records(engine)
    del engine
    gc.collect()
    print(
        f"applied in {time.process_time() - started:.1f} s CPU; {len(records):,} records, "
        f"{sum(len(v or b'') for _, v in records) / 1e6:.1f} MB of JSON"
    )
    extra = {"cold_dir": args.cold_dir} if args.cold_dir is not None else {}
    tracemalloc.start()
    started = time.process_time()
    view = view_of(config, records, **extra)
    took = time.process_time() - started
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0]
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    hot = sum(len(hours) for hours in view.engine.series.values())
    print(
        f"view: {traced / 1e6:.1f} MB traced, {hot:,} hour buckets decoded, "
        f"built in {took:.1f} s CPU under tracemalloc"
    )
    for stat in snapshot.statistics("lineno")[: args.top]:
        frame = stat.traceback[0]
        print(
            f"  {stat.size / 1e6:8.1f} MB {stat.count:>10,} blocks  {frame.filename}:{frame.lineno}"
        )


if __name__ == "__main__":
    main()
